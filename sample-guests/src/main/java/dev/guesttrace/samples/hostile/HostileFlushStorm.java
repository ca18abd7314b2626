package dev.guesttrace.samples.hostile;

import dev.guesttrace.guest.GuestRuntime;

/**
 * A flush storm: flushes as fast as it can, {@code --arg flushes=N} times (default 1,000,000), or
 * for {@code --arg seconds=S} of guest time if given, with nothing new in the ring. Every flush is
 * an exit with a calibration pair; the host must keep its memory flat (pairs are thinned
 * logarithmically beyond 16384 per vCPU) and its drains cheap.
 */
public final class HostileFlushStorm extends HostileGuest {
  /** Flushes unless {@code --arg flushes=N} or {@code --arg seconds=S}. */
  public static final long DEFAULT_FLUSHES = 1_000_000;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileFlushStorm() {}

  @Override
  public String name() {
    return "hostile-flush-storm";
  }

  @Override
  public String summary() {
    return "Flushes its empty ring as fast as it can";
  }

  @Override
  public java.util.List<String> args() {
    return java.util.List.of(
        "flushes=N (flushes, default 1000000)",
        "seconds=N (flush for this long instead, default 0: count flushes)");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    long seconds = longArg(runtime, "seconds", 0);
    if (seconds > 0) {
      // Host time through the guest's own clock would need calibration; nanoTime is what a test
      // that measures the host wants, and the guest reads the TSC at every flush anyway.
      long deadline = System.nanoTime() + seconds * 1_000_000_000L;
      while (System.nanoTime() < deadline) {
        raw.flushNaming(raw.region);
      }
      return;
    }
    long flushes = longArg(runtime, "flushes", DEFAULT_FLUSHES);
    for (long i = 0; i < flushes; i++) {
      raw.flushNaming(raw.region);
    }
  }
}
