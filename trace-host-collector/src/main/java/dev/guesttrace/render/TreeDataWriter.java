package dev.guesttrace.render;

import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The span tree for scripts ({@code tree --format json|csv}, schema {@value #SCHEMA} in
 * docs/formats.md): one object (or row) per span with {@code id}, {@code parent}, {@code name},
 * {@code vcpu}, {@code kind}, {@code start_ns} and {@code end_ns} relative to the run's start
 * ({@link RunWindow}). Spans come in depth-first order, a parent before its children; no folding
 * and no line budget, but the same selection as the text tree: a vCPU, a depth, a shortest
 * duration, a name filter.
 */
public final class TreeDataWriter {
  /** Version of the layout, in docs/formats.md. */
  public static final String SCHEMA = "guesttrace.tree/1";

  private TreeDataWriter() {}

  /**
   * Which spans to write.
   *
   * @param vcpu only this vCPU, or every one
   * @param maxDepth levels of spans to write (top-level spans are level 1), 0 for all
   * @param minDurationNanos leave out spans shorter than this (and what is under them); top-level
   *     spans always stay
   * @param filter only spans whose name (with its {@code [host] } prefix) matches, and their
   *     ancestors; null for all
   */
  public record Selection(OptionalInt vcpu, int maxDepth, long minDurationNanos, Pattern filter) {
    /** Every span. */
    public static Selection all() {
      return new Selection(OptionalInt.empty(), 0, 0, null);
    }
  }

  /**
   * Writes the spans of {@code tree} in {@code format} ({@link OutputFormat#JSON} or {@link
   * OutputFormat#CSV}).
   *
   * @return the number of spans written
   */
  public static long write(
      TraceTree tree, Selection selection, OutputFormat format, PrintWriter out) {
    if (format == OutputFormat.TEXT) {
      throw new IllegalArgumentException("format TEXT: use TextTreeRenderer");
    }
    boolean json = format == OutputFormat.JSON;
    RunWindow window = RunWindow.of(tree);
    long origin = window.originNanos();
    if (json) {
      out.print("{\"schema\":" + Json.string(SCHEMA));
      out.print(",\"guest\":" + Json.string(tree.summary().guest()));
      out.print(",\"outcome\":" + Json.string(tree.summary().outcome()));
      out.print(",\"vcpus\":" + tree.vcpus().size());
      out.print(",\"run_ns\":" + window.durationNanos());
      out.print(",\"spans\":[");
    } else {
      out.println("id,parent,name,vcpu,kind,start_ns,end_ns,unclosed");
    }
    long id = 0;
    boolean first = true;
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      if (selection.vcpu().isPresent() && v.vcpu() != selection.vcpu().getAsInt()) {
        continue;
      }
      Set<SpanNode> keep =
          selection.filter() == null
              ? null
              : TextTreeRenderer.matchesAndAncestors(v.roots(), selection.filter());
      // Explicit stack of (span, parent id, depth): a guest decides how deep its spans nest.
      ArrayDeque<Object[]> work = new ArrayDeque<>();
      for (int i = v.roots().size() - 1; i >= 0; i--) {
        work.push(new Object[] {v.roots().get(i), 0L, 1});
      }
      while (!work.isEmpty()) {
        Object[] item = work.pop();
        SpanNode node = (SpanNode) item[0];
        long parent = (Long) item[1];
        int depth = (Integer) item[2];
        if (keep != null && !keep.contains(node)) {
          continue;
        }
        if (depth > 1 && node.durationNanos() < selection.minDurationNanos()) {
          continue;
        }
        id++;
        String kind = node.kind().name().toLowerCase(Locale.ROOT);
        if (json) {
          StringBuilder b = new StringBuilder(160);
          b.append(first ? "\n" : ",\n");
          first = false;
          b.append("{\"id\":").append(id);
          b.append(",\"parent\":").append(parent == 0 ? "null" : String.valueOf(parent));
          b.append(",\"name\":").append(Json.string(node.name()));
          b.append(",\"vcpu\":").append(node.vcpu());
          b.append(",\"kind\":\"").append(kind).append('"');
          b.append(",\"start_ns\":").append(node.startNanos() - origin);
          b.append(",\"end_ns\":").append(node.endNanos() - origin);
          b.append(",\"unclosed\":").append(node.unclosed());
          if (!node.events().isEmpty()) {
            b.append(",\"events\":[");
            for (int i = 0; i < node.events().size(); i++) {
              event(b.append(i == 0 ? "" : ","), node.events().get(i), origin);
            }
            b.append(']');
          }
          b.append('}');
          out.print(b);
        } else {
          out.println(
              id
                  + ","
                  + (parent == 0 ? "" : String.valueOf(parent))
                  + ","
                  + Json.csv(node.name())
                  + ","
                  + node.vcpu()
                  + ","
                  + kind
                  + ","
                  + (node.startNanos() - origin)
                  + ","
                  + (node.endNanos() - origin)
                  + ","
                  + node.unclosed());
        }
        if (selection.maxDepth() == 0 || depth < selection.maxDepth()) {
          for (int i = node.children().size() - 1; i >= 0; i--) {
            work.push(new Object[] {node.children().get(i), id, depth + 1});
          }
        }
      }
    }
    if (json) {
      out.println("]}");
    }
    out.flush();
    return id;
  }

  private static void event(StringBuilder b, SpanEvent ev, long origin) {
    b.append("{\"time_ns\":").append(ev.timeNanos() - origin);
    b.append(",\"kind\":\"").append(ev.kind().name().toLowerCase(Locale.ROOT)).append('"');
    switch (ev.kind()) {
      case MESSAGE -> b.append(",\"text\":").append(Json.string(ev.text()));
      case COUNTER ->
          b.append(",\"name\":")
              .append(Json.string(ev.text()))
              .append(",\"value\":")
              .append(ev.value());
      case ALLOC, FREE ->
          b.append(",\"address\":").append(ev.address()).append(",\"bytes\":").append(ev.value());
    }
    b.append('}');
  }
}
