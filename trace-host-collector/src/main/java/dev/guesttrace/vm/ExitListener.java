package dev.guesttrace.vm;

/**
 * Sees every OUT exit before it is routed, e.g. to drain trace rings on any exit without the guest
 * flushing. Runs on the vCPU's exit path: keep it short.
 */
@FunctionalInterface
public interface ExitListener {
  /** An OUT exit on {@code port} with {@code value}, before its port handler runs. */
  void onExit(VcpuState vcpu, int port, int value);
}
