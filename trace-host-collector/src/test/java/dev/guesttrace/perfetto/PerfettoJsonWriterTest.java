package dev.guesttrace.perfetto;

import static dev.guesttrace.compare.TestTrees.fibRun;
import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static dev.guesttrace.compare.TestTrees.withEvents;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class PerfettoJsonWriterTest {
  static final String HOSTILE =
      "q\"uote\\back\nnl\ttab\u0000nul\u001fus\u2028ls é中\ud83d\ude80 \ud800lone";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  /** Host run → guest call → guest spans → host call, on two vCPUs, with every event kind. */
  static TraceTree twoVcpuRun() {
    SpanNode unclosed = span("never_ended", 9_000, 9_500);
    unclosed.end(9_500, true);
    SpanNode vcpu0 =
        span(
            SpanKind.HOST_RUN,
            0,
            "run",
            0,
            10_000,
            span(
                SpanKind.HOST_GUEST_CALL,
                0,
                "guest_call main",
                1_000,
                9_800,
                withEvents(
                    span(
                        SpanKind.GUEST,
                        0,
                        "main",
                        1_200,
                        9_700,
                        withEvents(
                            span(
                                SpanKind.GUEST,
                                0,
                                HOSTILE,
                                2_000,
                                5_000,
                                span(SpanKind.HOST_CALL, 0, "host print", 3_000, 4_001)),
                            new SpanEvent(2_500, SpanEvent.Kind.MESSAGE, HOSTILE, 0, 0)),
                        unclosed),
                    new SpanEvent(1_300, SpanEvent.Kind.ALLOC, "", 0x1000, 64),
                    new SpanEvent(1_400, SpanEvent.Kind.ALLOC, "", 0x2000, 32),
                    new SpanEvent(6_000, SpanEvent.Kind.FREE, "", 0x1000, 0),
                    new SpanEvent(6_100, SpanEvent.Kind.COUNTER, "queue depth", 0, 7))));
    SpanNode vcpu1 =
        span(
            SpanKind.HOST_RUN,
            1,
            "run",
            0,
            8_000,
            span(
                SpanKind.GUEST,
                1,
                "worker",
                1_000,
                5_000,
                span(SpanKind.GUEST, 1, "late", 4_000, 6_000)));
    return tree(
        summary("hello", "host-a", 2.6e9),
        new TraceTree.VcpuTree(0, List.of(vcpu0)),
        new TraceTree.VcpuTree(1, List.of(vcpu1)));
  }

  @Test
  void write_producesJsonWithEverySpanNestedPerThread() throws Exception {
    TraceTree tree = twoVcpuRun();

    JsonNode root = parse(tree);

    assertThat(root.get("displayTimeUnit").asText()).isEqualTo("ns");
    assertThat(root.get("otherData").get("host").asText()).isEqualTo("host-a");
    assertThat(metadata(root, "process_name")).containsExactly("0=hello (emulated) on host-a");
    assertThat(metadata(root, "thread_name")).containsExactly("1=vcpu 0", "2=vcpu 1");
    assertThat(spansWithParents(root)).isEqualTo(expectedSpansWithParents(tree));
  }

  @Test
  void write_keepsNanosecondsExactAndFlagsUnclosedAndClippedSpans() throws Exception {
    JsonNode root = parse(twoVcpuRun());

    JsonNode hostCall = only(root, "X", "host print");
    assertThat(hostCall.get("ts").decimalValue()).isEqualByComparingTo("3.000");
    assertThat(hostCall.get("dur").decimalValue()).isEqualByComparingTo("1.001");
    assertThat(hostCall.get("tid").asInt()).isEqualTo(PerfettoJsonWriter.tid(0));
    assertThat(hostCall.get("cat").asText()).isEqualTo("host_call");
    assertThat(hostCall.has("args")).isFalse();
    assertThat(only(root, "X", "guest_call main").get("cat").asText()).isEqualTo("host_guest_call");
    assertThat(only(root, "X", "never_ended").get("args").toString())
        .isEqualTo("{\"unclosed\":true}");
    assertThat(only(root, "X", "main").has("args")).isFalse();
    assertThat(only(root, "X", "main").get("cat").asText()).isEqualTo("guest");
    // "late" ends after its parent "worker" ended: clipped to worker's end.
    JsonNode late = only(root, "X", "late");
    assertThat(late.get("ts").decimalValue()).isEqualByComparingTo("4.000");
    assertThat(late.get("dur").decimalValue()).isEqualByComparingTo("1.000");
    assertThat(late.get("args").toString()).isEqualTo("{\"clipped\":true}");
    assertThat(only(root, "X", "worker").has("args")).isFalse();
  }

  @Test
  void write_escapesArbitraryNames() throws Exception {
    JsonNode root = parse(twoVcpuRun());

    String expected = HOSTILE.replace("\ud800", "\ufffd");
    assertThat(only(root, "X", expected).get("tid").asInt()).isEqualTo(PerfettoJsonWriter.tid(0));
    JsonNode message = only(root, "i", expected);
    assertThat(message.get("s").asText()).isEqualTo("t");
    assertThat(message.get("tid").asInt()).isEqualTo(PerfettoJsonWriter.tid(0));
    assertThat(message.get("ts").decimalValue()).isEqualByComparingTo("2.5");
    // The name holds the whole text: args would only repeat it.
    assertThat(message.has("args")).isFalse();
    assertThat(PerfettoJsonWriter.quote("a\u0001\u2028\"")).isEqualTo("\"a\\u0001\\u2028\\\"\"");
  }

  @Test
  void write_turnsAllocAndFreeIntoLiveBytesAndCountersIntoCounters() throws Exception {
    JsonNode root = parse(twoVcpuRun());

    List<String> counters = new ArrayList<>();
    for (JsonNode e : root.get("traceEvents")) {
      if (e.get("ph").asText().equals("C")) {
        Map.Entry<String, JsonNode> series = e.get("args").properties().iterator().next();
        counters.add(
            e.get("name").asText()
                + "@"
                + e.get("ts").decimalValue().stripTrailingZeros().toPlainString()
                + " "
                + series.getKey()
                + "="
                + series.getValue().asLong());
      }
    }
    // The free of 0x1000 carries no size: the size of its alloc is used.
    assertThat(counters)
        .containsExactly(
            "heap live bytes (vcpu 0)@1.3 bytes=64",
            "heap live bytes (vcpu 0)@1.4 bytes=96",
            "heap live bytes (vcpu 0)@6 bytes=32",
            "queue depth (vcpu 0)@6.1 value=7");
  }

  @Test
  void write_handlesDeepRecursionAndRealisticRuns() throws Exception {
    SpanNode deep = span("fib", 0, 20_000);
    SpanNode parent = deep;
    for (int i = 1; i < 5_000; i++) {
      SpanNode child = span("fib", i, 20_000 - i);
      parent.addChild(child);
      parent = child;
    }
    TraceTree deepTree = tree(summary("fib", "host-a", 1e9), deep);
    TraceTree fib = fibRun(summary("fib", "host-a", 1e9), 2, 6, 300, 0.05, 7);

    assertThat(spansWithParents(parse(deepTree))).isEqualTo(expectedSpansWithParents(deepTree));
    assertThat(spansWithParents(parse(fib))).isEqualTo(expectedSpansWithParents(fib));
  }

  @Test
  void write_guestSpanArgumentsOnlyWhenAskedAndNotZero() throws Exception {
    TraceTree tree =
        tree(
            summary("fib", "host-a", 1e9),
            span(
                SpanKind.HOST_RUN,
                0,
                "run",
                0,
                100,
                new SpanNode("fib", SpanKind.GUEST, 0, 10, 20, 7, 0),
                new SpanNode("fib", SpanKind.GUEST, 0, 30, 40, 0, -2),
                new SpanNode("fib", SpanKind.GUEST, 0, 50, 60, 0, 0)));

    JsonNode plain = parse(tree);
    JsonNode withArgs = parse(tree, new PerfettoJsonWriter.Options(true));

    // Default: no args, so speedscope keeps one "fib" frame instead of one per argument value.
    assertThat(argsOf(plain, "fib")).containsExactly("-", "-", "-");
    assertThat(argsOf(withArgs, "fib")).containsExactly("{\"arg0\":7}", "{\"arg1\":-2}", "-");
  }

  @Test
  void write_clipsPointEventsIntoTheirSpanLikeTheSpans() throws Exception {
    long minus562s = -562_000_000_000L;
    SpanNode guest =
        withEvents(
            span(SpanKind.GUEST, 0, "main", 1_000, 2_000),
            new SpanEvent(minus562s, SpanEvent.Kind.COUNTER, "tick", 0, 2),
            new SpanEvent(minus562s, SpanEvent.Kind.ALLOC, "", 0x10, 8),
            new SpanEvent(minus562s, SpanEvent.Kind.MESSAGE, "back in time", 0, 0),
            new SpanEvent(1_500, SpanEvent.Kind.COUNTER, "tick", 0, 3),
            new SpanEvent(9_999_999, SpanEvent.Kind.COUNTER, "tick", 0, 4));
    // A root that claims to start before the run: clipped to 0 with everything in it.
    SpanNode root =
        withEvents(
            span(SpanKind.HOST_RUN, 0, "run", -5_000, 3_000, guest),
            new SpanEvent(-4_000, SpanEvent.Kind.COUNTER, "tick", 0, 1));
    JsonNode json = parse(tree(summary("hostile", "host-a", 1e9), root));

    assertThat(timestamps(json)).allSatisfy(ts -> assertThat(ts).isNotNegative());
    List<String> counters = new ArrayList<>();
    for (JsonNode e : json.get("traceEvents")) {
      if (!e.get("ph").asText().equals("M") && !e.get("ph").asText().equals("X")) {
        counters.add(e.get("name").asText() + "@" + nanos(e.get("ts")));
      }
    }
    assertThat(counters)
        .containsExactly(
            "tick@0",
            "tick@1000",
            "heap live bytes@1000",
            "back in time@1000",
            "tick@1500",
            "tick@2000");
    JsonNode run = only(json, "X", "run");
    assertThat(nanos(run.get("ts"))).isZero();
    assertThat(run.get("args").toString()).isEqualTo("{\"clipped\":true}");
  }

  @Test
  void write_keepsLongMessagesWholeInArgsOnly() throws Exception {
    String text = "x".repeat(PerfettoJsonWriter.MAX_NAME_CHARS + 1);
    SpanNode root =
        withEvents(
            span(SpanKind.GUEST, 0, "main", 0, 10),
            new SpanEvent(5, SpanEvent.Kind.MESSAGE, text, 0, 0));

    JsonNode message =
        only(parse(tree(summary("m", "host-a", 1e9), root)), "i", "x".repeat(119) + "…");

    assertThat(message.get("args").get("text").asText()).isEqualTo(text);
  }

  @Test
  void write_siblingsThatOverlapAreClippedToNestOnOneThread() throws Exception {
    // A trace exit the clock places over the guest span before it: both are children of main.
    SpanNode main =
        span(
            SpanKind.GUEST,
            0,
            "main",
            0,
            1_000,
            span(SpanKind.GUEST, 0, "work", 100, 500),
            span(SpanKind.HOST_EXIT, 0, "flush", 450, 600),
            span(SpanKind.GUEST, 0, "more", 550, 900));
    TraceTree tree = tree(summary("m", "host-a", 1e9), main);

    JsonNode json = parse(tree);

    assertThat(spansWithParents(json).get(1L))
        .containsExactly(
            "flush [500, 600] in main",
            "main [0, 1000] in null",
            "more [600, 900] in main",
            "work [100, 500] in main");
    assertThat(spansWithParents(json)).isEqualTo(expectedSpansWithParents(tree));
    assertThat(only(json, "X", "flush").get("args").toString()).isEqualTo("{\"clipped\":true}");
  }

  @Test
  void write_aMillionNestedSpans() throws Exception {
    int depth = 1_000_000;
    SpanNode root = span("d", 0, 2L * depth);
    SpanNode parent = root;
    for (int i = 1; i < depth; i++) {
      SpanNode child = span("d", i, 2L * depth - i);
      parent.addChild(child);
      parent = child;
    }
    CountingStream out = new CountingStream();

    PerfettoJsonWriter.write(tree(summary("deep", "host-a", 1e9), root), out);

    // One line per event (4 metadata, then the spans), plus the opening line and two closing ones.
    assertThat(out.lines).isEqualTo(4L + depth + 2);
  }

  /** Counts lines (one event per line) without keeping the bytes. */
  private static final class CountingStream extends java.io.OutputStream {
    long lines;

    @Override
    public void write(int b) {
      lines += b == '\n' ? 1 : 0;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      for (int i = off; i < off + len; i++) {
        lines += b[i] == '\n' ? 1 : 0;
      }
    }
  }

  /** Each X event's args named {@code name}, as JSON text, {@code -} when it has none. */
  private static List<String> argsOf(JsonNode root, String name) {
    List<String> found = new ArrayList<>();
    for (JsonNode e : root.get("traceEvents")) {
      if (e.get("ph").asText().equals("X") && e.get("name").asText().equals(name)) {
        found.add(e.has("args") ? e.get("args").toString() : "-");
      }
    }
    return found;
  }

  /** Every ts of every event, in nanoseconds. */
  static List<Long> timestamps(JsonNode root) {
    List<Long> found = new ArrayList<>();
    for (JsonNode e : root.get("traceEvents")) {
      if (e.has("ts")) {
        found.add(nanos(e.get("ts")));
      }
    }
    return found;
  }

  @Test
  void micros_writesThreeDecimals() {
    assertThat(PerfettoJsonWriter.micros(0)).isEqualTo("0.000");
    assertThat(PerfettoJsonWriter.micros(1_234_567)).isEqualTo("1234.567");
    assertThat(PerfettoJsonWriter.micros(5)).isEqualTo("0.005");
    assertThat(PerfettoJsonWriter.micros(-1_500)).isEqualTo("-1.500");
  }

  private static JsonNode parse(TraceTree tree) throws Exception {
    return parse(tree, PerfettoJsonWriter.Options.DEFAULT);
  }

  static JsonNode parse(TraceTree tree, PerfettoJsonWriter.Options options) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PerfettoJsonWriter.write(tree, out, options);
    return JSON.readTree(out.toByteArray());
  }

  private static List<String> metadata(JsonNode root, String name) {
    List<String> found = new ArrayList<>();
    for (JsonNode e : root.get("traceEvents")) {
      if (e.get("ph").asText().equals("M") && e.get("name").asText().equals(name)) {
        found.add(e.get("tid").asInt() + "=" + e.get("args").get("name").asText());
      }
    }
    return found;
  }

  private static JsonNode only(JsonNode root, String phase, String name) {
    List<JsonNode> found = new ArrayList<>();
    for (JsonNode e : root.get("traceEvents")) {
      if (e.get("ph").asText().equals(phase) && e.get("name").asText().equals(name)) {
        found.add(e);
      }
    }
    assertThat(found).as("events %s %s", phase, name).hasSize(1);
    return found.getFirst();
  }

  /**
   * Rebuilds the nesting a viewer sees from the X events alone: per thread, sorted by start (longer
   * first), each event's parent is the innermost earlier event that contains it.
   */
  static Map<Long, List<String>> spansWithParents(JsonNode root) {
    record Ev(String name, long start, long end) {}
    Map<Long, List<Ev>> byTid = new TreeMap<>();
    for (JsonNode e : root.get("traceEvents")) {
      if (e.get("ph").asText().equals("X")) {
        long start = nanos(e.get("ts"));
        byTid
            .computeIfAbsent(e.get("tid").asLong(), k -> new ArrayList<>())
            .add(new Ev(e.get("name").asText(), start, start + nanos(e.get("dur"))));
      }
    }
    Map<Long, List<String>> result = new TreeMap<>();
    for (Map.Entry<Long, List<Ev>> entry : byTid.entrySet()) {
      List<Ev> events = entry.getValue();
      events.sort(
          Comparator.comparingLong(Ev::start).thenComparing(Ev::end, Comparator.reverseOrder()));
      Deque<Ev> stack = new ArrayDeque<>();
      List<String> lines = new ArrayList<>();
      for (Ev ev : events) {
        while (!stack.isEmpty()
            && !(stack.peek().start() <= ev.start() && ev.end() <= stack.peek().end())) {
          stack.pop();
        }
        lines.add(
            describe(
                ev.name(),
                ev.start(),
                ev.end(),
                stack.peek() == null ? null : stack.peek().name()));
        stack.push(ev);
      }
      lines.sort(null);
      result.put(entry.getKey(), lines);
    }
    return result;
  }

  /**
   * The same from the tree, by a second implementation of the documented rule: one thread per vCPU;
   * each span clipped into its parent (roots into [0, ∞)) and to start no earlier than its previous
   * sibling's clipped end; the viewer's parent is the tree parent.
   */
  static Map<Long, List<String>> expectedSpansWithParents(TraceTree tree) {
    Map<Long, List<String>> result = new TreeMap<>();
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      long tid = PerfettoJsonWriter.tid(vcpu.vcpu());
      List<String> lines = result.computeIfAbsent(tid, k -> new ArrayList<>());
      // Children lists to visit, each with its parent's clipped name and bounds and a cursor.
      record Level(
          List<SpanNode> nodes, String parent, long lo, long hi, int[] next, long[] cursor) {}
      Deque<Level> stack = new ArrayDeque<>();
      stack.push(new Level(vcpu.roots(), null, 0, Long.MAX_VALUE, new int[1], new long[] {0}));
      while (!stack.isEmpty()) {
        Level level = stack.peek();
        if (level.next()[0] == level.nodes().size()) {
          stack.pop();
          continue;
        }
        SpanNode node = level.nodes().get(level.next()[0]++);
        long start =
            Math.min(
                Math.max(node.startNanos(), Math.max(level.lo(), level.cursor()[0])), level.hi());
        long end = Math.min(Math.max(node.endNanos(), start), level.hi());
        level.cursor()[0] = end;
        String name = node.name().replace("\ud800", "\ufffd");
        lines.add(describe(name, start, end, level.parent()));
        stack.push(new Level(node.children(), name, start, end, new int[1], new long[] {start}));
      }
    }
    result.values().forEach(lines -> lines.sort(null));
    return result;
  }

  /**
   * One span with its parent. A zero-length span at the instant its previous sibling ends is, in
   * this format, indistinguishable from a child at that sibling's end, so its parent is {@code ?}
   * on both sides; zero-length spans never change a longer span's parent (they sort after it).
   */
  private static String describe(String name, long start, long end, String parent) {
    return name + " [" + start + ", " + end + "] in " + (start == end ? "?" : parent);
  }

  static long nanos(JsonNode micros) {
    return micros.decimalValue().movePointRight(3).longValueExact();
  }
}
