package dev.guesttrace.otel;

import java.util.Objects;

/**
 * What an export did. Exporting never throws for a backend that is down, slow or refusing: every
 * span is counted either as sent or as failed, so nothing is dropped silently.
 *
 * @param target where the spans went, e.g. {@code grpc http://localhost:4317}
 * @param traceIdHex the run's trace id, 32 lowercase hex digits, as backends show it
 * @param spansTotal spans in the trace, the synthetic run span included when there is one
 * @param spansSent spans the backend acknowledged
 * @param spansFailed spans that were not delivered ({@code spansTotal - spansSent})
 * @param eventsDropped span events left out because a span had more than the per-span limit
 * @param failure one line saying why spans failed, or {@code null} when none did
 */
public record ExportResult(
    String target,
    String traceIdHex,
    long spansTotal,
    long spansSent,
    long spansFailed,
    long eventsDropped,
    String failure) {

  /** Checks the counts add up. */
  public ExportResult {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(traceIdHex, "traceIdHex");
    if (spansSent + spansFailed != spansTotal) {
      throw new IllegalArgumentException(
          "spansSent + spansFailed != spansTotal: spansSent="
              + spansSent
              + " spansFailed="
              + spansFailed
              + " spansTotal="
              + spansTotal);
    }
  }

  /** Whether every span was delivered. */
  public boolean isSuccess() {
    return spansFailed == 0 && failure == null;
  }

  /**
   * One line for the user, e.g. {@code exported 1234 spans to grpc http://localhost:4317, trace
   * 4bf92f3577b34da6a3ce929d0e0e4736} or {@code OTLP export to grpc http://localhost:4317 failed: 0
   * of 1234 spans sent, 1234 failed: connection refused}.
   */
  public String summary() {
    String dropped = eventsDropped == 0 ? "" : " (" + eventsDropped + " events over the limit)";
    if (isSuccess()) {
      return "exported " + spansSent + " spans to " + target + ", trace " + traceIdHex + dropped;
    }
    return "OTLP export to "
        + target
        + " failed: "
        + spansSent
        + " of "
        + spansTotal
        + " spans sent, "
        + spansFailed
        + " failed"
        + (failure == null ? "" : ": " + failure);
  }
}
