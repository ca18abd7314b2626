package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;

/**
 * What the hostile guests share: at boot each writes a valid {@code before} span, misbehaves, then
 * writes a valid {@code after} span, so a test can check that the records around the bad ones are
 * kept. Their guest call does nothing and returns 0.
 */
abstract class HostileGuest implements GuestProgram {
  /** Name of the valid span written before the misbehaviour. */
  static final String BEFORE = "before";

  /** Name of the valid span written after it. */
  static final String AFTER = "after";

  @Override
  public final void main(GuestRuntime runtime) {
    Tracer t = runtime.tracer();
    int before = t.name(BEFORE);
    int after = t.name(AFTER);
    prepare(runtime);
    t.begin(before);
    t.end(before);
    misbehave(runtime);
    t.begin(after);
    t.end(after);
  }

  /** Interns the names the guest needs before any raw write (the table is append-only). */
  void prepare(GuestRuntime runtime) {}

  /** The bad input this guest produces, between the two valid spans. */
  abstract void misbehave(GuestRuntime runtime);

  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    return 0L;
  }

  /** A numeric {@code --arg}, or {@code fallback} if absent or not a number. */
  static long longArg(GuestRuntime runtime, String key, long fallback) {
    try {
      return Long.parseLong(runtime.arg(key, Long.toString(fallback)).trim());
    } catch (NumberFormatException e) {
      return fallback;
    }
  }
}
