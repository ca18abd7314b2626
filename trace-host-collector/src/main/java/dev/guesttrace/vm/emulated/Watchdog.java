package dev.guesttrace.vm.emulated;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Enforces the timeout of runs that execute on their caller's thread ({@link
 * EmulatedVm#startDriver}): one daemon thread per VM looks at its vCPUs every {@link #pollNanos},
 * stops a run that has gone on for the timeout and abandons one that has not stopped a timeout
 * later.
 *
 * <p>It polls rather than being armed per run so that a guest call costs no wake-up of another
 * thread: the runs themselves only publish their start. With no run in progress for a few rounds it
 * sleeps until the next run starts (one wake-up then).
 */
final class Watchdog {
  /** Idle rounds before the watchdog sleeps until the next run. */
  private static final int IDLE_ROUNDS = 8;

  private final EmulatedVcpu[] vcpus;
  private final long pollNanos;
  private final Thread thread;
  private volatile boolean sleeping;
  private volatile boolean closed;

  Watchdog(String guestName, EmulatedVcpu[] vcpus, Duration timeout) {
    this.vcpus = vcpus;
    // A run is stopped within 1/16 of its timeout past it (1 ms to 250 ms).
    this.pollNanos = Math.clamp(timeout.toNanos() / 16, 1_000_000L, 250_000_000L);
    this.thread =
        Thread.ofPlatform().daemon().name("vcpu-watchdog-" + guestName).unstarted(this::loop);
    thread.start();
  }

  /** A run started on a carrier: wakes the watchdog if it sleeps. */
  void runStarted() {
    if (sleeping) {
      LockSupport.unpark(thread);
    }
  }

  void close() {
    closed = true;
    LockSupport.unpark(thread);
  }

  private void loop() {
    int idle = 0;
    while (!closed) {
      boolean any = false;
      long now = System.nanoTime();
      for (EmulatedVcpu vcpu : vcpus) {
        try {
          any |= vcpu.watch(now);
        } catch (RuntimeException e) {
          any = true; // the abandonment report failed: the run is abandoned all the same
        }
      }
      idle = any ? 0 : idle + 1;
      if (idle < IDLE_ROUNDS) {
        LockSupport.parkNanos(this, pollNanos);
        continue;
      }
      sleeping = true;
      // Re-check after announcing the sleep: a run publishes its start, then reads sleeping.
      if (!anyRunning() && !closed) {
        LockSupport.park(this);
      }
      sleeping = false;
      idle = 0;
    }
  }

  private boolean anyRunning() {
    for (EmulatedVcpu vcpu : vcpus) {
      if (vcpu.runningInline()) {
        return true;
      }
    }
    return false;
  }
}
