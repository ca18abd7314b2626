package dev.guesttrace.vm.emulated;

import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Objects;
import java.util.Optional;
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
 * <p>The host's TSC rate, needed to scale the hardware source, is measured once per process (20 ms
 * against {@code System.nanoTime()}) and stays inside this class: the collector is never handed the
 * true rate, it has to calibrate.
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
   * The guest TSC for {@code config}. With {@link TscSource#HARDWARE} and scaling requested, the
   * first call in a process measures the host TSC rate (about 20 ms).
   *
   * @throws IllegalArgumentException if the requested rate needs a ratio the 16.48 multiplier
   *     cannot hold (more than 32767 times the source rate, or less than 2^-40 of it)
   */
  public static GuestTsc create(TscConfig config) {
    Objects.requireNonNull(config, "config");
    boolean hardware = config.source() == TscSource.HARDWARE && RdtscStub.available();
    long multiplier = ONE;
    if (config.ticksPerSecond() > 0) {
      double sourceRate = hardware ? HostTscRate.TICKS_PER_SECOND : VIRTUAL_TICKS_PER_SECOND;
      multiplier = multiplierFor(config.ticksPerSecond(), sourceRate);
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
    return ticksAt(sourceTicks(vcpuId), vcpuId);
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
   * Test truth, {@link TscSource#VIRTUAL} only: the guest TSC vCPU {@code vcpuId} read (or would
   * have read) at host time {@code nanoTime} ({@link System#nanoTime()}). Exact: a guest's {@code
   * rdtsc} between two {@code nanoTime()} reads {@code t0 <= t1} lies in {@code
   * [guestTicksAtNanoTime(t0), guestTicksAtNanoTime(t1)]}.
   *
   * @throws IllegalStateException if the source is the hardware TSC or the stepped counter, which
   *     have no exact host-time truth
   */
  public long guestTicksAtNanoTime(long nanoTime, int vcpuId) {
    if (hardware || stepped) {
      throw new IllegalStateException(
          "the " + effectiveSource() + " TSC source has no exact host-time truth");
    }
    return ticksAt(nanoTime - VIRTUAL_ORIGIN_NANOS, vcpuId);
  }

  /**
   * Test truth: the guest TSC rate this VM presents. Exact for {@link TscSource#VIRTUAL} (the
   * quantized multiplier times 10^9; the stepped source counts as 10^9 too); for the hardware
   * source an estimate from the one-off measurement. Never hand it to the collector: it must
   * calibrate.
   */
  public double ticksPerSecond() {
    double sourceRate = hardware ? HostTscRate.TICKS_PER_SECOND : VIRTUAL_TICKS_PER_SECOND;
    return scaled ? sourceRate * ((double) multiplier / ONE) : sourceRate;
  }

  /** The source actually used: {@link TscSource#VIRTUAL} when the hardware stub is unavailable. */
  public TscSource effectiveSource() {
    return hardware ? TscSource.HARDWARE : stepped ? TscSource.STEPPED : TscSource.VIRTUAL;
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

  /** The host TSC rate, measured once, on first use, only when hardware scaling is asked for. */
  private static final class HostTscRate {
    static final double TICKS_PER_SECOND = measure();

    private static double measure() {
      long before0 = System.nanoTime();
      long ticks0 = RdtscStub.rdtsc();
      long after0 = System.nanoTime();
      long deadline = after0 + 20_000_000L;
      long before1;
      do {
        Thread.onSpinWait();
        before1 = System.nanoTime();
      } while (before1 < deadline);
      long ticks1 = RdtscStub.rdtsc();
      long after1 = System.nanoTime();
      // Each TSC read sits between two nanoTime reads: take the midpoints.
      double nanos = (before1 + after1) / 2.0 - (before0 + after0) / 2.0;
      return (ticks1 - ticks0) * 1e9 / nanos;
    }
  }
}
