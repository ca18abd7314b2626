package dev.guesttrace.otel;

import dev.guesttrace.span.SpanNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What was not sent below one sent span: its children that were cut, with their subtrees. Put on
 * the span as {@code guesttrace.cut.*} attributes, so the time stays accounted for in the backend.
 */
final class CutSummary {
  /** Distinct names tracked per parent; more go into one "(other names)" entry. */
  static final int MAX_NAMES = 1_000;

  /** Heaviest names listed in {@code guesttrace.cut.heaviest}. */
  static final int HEAVIEST = 3;

  private long spans;
  private long durationNanos;
  private long events;
  private final Map<String, long[]> byName = new HashMap<>();

  /**
   * Adds a cut child and its whole subtree (iteratively), except below spans that are leaves of
   * this trace (per-call mode: guest calls, whose subtrees are traces of their own): those are
   * counted as one span and handed to {@code onLeaf}.
   */
  void add(SpanNode child, SpanSelection selection, Consumer<SpanNode> onLeaf) {
    durationNanos += Math.max(0, child.durationNanos());
    String name =
        byName.size() < MAX_NAMES || byName.containsKey(child.name())
            ? child.name()
            : "(other names)";
    long[] entry = byName.computeIfAbsent(name, k -> new long[2]);
    entry[0]++;
    entry[1] += Math.max(0, child.durationNanos());
    ArrayList<SpanNode> stack = new ArrayList<>();
    stack.add(child);
    while (!stack.isEmpty()) {
      SpanNode node = stack.removeLast();
      spans++;
      events += node.events().size();
      if (selection.isLeaf(node)) {
        onLeaf.accept(node);
      } else {
        stack.addAll(node.children());
      }
    }
  }

  boolean isEmpty() {
    return spans == 0;
  }

  /** Spans cut, the children's subtrees included. */
  long spans() {
    return spans;
  }

  /** Total duration of the cut children (their subtrees lie inside them). */
  long durationNanos() {
    return durationNanos;
  }

  /** Events of the cut spans. */
  long events() {
    return events;
  }

  /** E.g. {@code fib: 1234 spans, 5.203 ms; fib_leaf: 77 spans, 0.012 ms}: heaviest first. */
  String heaviest() {
    List<Map.Entry<String, long[]>> entries = new ArrayList<>(byName.entrySet());
    entries.sort(
        (a, b) ->
            a.getValue()[1] != b.getValue()[1]
                ? Long.compare(b.getValue()[1], a.getValue()[1])
                : a.getKey().compareTo(b.getKey()));
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < Math.min(HEAVIEST, entries.size()); i++) {
      Map.Entry<String, long[]> e = entries.get(i);
      if (i > 0) {
        out.append("; ");
      }
      out.append(e.getKey())
          .append(": ")
          .append(e.getValue()[0])
          .append(e.getValue()[0] == 1 ? " span, " : " spans, ")
          .append(String.format(Locale.ROOT, "%.3f ms", e.getValue()[1] / 1e6));
    }
    return out.toString();
  }
}
