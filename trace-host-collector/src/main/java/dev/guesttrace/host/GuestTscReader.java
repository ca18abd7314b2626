package dev.guesttrace.host;

/**
 * Reads a paused vCPU's guest TSC from the host side: the value the guest would read with {@code
 * RDTSC} if it ran now. Given one, the tracer pairs a reading with host time at every VM entry and
 * exit, so the guest clock is calibrated in every mode without the guest's help.
 *
 * <p>KVM: the host TSC scaled and offset as KVM applies it (or the vCPU's TSC MSR); an emulator:
 * its TSC function. Called on the vCPU's thread with the vCPU paused; must be fast (it sits on the
 * exit path) and must not fail.
 */
@FunctionalInterface
public interface GuestTscReader {
  /** The guest TSC of vCPU {@code vcpu}, now. */
  long readGuestTsc(int vcpu);
}
