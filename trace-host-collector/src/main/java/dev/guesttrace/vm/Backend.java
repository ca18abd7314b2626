package dev.guesttrace.vm;

/**
 * A way to run guests: the emulated micro-VM (Java guests, runs anywhere) or KVM (native guests,
 * where {@code /dev/kvm} exists). Both give the host the same things: guest memory, vCPUs with
 * registers, and exits.
 */
public interface Backend {
  /** The name used on the command line: {@code emulated} or {@code kvm}. */
  String name();

  /**
   * Whether this backend can run here, and if not, why not (one line, e.g. {@code "no /dev/kvm"}).
   *
   * @return empty if available, otherwise the reason
   */
  java.util.Optional<String> unavailableReason();

  /**
   * Creates a VM for {@code guest} with {@code config}.
   *
   * @throws VmException if the VM cannot be created (the message is one line)
   */
  Vm create(VmConfig config, GuestSource guest) throws VmException;
}
