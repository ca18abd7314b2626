package dev.guesttrace.samples;

import dev.guesttrace.guest.GuestRuntime;

/** What the sample guests share: the {@code slow} knob and the reply to an unknown function. */
final class Samples {
  /** Extra time a function named by {@code --arg slow=NAME} spends, unless {@code slowMicros}. */
  static final long DEFAULT_SLOW_MICROS = 50;

  private Samples() {}

  /** Whether {@code --arg slow=...} names {@code function} (case-insensitive). */
  static boolean isSlow(GuestRuntime runtime, String function) {
    return runtime.arg("slow", "").equalsIgnoreCase(function);
  }

  /**
   * Busy-waits {@code --arg slowMicros} (default 50) microseconds of host time. Reads the TSC in
   * the loop, as a spinning guest would, so the host can still stop it.
   */
  static void spin(GuestRuntime runtime) {
    long micros = longArg(runtime, "slowMicros", DEFAULT_SLOW_MICROS, 0, 1_000_000);
    long deadline = System.nanoTime() + micros * 1000;
    while (System.nanoTime() < deadline) {
      runtime.cpu().rdtsc();
    }
  }

  /** A numeric {@code --arg}, clamped to {@code min..max}; {@code fallback} if absent or bad. */
  static long longArg(GuestRuntime runtime, String key, long fallback, long min, long max) {
    String text = runtime.arg(key, "");
    long value;
    try {
      value = text.isEmpty() ? fallback : Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      value = fallback;
    }
    return Math.max(min, Math.min(max, value));
  }

  /** The return value of a call to a function the guest does not have. */
  static String unknownFunction(String name) {
    return "error: unknown guest function: " + name;
  }
}
