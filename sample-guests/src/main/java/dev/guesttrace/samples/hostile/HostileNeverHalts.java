package dev.guesttrace.samples.hostile;

import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.lang.foreign.ValueLayout;

/**
 * A guest that never halts, with records still unflushed: writes {@code --arg records=N} (default
 * 1000) counter records named {@code written} (values 0 to N-1), then spins forever. With {@code
 * --arg how=busy} (default) it reads the TSC while it spins, so the host's stop request reaches it
 * at the timeout; with {@code how=quiet} it only reads its own memory, never the TSC, a register or
 * a port, so the host must abandon it after a second timeout (it dies when the memory is closed
 * under it). Either way every record it wrote is recovered from its memory.
 */
public final class HostileNeverHalts extends HostileGuest {
  /** Name of the counter records written before spinning. */
  public static final String WRITTEN = "written";

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileNeverHalts() {}

  @Override
  public String name() {
    return "hostile-never-halts";
  }

  @Override
  public String summary() {
    return "Writes N records without flushing, then spins forever";
  }

  @Override
  public java.util.List<String> args() {
    return java.util.List.of(
        "records=N (records written before it spins, default 1000)",
        "how=busy|quiet (how it spins, default busy)");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    writeCounters(runtime, longArg(runtime, "records", 1000));
    if (runtime.arg("how", "busy").equals("quiet")) {
      long sum = 0;
      while (sum != -1) {
        sum += runtime.cpu().memory().get(ValueLayout.JAVA_BYTE, 0);
      }
    }
    while (true) {
      runtime.cpu().rdtsc();
    }
  }

  /** Writes {@code n} counter records named {@link #WRITTEN} with values 0 to n-1. */
  static void writeCounters(GuestRuntime runtime, long n) {
    Tracer t = runtime.tracer();
    int written = t.name(WRITTEN);
    for (long i = 0; i < n; i++) {
      t.counter(written, i);
    }
  }
}
