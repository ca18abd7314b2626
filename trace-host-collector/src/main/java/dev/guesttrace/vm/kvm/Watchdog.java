package dev.guesttrace.vm.kvm;

import dev.guesttrace.vm.kvm.Native.NativeException;
import java.lang.foreign.Arena;

/**
 * The signal that stops a runaway vCPU. A blocked {@code KVM_RUN} returns {@code EINTR} when its
 * thread receives a signal that has a handler; the handler itself does nothing. A real-time signal
 * above {@code SIGRTMIN} is used because the JVM claims none of them (it uses SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGQUIT, SIGUSR2 and the termination signals).
 */
final class Watchdog {
  /** Offset above SIGRTMIN; glibc reserves the two below SIGRTMIN for itself. */
  private static final int SIGRTMIN_OFFSET = 6;

  private static int signal;

  private Watchdog() {}

  /** Installs the no-op handler once per process. */
  static synchronized void ensureSignalHandler() throws NativeException {
    if (signal != 0) {
      return;
    }
    int candidate = Native.sigrtmin() + SIGRTMIN_OFFSET;
    try (Arena arena = Arena.ofConfined()) {
      Native.installNoopHandler(candidate, arena);
    }
    signal = candidate;
  }

  /** The signal number, once installed. */
  static synchronized int signal() {
    return signal;
  }
}
