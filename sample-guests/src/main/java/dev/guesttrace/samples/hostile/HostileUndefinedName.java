package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.guest.GuestRuntime;

/**
 * Records that name ids the name table never defined: a span begin and its end naming id 9999, and
 * a counter naming id 0xFFFFFFFF. Each is counted ({@code undefined_name}, three times) and kept;
 * views show such a name as a placeholder instead of failing.
 */
public final class HostileUndefinedName extends HostileGuest {
  /** The undefined id the span names. */
  public static final int UNDEFINED_ID = 9999;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileUndefinedName() {}

  @Override
  public String name() {
    return "hostile-undefined-name";
  }

  @Override
  public String summary() {
    return "Writes a span and a counter that name ids the name table never defined";
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    long s = raw.reserve(3);
    raw.record(s, RecordKind.SPAN_BEGIN, UNDEFINED_ID);
    raw.record(s + 1, RecordKind.COUNTER, 0xFFFF_FFFF);
    raw.record(s + 2, RecordKind.SPAN_END, UNDEFINED_ID);
    raw.tracer.flush();
  }
}
