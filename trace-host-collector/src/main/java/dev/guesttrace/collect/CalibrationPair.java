package dev.guesttrace.collect;

import java.util.Objects;

/**
 * One calibration sample: a guest TSC reading and the host's monotonic time ({@link
 * System#nanoTime()}) that belongs with it. Where the pair came from decides which way its error
 * can go, and so how the clock fit may use it ({@link Source}).
 *
 * @param vcpu the vCPU whose TSC was read (vCPUs may have distinct TSC offsets)
 * @param guestTscTicks the guest TSC reading
 * @param hostNanos host monotonic time, ns, as the source defines it
 * @param source who read the guest TSC, and when
 */
public record CalibrationPair(int vcpu, long guestTscTicks, long hostNanos, Source source) {

  /** A pair the guest supplied in {@code RCX} at an OUT exit ({@link Source#GUEST_EXIT}). */
  public CalibrationPair(int vcpu, long guestTscTicks, long hostNanos) {
    this(vcpu, guestTscTicks, hostNanos, Source.GUEST_EXIT);
  }

  /** Checks the source is given. */
  public CalibrationPair {
    Objects.requireNonNull(source, "source");
  }

  /** Who read the guest TSC, and so which way the pair's host time can be off. */
  public enum Source {
    /**
     * The guest read its TSC just before an OUT and passed it in {@code RCX}; the host time is when
     * the host saw the exit: later than the guest's reading, never earlier (an upper bound).
     */
    GUEST_EXIT,
    /**
     * The host read the paused vCPU's guest TSC itself (the emulated backend's TSC function, KVM's
     * TSC MSR or offset/scale) right after a VM exit: the guest ran no instruction between, so the
     * host time is exact within the host's read window.
     */
    HOST_AT_EXIT,
    /**
     * The host read the guest TSC itself right before a VM entry (boot, call, resume): the guest
     * had not yet run, so the host time is exact within the host's read window.
     */
    HOST_AT_ENTRY
  }
}
