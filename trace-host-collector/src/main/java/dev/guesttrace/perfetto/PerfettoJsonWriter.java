package dev.guesttrace.perfetto;

import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a run as Chrome trace event JSON (the JSON object format), which ui.perfetto.dev,
 * speedscope and the chrome://tracing successors open. For ui.perfetto.dev the native protobuf
 * format ({@code PerfettoProtoWriter}) is smaller and richer; this format is for tools that only
 * read JSON.
 *
 * <ul>
 *   <li>The VM is one process (pid 1), named after the guest, backend and host.
 *   <li>Each vCPU is one thread, {@code vcpu N} (tid {@code N+1}), holding its host and guest spans
 *       nested as the span tree nests them: host run, guest call, guest spans, host calls and trace
 *       exits inside the guest span that made them. One thread per vCPU keeps the host and guest
 *       activity of a vCPU aligned in viewers that start each thread at its own first event
 *       (speedscope). The span's kind is its {@code cat}: {@code guest}, {@code host_run}, {@code
 *       host_guest_call}, {@code host_call}, {@code host_exit}.
 *   <li>Spans are complete events ({@code "ph":"X"}) with {@code ts} and {@code dur} in
 *       microseconds with three decimals, so the calibrated nanoseconds survive exactly. Viewers
 *       need strict nesting per thread, so a span is clipped to its parent and starts no earlier
 *       than its previous sibling ended, and nothing starts before the run (time 0); a clipped
 *       span's args say {@code "clipped":true}. A span the guest never ended has {@code
 *       "unclosed":true}.
 *   <li>Args appear only where they say something: the two flags above, and the guest's span
 *       arguments {@code arg0}/{@code arg1} when asked for ({@link Options#spanArgs()}) and not
 *       zero. speedscope makes a frame name of name plus args, so arguments that differ per call
 *       (fib's {@code n}) would split one function into many rows; they are off by default.
 *   <li>Messages are thread-scoped instant events ({@code "ph":"i","s":"t"}) on their vCPU's
 *       thread; a message longer than the name limit keeps its full text in {@code args.text}.
 *   <li>Allocations and frees drive a counter ({@code "ph":"C"}) {@code heap live bytes} per vCPU;
 *       the guest's counter samples are counters of their own name.
 *   <li>Every point event (message, alloc, free, counter) is clipped into the span it belongs to,
 *       like the spans themselves: a guest whose clock jumps cannot put one before the run.
 * </ul>
 *
 * <p>The span tree is walked with an explicit stack, never recursively: a million nested spans are
 * fine.
 */
public final class PerfettoJsonWriter {
  /** The process id of the VM. */
  public static final int PID = 1;

  /** Longest event name; longer messages are cut in the name and kept whole in the args. */
  static final int MAX_NAME_CHARS = 120;

  /**
   * What to write besides the spans' names, kinds and times.
   *
   * @param spanArgs whether guest spans carry their non-zero arguments as {@code args.arg0} and
   *     {@code args.arg1} (speedscope then splits a function into one row per argument value)
   */
  public record Options(boolean spanArgs) {
    /** The default: no span arguments. */
    public static final Options DEFAULT = new Options(false);
  }

  private PerfettoJsonWriter() {}

  /** The thread id of a vCPU: its guest and host spans. */
  public static int tid(int vcpu) {
    return vcpu + 1;
  }

  /**
   * Writes the trace as UTF-8 JSON with the default options; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the JSON goes
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, OutputStream out) throws IOException {
    write(tree, out, Options.DEFAULT);
  }

  /**
   * Writes the trace as UTF-8 JSON; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the JSON goes
   * @param options what to write besides names, kinds and times
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, OutputStream out, Options options) throws IOException {
    Writer writer =
        new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), 1 << 16);
    write(tree, writer, options);
    writer.flush();
  }

  /**
   * Writes the trace as JSON text; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the JSON goes
   * @param options what to write besides names, kinds and times
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, Writer out, Options options) throws IOException {
    new Emitter(tree, out, options).emit();
  }

  /**
   * A span's bounds after clipping, and where its next child may start at the earliest. The span
   * walk ({@link ClippedSpans}) shares it with the protobuf writer.
   */
  static final class Bounds {
    final long start;
    final long end;
    long cursor;

    Bounds(long start, long end) {
      this.start = start;
      this.end = end;
      this.cursor = start;
    }
  }

  /** One span as the viewers get it: clipped into its parent, after its previous sibling. */
  interface ClippedSpanVisitor {
    /**
     * Called for every span, parents before children, siblings in order.
     *
     * @param node the span
     * @param depth 0 for a root
     * @param start clipped start, never negative
     * @param end clipped end, {@code >= start}
     * @param clipped whether start or end moved
     */
    void span(SpanNode node, int depth, long start, long end, boolean clipped) throws IOException;

    /** Called after a span's whole subtree. */
    default void end(SpanNode node, int depth, long start, long end) throws IOException {}
  }

  /** The depth-first walk with clipping; iterative, because guest recursion can be deep. */
  static final class ClippedSpans {
    private ClippedSpans() {}

    static void walk(List<SpanNode> roots, ClippedSpanVisitor visitor) throws IOException {
      // Each entry is a span to visit (enter) or one whose subtree is done (exit).
      record Item(SpanNode node, Bounds parent, int depth, Bounds self) {}
      ArrayList<Item> stack = new ArrayList<>();
      Bounds run = new Bounds(0, Long.MAX_VALUE);
      for (int i = roots.size() - 1; i >= 0; i--) {
        stack.add(new Item(roots.get(i), run, 0, null));
      }
      while (!stack.isEmpty()) {
        Item item = stack.removeLast();
        SpanNode node = item.node();
        if (item.self() != null) {
          visitor.end(node, item.depth(), item.self().start, item.self().end);
          continue;
        }
        Bounds parent = item.parent();
        long lo = Math.max(parent.start, parent.cursor);
        long start = Math.min(Math.max(node.startNanos(), lo), parent.end);
        long end = Math.min(Math.max(node.endNanos(), start), parent.end);
        boolean clipped = start != node.startNanos() || end != node.endNanos();
        parent.cursor = end;
        Bounds self = new Bounds(start, end);
        visitor.span(node, item.depth(), start, end, clipped);
        stack.add(new Item(node, parent, item.depth(), self));
        List<SpanNode> children = node.children();
        for (int i = children.size() - 1; i >= 0; i--) {
          stack.add(new Item(children.get(i), self, item.depth() + 1, null));
        }
      }
    }
  }

  /** A point event with its time clipped into its span. */
  record ClippedEvent(long timeNanos, SpanEvent event) {}

  /** Collects the point events of a span, clipped into the span's clipped bounds. */
  static void clipEvents(SpanNode node, long start, long end, List<ClippedEvent> into) {
    for (SpanEvent event : node.events()) {
      into.add(new ClippedEvent(Math.min(Math.max(event.timeNanos(), start), end), event));
    }
  }

  /** Lower-case kind names, as {@code cat} and as the OTLP attribute spell them. */
  static String kindName(SpanNode node) {
    return node.kind().name().toLowerCase(Locale.ROOT);
  }

  private static final class Emitter {
    private final TraceTree tree;
    private final Writer out;
    private final Options options;
    private boolean first = true;

    Emitter(TraceTree tree, Writer out, Options options) {
      this.tree = tree;
      this.out = out;
      this.options = options;
    }

    void emit() throws IOException {
      RunSummary s = tree.summary();
      out.write("{\"displayTimeUnit\":\"ns\",\"otherData\":{");
      field("guest", s.guest());
      out.write(',');
      field("backend", s.backend());
      out.write(',');
      field("host", s.hostName());
      out.write(',');
      field("cpu", s.cpuModel());
      out.write(',');
      field("os", s.os());
      out.write(',');
      field("arch", s.arch());
      out.write(',');
      field("jvm", s.jvm());
      out.write(',');
      field("tscTicksPerSecond", String.format(Locale.ROOT, "%.1f", s.ticksPerSecond()));
      out.write(',');
      field("calibrationPpm", String.format(Locale.ROOT, "%.3f", s.calibrationPpm()));
      out.write(',');
      field("invariantTsc", Boolean.toString(s.invariantTsc()));
      out.write(',');
      field("outcome", s.outcome());
      out.write(',');
      field("times", "calibrated host ns since the run started");
      out.write("},\"traceEvents\":[\n");

      metadata(0, "process_name", "name", s.guest() + " (" + s.backend() + ") on " + s.hostName());
      metadata(
          0,
          "process_labels",
          "labels",
          String.format(
              Locale.ROOT,
              "TSC %.6f GHz ±%.1f ppm, %s",
              s.ticksPerSecond() / 1e9,
              s.calibrationPpm(),
              s.outcome()));
      boolean multiVcpu = tree.vcpus().size() > 1;
      for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
        int v = vcpu.vcpu();
        int tid = tid(v);
        metadata(tid, "thread_name", "name", "vcpu " + v);
        metadataNumber(tid, "thread_sort_index", "sort_index", tid);
        List<ClippedEvent> events = new ArrayList<>();
        ClippedSpans.walk(
            vcpu.roots(),
            (node, depth, start, end, clipped) -> {
              span(node, tid, start, end, clipped);
              clipEvents(node, start, end, events);
            });
        pointEvents(v, tid, events, multiVcpu);
      }
      out.write("\n]}\n");
    }

    private void span(SpanNode node, int tid, long start, long end, boolean clipped)
        throws IOException {
      begin();
      out.write("{\"ph\":\"X\",\"pid\":" + PID + ",\"tid\":" + tid + ",");
      field("name", node.name());
      out.write(",\"cat\":\"");
      out.write(kindName(node));
      out.write("\",\"ts\":");
      micros(start);
      out.write(",\"dur\":");
      micros(end - start);
      String sep = ",\"args\":{";
      if (options.spanArgs() && !node.kind().isHost()) {
        if (node.arg0() != 0) {
          out.write(sep + "\"arg0\":" + node.arg0());
          sep = ",";
        }
        if (node.arg1() != 0) {
          out.write(sep + "\"arg1\":" + node.arg1());
          sep = ",";
        }
      }
      if (node.unclosed()) {
        out.write(sep + "\"unclosed\":true");
        sep = ",";
      }
      if (clipped) {
        out.write(sep + "\"clipped\":true");
        sep = ",";
      }
      out.write(sep.equals(",") ? "}}" : "}");
    }

    private void pointEvents(int vcpu, int tid, List<ClippedEvent> events, boolean multiVcpu)
        throws IOException {
      // Stable: events of one span keep their recorded order when their times are equal.
      events.sort(Comparator.comparingLong(ClippedEvent::timeNanos));
      Map<Long, Long> liveByAddress = new HashMap<>();
      long live = 0;
      String heap = "heap live bytes" + (multiVcpu ? " (vcpu " + vcpu + ")" : "");
      for (ClippedEvent clippedEvent : events) {
        SpanEvent e = clippedEvent.event();
        long time = clippedEvent.timeNanos();
        switch (e.kind()) {
          case MESSAGE -> {
            begin();
            out.write("{\"ph\":\"i\",\"s\":\"t\",\"pid\":" + PID + ",\"tid\":" + tid + ",");
            boolean cut = e.text().length() > MAX_NAME_CHARS;
            String name = cut ? e.text().substring(0, MAX_NAME_CHARS - 1) + "…" : e.text();
            field("name", name);
            out.write(",\"cat\":\"message\",\"ts\":");
            micros(time);
            if (cut) {
              out.write(",\"args\":{");
              field("text", e.text());
              out.write('}');
            }
            out.write('}');
          }
          case ALLOC, FREE -> {
            if (e.kind() == SpanEvent.Kind.ALLOC) {
              Long previous = liveByAddress.put(e.address(), e.value());
              live += e.value() - (previous == null ? 0 : previous);
            } else {
              Long size = liveByAddress.remove(e.address());
              live -= size != null ? size : e.value();
            }
            // A free of memory allocated before tracing started must not show a negative heap.
            live = Math.max(0, live);
            counter(heap, "bytes", time, live);
          }
          case COUNTER ->
              counter(
                  e.text() + (multiVcpu ? " (vcpu " + vcpu + ")" : ""), "value", time, e.value());
        }
      }
    }

    private void counter(String name, String series, long timeNanos, long value)
        throws IOException {
      begin();
      out.write("{\"ph\":\"C\",\"pid\":" + PID + ",");
      field("name", name);
      out.write(",\"ts\":");
      micros(timeNanos);
      out.write(",\"args\":{");
      string(series);
      out.write(":" + value + "}}");
    }

    private void metadata(int tid, String name, String key, String value) throws IOException {
      begin();
      out.write("{\"ph\":\"M\",\"pid\":" + PID + ",\"tid\":" + tid + ",");
      field("name", name);
      out.write(",\"args\":{");
      field(key, value);
      out.write("}}");
    }

    private void metadataNumber(int tid, String name, String key, long value) throws IOException {
      begin();
      out.write("{\"ph\":\"M\",\"pid\":" + PID + ",\"tid\":" + tid + ",");
      field("name", name);
      out.write(",\"args\":{");
      string(key);
      out.write(":" + value + "}}");
    }

    private void begin() throws IOException {
      if (!first) {
        out.write(",\n");
      }
      first = false;
    }

    private void field(String key, String value) throws IOException {
      string(key);
      out.write(':');
      string(value);
    }

    private void string(String value) throws IOException {
      out.write(quote(value));
    }

    private void micros(long nanos) throws IOException {
      out.write(PerfettoJsonWriter.micros(nanos));
    }
  }

  /** Nanoseconds as microseconds with exactly three decimals, e.g. {@code 1234567 → 1234.567}. */
  static String micros(long nanos) {
    long abs = Math.abs(nanos);
    String fraction = Long.toString(abs % 1000);
    return (nanos < 0 ? "-" : "") + abs / 1000 + "." + "0".repeat(3 - fraction.length()) + fraction;
  }

  /**
   * A JSON string literal of {@code value}. Control characters are escaped, lone surrogates (never
   * valid Unicode) become U+FFFD, U+2028/U+2029 are escaped for JavaScript consumers, everything
   * else is written as is (the output is UTF-8).
   */
  static String quote(String value) {
    StringBuilder out = new StringBuilder(value.length() + 2);
    out.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        case '\u2028', '\u2029' -> out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
        default -> {
          if (c < 0x20) {
            out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else if (Character.isHighSurrogate(c)
              && i + 1 < value.length()
              && Character.isLowSurrogate(value.charAt(i + 1))) {
            out.append(c).append(value.charAt(++i));
          } else if (Character.isSurrogate(c)) {
            out.append('\uFFFD');
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
