package dev.guesttrace.vm.emulated;

/**
 * Unwinds guest code back to its vCPU thread: the emulated equivalent of a VM exit that does not
 * return to the guest. An {@link Error}, so that guest code catching {@code Exception} does not
 * swallow it; preallocated and without a stack trace, so that it costs nothing to throw.
 */
final class GuestExit extends Error {
  private static final long serialVersionUID = 1L;

  /** The guest executed HLT. */
  static final GuestExit HALT = new GuestExit("hlt");

  /** An exit handler returned STOP. */
  static final GuestExit STOP = new GuestExit("stop");

  /** The host asked the vCPU to stop (timeout or close). */
  static final GuestExit KILL = new GuestExit("kill");

  private GuestExit(String what) {
    super(what, null, false, false);
  }
}
