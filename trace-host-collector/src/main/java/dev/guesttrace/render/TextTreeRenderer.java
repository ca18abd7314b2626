package dev.guesttrace.render;

import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.util.List;
import java.util.OptionalInt;

/**
 * The text tree, in the seed's format with durations added:
 *
 * <pre>
 * [58.197ms ] > entrypoint
 * [58.294ms ]   > load_gdt
 * [58.314ms ]   < load_gdt 20µs
 * [58.44ms  ]   hyperlight_main started
 * </pre>
 *
 * <p>Two spaces per level; {@code >} on entry, {@code <} and the duration on exit; messages and
 * other events as plain lines at the depth of the span they happened in. Host spans carry a {@code
 * [host]} prefix. The compact form prints one line per span with its duration and no events.
 */
public final class TextTreeRenderer {
  private final boolean compact;
  private final OptionalInt vcpu;

  private TextTreeRenderer(boolean compact, OptionalInt vcpu) {
    this.compact = compact;
    this.vcpu = vcpu;
  }

  /** The full tree of every vCPU. */
  public static TextTreeRenderer full() {
    return new TextTreeRenderer(false, OptionalInt.empty());
  }

  /** One line per span. */
  public TextTreeRenderer compact(boolean compact) {
    return new TextTreeRenderer(compact, vcpu);
  }

  /** Only vCPU {@code vcpuId}. */
  public TextTreeRenderer onlyVcpu(int vcpuId) {
    return new TextTreeRenderer(compact, OptionalInt.of(vcpuId));
  }

  /**
   * Writes the tree. With more than one vCPU shown, each vCPU's tree follows a {@code == vCPU N ==}
   * line.
   *
   * @return the number of spans written
   */
  public long render(TraceTree tree, PrintWriter out) {
    List<TraceTree.VcpuTree> shown =
        tree.vcpus().stream().filter(v -> vcpu.isEmpty() || v.vcpu() == vcpu.getAsInt()).toList();
    long spans = 0;
    for (TraceTree.VcpuTree v : shown) {
      if (shown.size() > 1) {
        out.println("== vCPU " + v.vcpu() + " ==");
      }
      for (SpanNode root : v.roots()) {
        spans += span(root, 0, out);
      }
    }
    out.flush();
    return spans;
  }

  private long span(SpanNode node, int depth, PrintWriter out) {
    String indent = "  ".repeat(depth);
    String name = label(node);
    if (compact) {
      out.println(
          Durations.column(node.startNanos())
              + ' '
              + indent
              + name
              + ' '
              + Durations.duration(node.durationNanos())
              + (node.unclosed() ? " (never ended)" : ""));
      long n = 1;
      for (SpanNode child : node.children()) {
        n += span(child, depth + 1, out);
      }
      return n;
    }
    out.println(Durations.column(node.startNanos()) + ' ' + indent + "> " + name);
    long n = 1;
    List<SpanNode> children = node.children();
    List<SpanEvent> events = node.events();
    int c = 0;
    int e = 0;
    String innerIndent = "  ".repeat(depth + 1);
    while (c < children.size() || e < events.size()) {
      boolean eventNext =
          e < events.size()
              && (c >= children.size()
                  || events.get(e).timeNanos() <= children.get(c).startNanos());
      if (eventNext) {
        SpanEvent ev = events.get(e++);
        out.println(Durations.column(ev.timeNanos()) + ' ' + innerIndent + event(ev));
      } else {
        n += span(children.get(c++), depth + 1, out);
      }
    }
    out.println(
        Durations.column(node.endNanos())
            + ' '
            + indent
            + "< "
            + name
            + ' '
            + Durations.duration(node.durationNanos())
            + (node.unclosed() ? " (never ended)" : ""));
    return n;
  }

  private static String label(SpanNode node) {
    String name = Printable.of(node.name());
    return node.kind().isHost() ? "[host] " + name : name;
  }

  /** An event as one line of text, without time or indentation. */
  static String event(SpanEvent ev) {
    return switch (ev.kind()) {
      case MESSAGE -> Printable.of(ev.text());
      case ALLOC -> String.format("alloc 0x%x %d B", ev.address(), ev.value());
      case FREE ->
          ev.value() == 0
              ? String.format("free 0x%x", ev.address())
              : String.format("free 0x%x %d B", ev.address(), ev.value());
      case COUNTER -> Printable.of(ev.text()) + " = " + ev.value();
    };
  }
}
