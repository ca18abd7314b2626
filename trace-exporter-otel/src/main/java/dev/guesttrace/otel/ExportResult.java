package dev.guesttrace.otel;

import java.util.List;
import java.util.Objects;

/**
 * What an export did. Exporting never throws for a backend that is down, slow or refusing: every
 * span is counted either as sent or as failed, and every span the shaping left out is counted as
 * summarized, so nothing is dropped silently.
 *
 * @param target where the spans went, e.g. {@code grpc http://localhost:4317}
 * @param traceIdHex the run's trace id, 32 lowercase hex digits, as backends show it
 * @param spansTotal spans to send over all traces, the synthetic run span included when there is
 *     one (spans summarized instead are not in it)
 * @param spansSent spans the backend acknowledged
 * @param spansFailed spans that were not delivered ({@code spansTotal - spansSent})
 * @param eventsDropped span events left out because a span had more than the per-span limit
 * @param failure one line saying why spans failed, or {@code null} when none did
 * @param traces traces made: 1 per run, plus 1 per guest call in per-call mode
 * @param callTraceIdsHex the per-call traces' ids in call order (at most the first 1,000)
 * @param spansSummarized spans not sent but summarized on a sent ancestor ({@code
 *     guesttrace.cut.*})
 * @param summarizingSpans sent spans that carry such a summary
 * @param eventsSummarized events of the summarized spans
 * @param limits the shaping limits in words, e.g. {@code at most 10000 spans and ~4000000 bytes per
 *     trace}
 */
public record ExportResult(
    String target,
    String traceIdHex,
    long spansTotal,
    long spansSent,
    long spansFailed,
    long eventsDropped,
    String failure,
    long traces,
    List<String> callTraceIdsHex,
    long spansSummarized,
    long summarizingSpans,
    long eventsSummarized,
    String limits) {

  /** Checks the counts add up. */
  public ExportResult {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(traceIdHex, "traceIdHex");
    callTraceIdsHex = List.copyOf(callTraceIdsHex);
    Objects.requireNonNull(limits, "limits");
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

  /** The result of an export of one trace with nothing summarized (the shape before shaping). */
  public ExportResult(
      String target,
      String traceIdHex,
      long spansTotal,
      long spansSent,
      long spansFailed,
      long eventsDropped,
      String failure) {
    this(
        target,
        traceIdHex,
        spansTotal,
        spansSent,
        spansFailed,
        eventsDropped,
        failure,
        1,
        List.of(),
        0,
        0,
        0,
        "no span limit per trace");
  }

  /** Whether every span was delivered. */
  public boolean isSuccess() {
    return spansFailed == 0 && failure == null;
  }

  /**
   * One line for the user, e.g. {@code exported 1234 spans to grpc http://localhost:4317, trace
   * 4bf92f3577b34da6a3ce929d0e0e4736}, with the traces made and what was summarized when there is
   * something to say, or {@code OTLP export to grpc http://localhost:4317 failed: 0 of 1234 spans
   * sent, 1234 failed: connection refused}.
   */
  public String summary() {
    String dropped = eventsDropped == 0 ? "" : " (" + eventsDropped + " events over the limit)";
    String summarized =
        spansSummarized == 0
            ? ""
            : "; "
                + spansSummarized
                + " more spans"
                + (eventsSummarized == 0 ? "" : " (" + eventsSummarized + " events)")
                + " summarized on "
                + summarizingSpans
                + " parent spans (guesttrace.cut.*): "
                + limits;
    if (isSuccess()) {
      String traceWord =
          traces == 1
              ? ", trace " + traceIdHex
              : " in "
                  + traces
                  + " traces (the run's and "
                  + (traces - 1)
                  + " calls'), run trace "
                  + traceIdHex;
      return "exported " + spansSent + " spans to " + target + traceWord + dropped + summarized;
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
