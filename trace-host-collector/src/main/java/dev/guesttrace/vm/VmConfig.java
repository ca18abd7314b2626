package dev.guesttrace.vm;

import java.time.Duration;
import java.util.Objects;

/**
 * How to build a VM.
 *
 * @param memoryBytes guest physical memory in bytes
 * @param vcpus number of vCPUs, 1 to {@link #MAX_VCPUS}
 * @param timeout a vCPU's entry (boot or one call) longer than this is stopped and reported
 * @param tsc the guest TSC as a hypervisor would present it (rate scaling and offsets)
 */
public record VmConfig(long memoryBytes, int vcpus, Duration timeout, TscConfig tsc) {
  /** Most vCPUs per VM. */
  public static final int MAX_VCPUS = 64;

  /** Least guest memory a VM takes. */
  public static final long MIN_MEMORY_BYTES = 1 << 20;

  /** Checks ranges. */
  public VmConfig {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(tsc, "tsc");
    if (vcpus < 1 || vcpus > MAX_VCPUS) {
      throw new IllegalArgumentException("vcpus must be 1.." + MAX_VCPUS + ": vcpus=" + vcpus);
    }
    if (memoryBytes < MIN_MEMORY_BYTES) {
      throw new IllegalArgumentException(
          "memoryBytes must be at least 1 MiB: memoryBytes=" + memoryBytes);
    }
  }

  /**
   * The guest TSC: {@code guestTsc = sourceTicks * scale + offsetTicks + vcpuOffsetTicks * vcpuId}.
   *
   * @param ticksPerSecond the guest TSC rate to present, or 0 for the host's own rate (no scaling)
   * @param offsetTicks added to every vCPU's TSC (a hypervisor's TSC offset)
   * @param vcpuOffsetTicks extra offset per vCPU index, so multi-vCPU guests see distinct TSCs
   * @param source where raw ticks come from
   */
  public record TscConfig(
      double ticksPerSecond, long offsetTicks, long vcpuOffsetTicks, TscSource source) {
    /** The host's TSC as is. */
    public static final TscConfig HOST = new TscConfig(0, 0, 0, TscSource.HARDWARE);

    /** Checks the source. */
    public TscConfig {
      Objects.requireNonNull(source, "source");
      if (ticksPerSecond < 0 || Double.isNaN(ticksPerSecond)) {
        throw new IllegalArgumentException("ticksPerSecond must be >= 0: " + ticksPerSecond);
      }
    }
  }

  /** Where the emulated TSC's raw ticks come from. */
  public enum TscSource {
    /** The real TSC ({@code rdtsc} through an FFM stub) where available, else {@link #VIRTUAL}. */
    HARDWARE,
    /**
     * A counter derived from {@link System#nanoTime()}: 1 tick per ns before scaling. Exact, so
     * tests know the truth the collector must find.
     */
    VIRTUAL,
    /**
     * Deterministic: each read of a vCPU's TSC advances that vCPU's own counter by a fixed step
     * (1000 ticks before scaling), whatever the time, so a guest's timestamps depend only on what
     * it executes. For golden tests, together with a host clock that is deterministic too.
     */
    STEPPED
  }
}
