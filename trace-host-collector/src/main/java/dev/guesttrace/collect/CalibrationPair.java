package dev.guesttrace.collect;

/**
 * One calibration sample: the guest TSC the guest passed in {@code RCX} at an exit, and the host's
 * {@link System#nanoTime()} when the host saw that exit.
 *
 * @param vcpu the exiting vCPU (vCPUs may have distinct TSC offsets)
 * @param guestTscTicks guest TSC read just before the OUT
 * @param hostNanos host monotonic time at the exit, ns
 */
public record CalibrationPair(int vcpu, long guestTscTicks, long hostNanos) {}
