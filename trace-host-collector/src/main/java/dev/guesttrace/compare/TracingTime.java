package dev.guesttrace.compare;

import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The tracer's own cost in a run: trace exits (host spans of kind {@link SpanKind#HOST_EXIT}, the
 * guest's ring registration and flushes) sit inside whatever span was open when the guest exited,
 * and make that span look slower by the host's work. {@link #overhead} adds them up, per run and
 * per span that paid for them; {@link #withoutTracing} takes them out of a tree for duration views
 * ({@code compare}, {@code flame}), so that a comparison across hosts compares the guest's work.
 *
 * <p>Walks are iterative: a guest decides how deep its spans nest.
 */
public final class TracingTime {
  private TracingTime() {}

  /**
   * A run's tracing overhead.
   *
   * @param exits trace exits (one nested in another counts once)
   * @param nanos their summed duration
   * @param inGuestNanos the part of it inside guest spans (the rest was in the host's own spans)
   * @param runNanos the run's length: the latest end of any root span
   * @param bySpan per span name that was interrupted (the exit's parent), most time first
   */
  public record Overhead(
      long exits, long nanos, long inGuestNanos, long runNanos, List<PerSpan> bySpan) {
    /** Copies the list. */
    public Overhead {
      bySpan = List.copyOf(bySpan);
    }

    /** {@code nanos} as a percentage of the run, 0 for an empty run. */
    public double percentOfRun() {
      return runNanos <= 0 ? 0 : 100.0 * nanos / runNanos;
    }
  }

  /**
   * The tracing time that interrupted the spans of one name.
   *
   * @param name the span's name ({@code [host] } in front for a host span)
   * @param exits trace exits directly inside spans of this name
   * @param nanos their summed duration
   * @param spanNanos the summed duration of the spans of this name that had any (their share)
   */
  public record PerSpan(String name, long exits, long nanos, long spanNanos) {
    /** {@code nanos} as a percentage of the time of the spans that paid it. */
    public double percentOfSpans() {
      return spanNanos <= 0 ? 0 : 100.0 * nanos / spanNanos;
    }
  }

  /** Adds up the trace exits of {@code tree}. */
  public static Overhead overhead(TraceTree tree) {
    long exits = 0;
    long nanos = 0;
    long inGuest = 0;
    long runNanos = 0;
    Map<String, long[]> byName = new HashMap<>(); // name -> {exits, nanos, spanNanos}
    record Item(SpanNode node, boolean guestAbove) {}
    ArrayDeque<Item> stack = new ArrayDeque<>();
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      for (SpanNode root : v.roots()) {
        runNanos = Math.max(runNanos, root.endNanos());
        if (root.kind() == SpanKind.HOST_EXIT) {
          exits++;
          nanos += Math.max(0, root.durationNanos());
        } else {
          stack.push(new Item(root, false));
        }
      }
    }
    // An exit's own children (none today) are part of it: never walked into.
    while (!stack.isEmpty()) {
      Item item = stack.pop();
      SpanNode node = item.node();
      boolean inGuestSpan = item.guestAbove() || node.kind() == SpanKind.GUEST;
      long exitsHere = 0;
      long nanosHere = 0;
      for (SpanNode child : node.children()) {
        if (child.kind() == SpanKind.HOST_EXIT) {
          exitsHere++;
          nanosHere += Math.max(0, child.durationNanos());
        } else {
          stack.push(new Item(child, inGuestSpan));
        }
      }
      if (exitsHere > 0) {
        exits += exitsHere;
        nanos += nanosHere;
        if (inGuestSpan) {
          inGuest += nanosHere;
        }
        long[] s = byName.computeIfAbsent(label(node), k -> new long[3]);
        s[0] += exitsHere;
        s[1] += nanosHere;
        s[2] += Math.max(0, node.durationNanos());
      }
    }
    List<PerSpan> bySpan = new ArrayList<>();
    byName.forEach((name, s) -> bySpan.add(new PerSpan(name, s[0], s[1], s[2])));
    bySpan.sort(Comparator.comparingLong(PerSpan::nanos).reversed().thenComparing(PerSpan::name));
    return new Overhead(exits, nanos, inGuest, runNanos, bySpan);
  }

  /**
   * A copy of {@code tree} without its trace exits, for duration views: every span is shorter by
   * the trace exits inside it (its end pulled in, its start kept), the exits themselves are gone,
   * so a span's self time no longer holds the host's flushes. Start and end times are then no
   * longer a timeline: use it for durations only ({@code compare}, {@code flame}). Events are not
   * copied.
   */
  public static TraceTree withoutTracing(TraceTree tree) {
    List<TraceTree.VcpuTree> vcpus = new ArrayList<>();
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      List<SpanNode> roots = new ArrayList<>();
      for (SpanNode root : v.roots()) {
        if (root.kind() != SpanKind.HOST_EXIT) {
          roots.add(copyWithout(root));
        }
      }
      vcpus.add(new TraceTree.VcpuTree(v.vcpu(), roots));
    }
    return new TraceTree(tree.summary(), vcpus);
  }

  private static SpanNode copyWithout(SpanNode root) {
    final class Frame {
      final SpanNode from;
      final SpanNode to;
      int next;
      long exitNanos;

      Frame(SpanNode from) {
        this.from = from;
        this.to =
            new SpanNode(
                from.name(),
                from.kind(),
                from.vcpu(),
                from.startNanos(),
                from.endNanos(),
                from.arg0(),
                from.arg1());
      }
    }
    ArrayDeque<Frame> stack = new ArrayDeque<>();
    Frame top = new Frame(root);
    stack.push(top);
    while (!stack.isEmpty()) {
      Frame f = stack.peek();
      List<SpanNode> children = f.from.children();
      if (f.next < children.size()) {
        SpanNode child = children.get(f.next++);
        if (child.kind() == SpanKind.HOST_EXIT) {
          f.exitNanos += Math.max(0, child.durationNanos());
        } else {
          Frame c = new Frame(child);
          f.to.addChild(c.to);
          stack.push(c);
        }
        continue;
      }
      stack.pop();
      long duration = Math.max(0, f.from.durationNanos());
      long kept = Math.max(0, duration - f.exitNanos);
      f.to.end(f.from.startNanos() + kept, f.from.unclosed());
      Frame parent = stack.peek();
      if (parent != null) {
        parent.exitNanos += f.exitNanos;
      }
    }
    return top.to;
  }

  private static String label(SpanNode node) {
    return node.kind() == SpanKind.GUEST ? node.name() : "[host] " + node.name();
  }
}
