package dev.guesttrace.otel;

import java.util.Locale;

/** How a run is cut into traces. */
public enum TraceMode {
  /** One trace per run: run span, guest calls and everything below them. */
  PER_RUN,
  /**
   * One trace for the run (its run spans, boot, and each guest call as a leaf) and one trace per
   * guest call (the call and everything below it), the two linked both ways with span links, so a
   * slow call is a trace of its own in a backend's trace search.
   */
  PER_CALL;

  /** The command-line spelling: {@code per-run}, {@code per-call}. */
  public String flagValue() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /**
   * Parses {@code per-run} or {@code per-call}.
   *
   * @throws IllegalArgumentException for anything else, naming the value
   */
  public static TraceMode parse(String value) {
    for (TraceMode mode : values()) {
      if (mode.flagValue().equals(value)) {
        return mode;
      }
    }
    throw new IllegalArgumentException(
        "unknown trace mode: '" + value + "' (expected per-run or per-call)");
  }
}
