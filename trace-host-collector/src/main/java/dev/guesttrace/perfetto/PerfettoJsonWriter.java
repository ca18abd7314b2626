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
 * Writes a run as Chrome trace event JSON (the JSON object format), which ui.perfetto.dev and
 * chrome://tracing open.
 *
 * <ul>
 *   <li>The VM is one process (pid 1), named after the guest, backend and host.
 *   <li>Each vCPU has two threads: {@code vcpu N} (tid {@code 2N+1}) for the guest's spans and
 *       {@code vcpu N host} (tid {@code 2N+2}) for the host's spans (run, guest calls, host calls).
 *   <li>Spans are complete events ({@code "ph":"X"}) with {@code ts} and {@code dur} in
 *       microseconds with three decimals, so the calibrated nanoseconds survive exactly. A span
 *       that does not fit inside its parent on the same thread (bad data) is clipped to it, since
 *       both viewers need strict nesting per thread; its args say {@code "clipped":true}. A span
 *       the guest never ended has {@code "unclosed":true}.
 *   <li>Messages are thread-scoped instant events ({@code "ph":"i","s":"t"}) on the thread of the
 *       span they belong to; the full text is in {@code args.text}.
 *   <li>Allocations and frees drive a counter ({@code "ph":"C"}) {@code heap live bytes} per vCPU;
 *       the guest's counter samples are counters of their own name.
 * </ul>
 */
public final class PerfettoJsonWriter {
  /** The process id of the VM. */
  public static final int PID = 1;

  /** Longest event name; longer messages are cut in the name and kept whole in the args. */
  static final int MAX_NAME_CHARS = 120;

  private PerfettoJsonWriter() {}

  /** The thread id of a vCPU's guest spans. */
  public static int guestTid(int vcpu) {
    return 2 * vcpu + 1;
  }

  /** The thread id of a vCPU's host spans. */
  public static int hostTid(int vcpu) {
    return 2 * vcpu + 2;
  }

  /**
   * Writes the trace as UTF-8 JSON; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the JSON goes
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, OutputStream out) throws IOException {
    Writer writer = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8));
    write(tree, writer);
    writer.flush();
  }

  /**
   * Writes the trace as JSON text; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the JSON goes
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, Writer out) throws IOException {
    new Emitter(tree, out).emit();
  }

  private static final class Emitter {
    private final TraceTree tree;
    private final Writer out;
    private boolean first = true;

    Emitter(TraceTree tree, Writer out) {
      this.tree = tree;
      this.out = out;
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
        metadata(guestTid(v), "thread_name", "name", "vcpu " + v);
        metadataNumber(guestTid(v), "thread_sort_index", "sort_index", guestTid(v));
        metadata(hostTid(v), "thread_name", "name", "vcpu " + v + " host");
        metadataNumber(hostTid(v), "thread_sort_index", "sort_index", hostTid(v));
        List<TimedEvent> events = new ArrayList<>();
        for (SpanNode root : vcpu.roots()) {
          spans(v, root, events);
        }
        pointEvents(v, events, multiVcpu);
      }
      out.write("\n]}\n");
    }

    /** Depth-first, parents before children; iterative because guest recursion can be deep. */
    private void spans(int vcpu, SpanNode root, List<TimedEvent> events) throws IOException {
      record Item(SpanNode node, long[] guestBounds, long[] hostBounds) {}
      ArrayList<Item> stack = new ArrayList<>();
      stack.add(new Item(root, null, null));
      while (!stack.isEmpty()) {
        Item item = stack.removeLast();
        SpanNode node = item.node();
        boolean host = node.kind().isHost();
        long[] bounds = host ? item.hostBounds() : item.guestBounds();
        long start = node.startNanos();
        long end = Math.max(start, node.endNanos());
        boolean clipped = node.endNanos() < node.startNanos();
        if (bounds != null) {
          long clippedStart = Math.min(Math.max(start, bounds[0]), bounds[1]);
          long clippedEnd = Math.min(Math.max(end, clippedStart), bounds[1]);
          clipped |= clippedStart != start || clippedEnd != end;
          start = clippedStart;
          end = clippedEnd;
        }
        int tid = host ? hostTid(vcpu) : guestTid(vcpu);
        span(node, tid, start, end, clipped);
        for (SpanEvent event : node.events()) {
          events.add(new TimedEvent(event, tid));
        }
        long[] mine = {start, end};
        List<SpanNode> children = node.children();
        for (int i = children.size() - 1; i >= 0; i--) {
          stack.add(
              new Item(
                  children.get(i),
                  host ? item.guestBounds() : mine,
                  host ? mine : item.hostBounds()));
        }
      }
    }

    private void span(SpanNode node, int tid, long start, long end, boolean clipped)
        throws IOException {
      begin();
      out.write("{\"ph\":\"X\",\"pid\":" + PID + ",\"tid\":" + tid + ",");
      field("name", node.name());
      out.write(",");
      field("cat", node.kind().isHost() ? "host" : "guest");
      out.write(",\"ts\":");
      micros(start);
      out.write(",\"dur\":");
      micros(end - start);
      out.write(",\"args\":{");
      field("kind", node.kind().name());
      if (!node.kind().isHost()) {
        out.write(",\"arg0\":" + node.arg0() + ",\"arg1\":" + node.arg1());
      }
      if (node.unclosed()) {
        out.write(",\"unclosed\":true");
      }
      if (clipped) {
        out.write(",\"clipped\":true");
      }
      out.write("}}");
    }

    private void pointEvents(int vcpu, List<TimedEvent> events, boolean multiVcpu)
        throws IOException {
      // Stable: events of one span keep their recorded order when their times are equal.
      events.sort(Comparator.comparingLong(e -> e.event().timeNanos()));
      Map<Long, Long> liveByAddress = new HashMap<>();
      long live = 0;
      String heap = "heap live bytes" + (multiVcpu ? " (vcpu " + vcpu + ")" : "");
      for (TimedEvent timed : events) {
        SpanEvent e = timed.event();
        switch (e.kind()) {
          case MESSAGE -> {
            begin();
            out.write("{\"ph\":\"i\",\"s\":\"t\",\"pid\":" + PID + ",\"tid\":" + timed.tid() + ",");
            String name =
                e.text().length() <= MAX_NAME_CHARS
                    ? e.text()
                    : e.text().substring(0, MAX_NAME_CHARS - 1) + "…";
            field("name", name);
            out.write(",\"cat\":\"message\",\"ts\":");
            micros(e.timeNanos());
            out.write(",\"args\":{");
            field("text", e.text());
            out.write("}}");
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
            counter(heap, "bytes", e.timeNanos(), live);
          }
          case COUNTER ->
              counter(
                  e.text() + (multiVcpu ? " (vcpu " + vcpu + ")" : ""),
                  "value",
                  e.timeNanos(),
                  e.value());
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

  private record TimedEvent(SpanEvent event, int tid) {}

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
