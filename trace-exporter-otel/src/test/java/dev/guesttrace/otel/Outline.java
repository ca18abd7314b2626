package dev.guesttrace.otel;

import dev.guesttrace.span.SpanNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders spans received by a backend (SDK, OTLP protobuf or Zipkin JSON, each mapped to {@link
 * Received}) as an indented outline with start offsets and durations, so a test can compare a whole
 * tree, parent links included, with one assertion.
 */
final class Outline {
  private Outline() {}

  /** A span as a receiver saw it; times in ns since the epoch. */
  record Received(
      String spanId, String parentSpanId, String name, long startNanos, long endNanos) {}

  /** Siblings in start order; name and end break ties so the order is total. */
  static final Comparator<Received> RECEIVED_ORDER =
      Comparator.comparingLong(Received::startNanos)
          .thenComparing(Received::name)
          .thenComparingLong(Received::endNanos);

  static final Comparator<SpanNode> NODE_ORDER =
      Comparator.comparingLong(SpanNode::startNanos)
          .thenComparing(SpanNode::name)
          .thenComparingLong(SpanNode::endNanos);

  /**
   * The outline: one line per span, {@code name [startOffset +duration]} indented two spaces per
   * level, in ns (or rounded to {@code unitNanos}). Spans whose parent was not received are listed
   * as extra roots, so a broken parent link shows.
   */
  static String render(List<Received> spans, long epochNanos) {
    Map<String, Received> byId = new HashMap<>();
    for (Received span : spans) {
      byId.put(span.spanId(), span);
    }
    Map<String, List<Received>> children = new HashMap<>();
    List<Received> roots = new ArrayList<>();
    for (Received span : spans) {
      if (span.parentSpanId() == null || !byId.containsKey(span.parentSpanId())) {
        roots.add(span);
      } else {
        children.computeIfAbsent(span.parentSpanId(), k -> new ArrayList<>()).add(span);
      }
    }
    roots.sort(RECEIVED_ORDER);
    StringBuilder out = new StringBuilder();
    for (Received root : roots) {
      append(out, root, 0, children, epochNanos);
    }
    return out.toString();
  }

  private static void append(
      StringBuilder out,
      Received span,
      int level,
      Map<String, List<Received>> children,
      long epochNanos) {
    out.append("  ".repeat(level))
        .append(span.name())
        .append(" [")
        .append(span.startNanos() - epochNanos)
        .append(" +")
        .append(span.endNanos() - span.startNanos())
        .append("]\n");
    List<Received> mine = new ArrayList<>(children.getOrDefault(span.spanId(), List.of()));
    mine.sort(RECEIVED_ORDER);
    for (Received child : mine) {
      append(out, child, level + 1, children, epochNanos);
    }
  }
}
