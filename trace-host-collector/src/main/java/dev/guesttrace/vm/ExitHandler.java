package dev.guesttrace.vm;

/** Handles port I/O exits, on the thread running the vCPU, while the vCPU is paused. */
@FunctionalInterface
public interface ExitHandler {
  /**
   * The guest executed {@code OUT port} with {@code value} (EAX).
   *
   * @param vcpu the exiting vCPU: its registers and the guest's memory
   * @return whether the guest continues or the run stops (abort)
   */
  ExitAction onOut(VcpuState vcpu, int port, int value);

  /**
   * The vCPU is about to enter the guest: the first entry of a run (boot or dispatch) and every
   * resume after an OUT. Called on the thread that runs the vCPU, with the vCPU paused, right
   * before the backend lets the guest run (a tracer reads the guest TSC here).
   */
  default void onEntry(VcpuState vcpu) {}

  /** What happens after an exit is handled. */
  enum ExitAction {
    /** The guest continues after its OUT. */
    RESUME,
    /** The run ends with {@link RunOutcome.Stopped}. */
    STOP
  }
}
