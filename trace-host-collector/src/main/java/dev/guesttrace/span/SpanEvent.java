package dev.guesttrace.span;

/**
 * A point event inside a span: a message, an allocation, a free or a counter sample.
 *
 * @param timeNanos calibrated host time, nanoseconds since the run started
 * @param kind what happened
 * @param text the message text, or the counter's name; empty for alloc and free
 * @param address alloc/free: guest address; counter: 0
 * @param value alloc/free: size in bytes; counter: its value
 */
public record SpanEvent(long timeNanos, Kind kind, String text, long address, long value) {
  /** The kinds of point events. */
  public enum Kind {
    MESSAGE,
    ALLOC,
    FREE,
    COUNTER
  }
}
