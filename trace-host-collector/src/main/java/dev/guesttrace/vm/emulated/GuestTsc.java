package dev.guesttrace.vm.emulated;

import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The time-stamp counter an emulated VM presents to its guest, built the way hardware TSC scaling
 * and offsetting build it (Intel VMX "TSC multiplier", AMD "TSC ratio"):
 *
 * <pre>
 *   guestTicks = (sourceTicks * multiplier) >> FRACTION_BITS + offsetTicks + vcpuOffsetTicks * vcpuId
 * </pre>
 *
 * <p>{@code multiplier} is a fixed-point ratio with {@link #FRACTION_BITS} fraction bits (as
 * Intel's 16.48 format), so the hot path is one 128-bit multiply ({@link Math#multiplyHigh}) and a
 * shift, no division. Without scaling ({@code ticksPerSecond == 0}) the multiply is skipped.
 *
 * <p>Source ticks come from the host's real TSC ({@link TscSource#HARDWARE}, an FFM {@code rdtsc}
 * stub on x86-64 Linux) or from a virtual counter, {@code System.nanoTime()} minus a process-wide
 * origin: one tick per ns ({@link TscSource#VIRTUAL}, also the fallback where the stub is not
 * available). The virtual source makes the guest's TSC an exact function of host time, which is
 * what known-answer calibration tests need: {@link #guestTicksAtNanoTime}. The stepped source
 * ({@link TscSource#STEPPED}) ignores time altogether: every read advances the vCPU's counter by
 * {@link #STEP_TICKS}, for golden tests.
 *
 * <p>Scaling ({@code --tsc-ghz}) is always applied to the nanosecond counter, for the hardware
 * source too. On Linux {@code System.nanoTime()} is {@code CLOCK_MONOTONIC}, which on x86 is the
 * host TSC times a ratio the kernel keeps calibrating: scaling it is scaling the real TSC by a
 * continuously calibrated rate, and the guest sees exactly the requested rate against host time,
 * however loaded the host. (Scaling {@code rdtsc} by a rate measured once, over 20 ms, as this
 * class once did, presented rates up to 2,900 ppm off under load, different in each run.) Only the
 * unscaled hardware source reads {@code rdtsc} itself: the guest then sees the host's TSC as is.
 */
public final class GuestTsc {
  /** Fraction bits of the fixed-point multiplier (Intel VMX uses 48). */
  public static final int FRACTION_BITS = 48;

  /** Source ticks a {@link TscSource#STEPPED} counter advances per read. */
  public static final long STEP_TICKS = 1000;

  private static final long ONE = 1L << FRACTION_BITS;
  private static final double VIRTUAL_TICKS_PER_SECOND = 1e9;

  /** Virtual source origin: virtual ticks are nanoseconds since this class was loaded. */
  private static final long VIRTUAL_ORIGIN_NANOS = System.nanoTime();

  private final TscConfig config;

  /** The source reads {@code rdtsc}: hardware source, unscaled, stub available. */
  private final boolean hardware;

  private final boolean stepped;
  private final boolean scaled;
  private final long multiplier;
  private final long offsetTicks;
  private final long vcpuOffsetTicks;

  /**
   * Per-vCPU counters of the stepped source. Atomic because a host thread may read a vCPU's TSC too
   * (a deterministic run's host clock): no step is ever lost or repeated.
   */
  private final AtomicLongArray steps;

  private GuestTsc(TscConfig config, boolean hardware, long multiplier) {
    this.config = config;
    this.hardware = hardware;
    this.stepped = config.source() == TscSource.STEPPED;
    this.steps = stepped ? new AtomicLongArray(VmConfig.MAX_VCPUS) : null;
    this.scaled = config.ticksPerSecond() > 0;
    this.multiplier = multiplier;
    this.offsetTicks = config.offsetTicks();
    this.vcpuOffsetTicks = config.vcpuOffsetTicks();
  }

  /**
   * The guest TSC for {@code config}.
   *
   * @throws IllegalArgumentException if the requested rate needs a ratio the 16.48 multiplier
   *     cannot hold (more than 32767 times the source rate, or less than 2^-40 of it)
   */
  public static GuestTsc create(TscConfig config) {
    Objects.requireNonNull(config, "config");
    boolean scaled = config.ticksPerSecond() > 0;
    boolean hardware = config.source() == TscSource.HARDWARE && !scaled && RdtscStub.available();
    long multiplier = ONE;
    if (scaled) {
      multiplier = multiplierFor(config.ticksPerSecond(), VIRTUAL_TICKS_PER_SECOND);
    }
    return new GuestTsc(config, hardware, multiplier);
  }

  /**
   * The fixed-point multiplier for a ratio {@code targetTicksPerSecond / sourceTicksPerSecond},
   * rounded to nearest.
   */
  static long multiplierFor(double targetTicksPerSecond, double sourceTicksPerSecond) {
    BigDecimal ratio =
        new BigDecimal(targetTicksPerSecond)
            .divide(new BigDecimal(sourceTicksPerSecond), 40, RoundingMode.HALF_EVEN);
    BigInteger fixed =
        ratio.multiply(new BigDecimal(ONE)).setScale(0, RoundingMode.HALF_EVEN).toBigInteger();
    if (fixed.signum() <= 0 || fixed.bitLength() > 63 || fixed.longValueExact() < (1L << 8)) {
      throw new IllegalArgumentException(
          "TSC rate out of range for scaling: ticksPerSecond="
              + targetTicksPerSecond
              + " sourceTicksPerSecond="
              + sourceTicksPerSecond);
    }
    return fixed.longValueExact();
  }

  /** Reads vCPU {@code vcpuId}'s TSC now. */
  public long read(int vcpuId) {
    // Every field is read before the downcall: the JIT must assume the call wrote memory, so a
    // field read after it is a reload (docs/performance.md, "The TSC read"). The hardware source
    // is never scaled (see create), so its ticks are the host TSC plus the offsets.
    long offset = offsetTicks(vcpuId);
    if (hardware) {
      return RdtscStub.rdtsc() + offset;
    }
    return ticksAt(sourceTicks(vcpuId), vcpuId);
  }

  /**
   * Whether {@link #read} is the host's {@code rdtsc} plus {@link #offsetTicks}, nothing else (the
   * unscaled hardware source).
   */
  boolean readsHardware() {
    return hardware;
  }

  /** What {@link #read} adds to the source ticks of vCPU {@code vcpuId} when not scaled. */
  long offsetTicks(int vcpuId) {
    return offsetTicks + vcpuOffsetTicks * vcpuId;
  }

  /**
   * The host's own read of vCPU {@code vcpuId}'s TSC while the vCPU is paused, for calibration
   * pairs taken at VM entries and exits ({@code HOST_AT_ENTRY}, {@code HOST_AT_EXIT}): the same
   * value a guest {@code rdtsc} would read now. The stepped counter is read without advancing it,
   * so that the host's reads do not change what a deterministic guest sees. Matches the host API's
   * {@code GuestTscReader} ({@code tsc::readGuestTsc}). Thread-safe.
   */
  public long readGuestTsc(int vcpuId) {
    if (stepped) {
      return ticksAt(steps.get(vcpuId), vcpuId);
    }
    return read(vcpuId);
  }

  /** Raw source ticks now: host TSC, virtual nanoseconds, or the vCPU's next step. */
  long sourceTicks(int vcpuId) {
    if (hardware) {
      return RdtscStub.rdtsc();
    }
    if (stepped) {
      return steps.addAndGet(vcpuId, STEP_TICKS);
    }
    return System.nanoTime() - VIRTUAL_ORIGIN_NANOS;
  }

  /**
   * The guest TSC of vCPU {@code vcpuId} when the source reads {@code sourceTicks}: the formula.
   */
  public long ticksAt(long sourceTicks, int vcpuId) {
    long ticks = scaled ? scale(sourceTicks, multiplier) : sourceTicks;
    return ticks + offsetTicks + vcpuOffsetTicks * vcpuId;
  }

  /**
   * {@code (sourceTicks * multiplier) >> FRACTION_BITS} over the full 128-bit product, rounding
   * toward negative infinity.
   */
  static long scale(long sourceTicks, long multiplier) {
    long high = Math.multiplyHigh(sourceTicks, multiplier);
    long low = sourceTicks * multiplier;
    return high << (64 - FRACTION_BITS) | low >>> FRACTION_BITS;
  }

  /**
   * Test truth, every source but the unscaled hardware one and the stepped one: the guest TSC vCPU
   * {@code vcpuId} read (or would have read) at host time {@code nanoTime} ({@link
   * System#nanoTime()}). Exact: a guest's {@code rdtsc} between two {@code nanoTime()} reads {@code
   * t0 <= t1} lies in {@code [guestTicksAtNanoTime(t0), guestTicksAtNanoTime(t1)]}.
   *
   * @throws IllegalStateException if the source is the unscaled hardware TSC or the stepped
   *     counter, which have no exact host-time truth
   */
  public long guestTicksAtNanoTime(long nanoTime, int vcpuId) {
    if (hardware || stepped) {
      throw new IllegalStateException(
          "the " + effectiveSource() + " TSC source has no exact host-time truth");
    }
    return ticksAt(nanoTime - VIRTUAL_ORIGIN_NANOS, vcpuId);
  }

  /**
   * Test truth: the guest TSC rate this VM presents against {@code System.nanoTime()}, exact
   * whenever the TSC is scaled (the quantized multiplier times 10^9, the hardware source too) and
   * for the unscaled virtual and stepped sources (10^9); empty for the unscaled hardware source,
   * whose rate is the host TSC's, which only a calibration can tell. Never hand it to the
   * collector: it must calibrate.
   */
  public OptionalDouble ticksPerSecond() {
    if (hardware) {
      return OptionalDouble.empty();
    }
    return OptionalDouble.of(
        scaled ? VIRTUAL_TICKS_PER_SECOND * ((double) multiplier / ONE) : VIRTUAL_TICKS_PER_SECOND);
  }

  /**
   * The source actually used: {@link TscSource#VIRTUAL} when the hardware stub is unavailable;
   * {@link TscSource#HARDWARE} scaled is the kernel's calibrated TSC clock (see the class comment).
   */
  public TscSource effectiveSource() {
    if (stepped) {
      return TscSource.STEPPED;
    }
    boolean hardwareAsked = config.source() == TscSource.HARDWARE && RdtscStub.available();
    return hardwareAsked ? TscSource.HARDWARE : TscSource.VIRTUAL;
  }

  /** The configuration this TSC was built from. */
  public TscConfig config() {
    return config;
  }

  /**
   * The fixed-point multiplier ({@link #FRACTION_BITS} fraction bits); {@code 1 << 48} unscaled.
   */
  public long multiplier() {
    return multiplier;
  }

  /** Whether this host can read its real TSC; empty if so, else why not (one line). */
  public static Optional<String> hardwareUnavailableReason() {
    return RdtscStub.unavailableReason();
  }
}
