package dev.guesttrace.collect;

import dev.guesttrace.span.SpanKind;
import java.util.Objects;

/**
 * A span the host measured on its own monotonic clock: a vCPU's whole run, one guest call, or one
 * host function handled during an exit. The tree builder nests guest spans around and inside them.
 *
 * @param vcpu the vCPU it belongs to
 * @param kind {@link SpanKind#HOST_RUN}, {@link SpanKind#HOST_GUEST_CALL} or {@link
 *     SpanKind#HOST_CALL}
 * @param name e.g. {@code run}, the guest function called, the host function called
 * @param startHostNanos start, {@link System#nanoTime()}
 * @param endHostNanos end, {@link System#nanoTime()}
 * @param recordPosition for work done during one exit (a host call, a trace exit): how many of the
 *     vCPU's records the collector had kept when the exit came, so that the tree builder nests the
 *     span inside the guest span open at that record, exactly, whatever the clock's error; -1 if
 *     unknown (then it is nested by time)
 */
public record HostSpan(
    int vcpu,
    SpanKind kind,
    String name,
    long startHostNanos,
    long endHostNanos,
    long recordPosition) {

  /** A host span placed by time only. */
  public HostSpan(int vcpu, SpanKind kind, String name, long startHostNanos, long endHostNanos) {
    this(vcpu, kind, name, startHostNanos, endHostNanos, -1);
  }

  /** Checks the kind is a host kind and the end is not before the start. */
  public HostSpan {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(name, "name");
    if (!kind.isHost()) {
      throw new IllegalArgumentException("host span needs a host kind: kind=" + kind);
    }
    if (recordPosition < -1) {
      throw new IllegalArgumentException("recordPosition must be >= -1: " + recordPosition);
    }
    if (endHostNanos < startHostNanos) {
      throw new IllegalArgumentException(
          "host span ends before it starts: start=" + startHostNanos + " end=" + endHostNanos);
    }
  }

  /** {@code endHostNanos - startHostNanos}. */
  public long durationNanos() {
    return endHostNanos - startHostNanos;
  }
}
