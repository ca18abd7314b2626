package dev.guesttrace.vm;

/** Handles OUT exits on one port, registered with an {@link ExitDispatcher}. */
@FunctionalInterface
public interface PortHandler {
  /**
   * The guest executed {@code OUT} on this handler's port.
   *
   * @param vcpu the paused vCPU (registers, guest memory: untrusted)
   * @param value the 32-bit value written (EAX)
   * @return whether the guest continues
   */
  ExitHandler.ExitAction handle(VcpuState vcpu, int value);
}
