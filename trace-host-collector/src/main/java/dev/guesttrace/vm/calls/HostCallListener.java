package dev.guesttrace.vm.calls;

/** Sees every host call a guest makes, e.g. to put a HOST_CALL span in the trace. */
@FunctionalInterface
public interface HostCallListener {
  /**
   * A host call finished.
   *
   * @param vcpuId the calling vCPU
   * @param function the function name the guest asked for ({@code <malformed>} if unreadable)
   * @param startNanos host {@link System#nanoTime()} when the exit reached the handler
   * @param endNanos host {@link System#nanoTime()} when the result was written back
   * @param error empty string on success, else the one-line error the guest got
   */
  void onHostCall(int vcpuId, String function, long startNanos, long endNanos, String error);
}
