package dev.guesttrace.otel;

import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Which spans of one trace are sent. Roots always are; below them a span is sent only if its parent
 * is, it lasts at least the minimum duration, and it fits the trace's budget of spans and
 * (estimated) bytes. The budget is filled level by level from the top, so what is cut is the
 * deepest detail; on the level where the budget runs out, the longest spans go first. Whatever is
 * not sent is summarized on its nearest sent ancestor ({@link CutSummary}).
 *
 * <p>Memory: the set of sent spans (at most the budget) and one level of candidates. No recursion.
 */
final class SpanSelection {
  /**
   * Estimated OTLP bytes of a span without events: ids, times, kind, vCPU and kind attributes, and
   * its share of the request around it. Measured: a 10,000-span export of {@code fib --calls 20}
   * sent 2,125,304 bytes, 212 a span, for spans named {@code fib} with one argument: 180 + 3 + 30.
   */
  static final int SPAN_BASE_BYTES = 180;

  /** Estimated OTLP bytes of an event without its text. */
  static final int EVENT_BASE_BYTES = 60;

  private final Set<SpanNode> kept;
  private final boolean all;
  private final long minDurationNanos;
  private final boolean callsAreLeaves;
  private final long count;

  private SpanSelection(
      Set<SpanNode> kept, boolean all, long minDurationNanos, boolean callsAreLeaves, long count) {
    this.kept = kept;
    this.all = all;
    this.minDurationNanos = minDurationNanos;
    this.callsAreLeaves = callsAreLeaves;
    this.count = count;
  }

  /** Whether a guest call ends this trace (per-call mode's run trace): its subtree is elsewhere. */
  boolean isLeaf(SpanNode node) {
    return callsAreLeaves && node.kind() == SpanKind.HOST_GUEST_CALL;
  }

  /** Whether {@code child}, whose parent is sent, is sent too. */
  boolean sends(SpanNode child) {
    if (kept != null) {
      return kept.contains(child);
    }
    return all || duration(child) >= minDurationNanos;
  }

  /** Spans this trace sends, its roots included. */
  long count() {
    return count;
  }

  /**
   * Selects the spans of a trace.
   *
   * @param roots the trace's top spans (always sent)
   * @param callsAreLeaves whether guest calls end the trace (their subtrees are other traces)
   * @param maxSpans most spans to send, 0 for no limit
   * @param maxBytes most estimated bytes to send, 0 for no limit
   * @param minDurationNanos spans shorter than this are not sent
   */
  static SpanSelection select(
      List<SpanNode> roots,
      boolean callsAreLeaves,
      long maxSpans,
      long maxBytes,
      long minDurationNanos) {
    if (maxSpans == 0 && maxBytes == 0) {
      // No budget: a local rule, nothing to remember; count what it sends.
      SpanSelection rule =
          new SpanSelection(null, minDurationNanos <= 0, minDurationNanos, callsAreLeaves, 0);
      long count = 0;
      ArrayList<SpanNode> stack = new ArrayList<>(roots);
      count += roots.size();
      while (!stack.isEmpty()) {
        SpanNode node = stack.removeLast();
        if (rule.isLeaf(node)) {
          continue;
        }
        for (SpanNode child : node.children()) {
          if (rule.sends(child)) {
            count++;
            stack.add(child);
          }
        }
      }
      return new SpanSelection(
          null, minDurationNanos <= 0, minDurationNanos, callsAreLeaves, count);
    }
    Set<SpanNode> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    long bytes = 0;
    List<SpanNode> level = new ArrayList<>();
    for (SpanNode root : roots) {
      kept.add(root);
      bytes += estimateBytes(root);
      level.add(root);
    }
    long spanLimit = maxSpans == 0 ? Long.MAX_VALUE : maxSpans;
    long byteLimit = maxBytes == 0 ? Long.MAX_VALUE : maxBytes;
    SpanSelection probe = new SpanSelection(null, false, 0, callsAreLeaves, 0);
    boolean full = false;
    while (!level.isEmpty() && !full) {
      List<SpanNode> next = new ArrayList<>();
      long nextBytes = 0;
      for (SpanNode node : level) {
        if (probe.isLeaf(node)) {
          continue;
        }
        for (SpanNode child : node.children()) {
          if (duration(child) >= minDurationNanos) {
            next.add(child);
            nextBytes += estimateBytes(child);
          }
        }
      }
      if (kept.size() + (long) next.size() <= spanLimit && bytes + nextBytes <= byteLimit) {
        kept.addAll(next);
        bytes += nextBytes;
        level = next;
        continue;
      }
      // The budget ends on this level: its longest spans first, as many as fit.
      next.sort(Comparator.comparingLong(SpanSelection::duration).reversed());
      for (SpanNode child : next) {
        long b = estimateBytes(child);
        if (kept.size() >= spanLimit || bytes + b > byteLimit) {
          break;
        }
        kept.add(child);
        bytes += b;
      }
      full = true;
    }
    return new SpanSelection(kept, false, minDurationNanos, callsAreLeaves, kept.size());
  }

  /** Duration, never negative: a span that ends before it starts is sent as zero long. */
  static long duration(SpanNode node) {
    return Math.max(0, node.durationNanos());
  }

  /** A span's OTLP size, roughly: what a budget in bytes compares against. */
  static long estimateBytes(SpanNode node) {
    long bytes = SPAN_BASE_BYTES + node.name().length();
    if (node.arg0() != 0) {
      bytes += 30;
    }
    if (node.arg1() != 0) {
      bytes += 30;
    }
    for (var event : node.events()) {
      bytes += EVENT_BASE_BYTES + event.text().length();
    }
    return bytes;
  }
}
