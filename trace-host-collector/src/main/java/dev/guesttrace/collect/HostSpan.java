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
 */
public record HostSpan(
    int vcpu, SpanKind kind, String name, long startHostNanos, long endHostNanos) {

  /** Checks the kind is a host kind and the end is not before the start. */
  public HostSpan {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(name, "name");
    if (!kind.isHost()) {
      throw new IllegalArgumentException("host span needs a host kind: kind=" + kind);
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
