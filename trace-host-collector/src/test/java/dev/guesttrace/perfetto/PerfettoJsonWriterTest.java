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
  private static final String HOSTILE =
      "q\"uote\\back\nnl\ttab\u0000nul\u001fus\u2028ls é中\ud83d\ude80 \ud800lone";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  /** Host run → guest call → guest spans → host call, on two vCPUs, with every event kind. */
  private static TraceTree twoVcpuRun() {
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
    assertThat(metadata(root, "thread_name"))
        .containsExactly("1=vcpu 0", "2=vcpu 0 host", "3=vcpu 1", "4=vcpu 1 host");
    assertThat(spansWithParents(root)).isEqualTo(expectedSpansWithParents(tree));
  }

  @Test
  void write_keepsNanosecondsExactAndFlagsUnclosedAndClippedSpans() throws Exception {
    JsonNode root = parse(twoVcpuRun());

    JsonNode hostCall = only(root, "X", "host print");
    assertThat(hostCall.get("ts").decimalValue()).isEqualByComparingTo("3.000");
    assertThat(hostCall.get("dur").decimalValue()).isEqualByComparingTo("1.001");
    assertThat(hostCall.get("tid").asInt()).isEqualTo(PerfettoJsonWriter.hostTid(0));
    assertThat(hostCall.get("cat").asText()).isEqualTo("host");
    assertThat(only(root, "X", "never_ended").get("args").get("unclosed").asBoolean()).isTrue();
    assertThat(only(root, "X", "main").get("args").has("unclosed")).isFalse();
    // "late" ends after its parent "worker" ended: clipped to worker's end.
    JsonNode late = only(root, "X", "late");
    assertThat(late.get("ts").decimalValue()).isEqualByComparingTo("4.000");
    assertThat(late.get("dur").decimalValue()).isEqualByComparingTo("1.000");
    assertThat(late.get("args").get("clipped").asBoolean()).isTrue();
    assertThat(only(root, "X", "worker").get("args").has("clipped")).isFalse();
  }

  @Test
  void write_escapesArbitraryNames() throws Exception {
    JsonNode root = parse(twoVcpuRun());

    String expected = HOSTILE.replace("\ud800", "\ufffd");
    assertThat(only(root, "X", expected).get("tid").asInt())
        .isEqualTo(PerfettoJsonWriter.guestTid(0));
    JsonNode message = only(root, "i", expected);
    assertThat(message.get("s").asText()).isEqualTo("t");
    assertThat(message.get("tid").asInt()).isEqualTo(PerfettoJsonWriter.guestTid(0));
    assertThat(message.get("ts").decimalValue()).isEqualByComparingTo("2.5");
    assertThat(message.get("args").get("text").asText()).isEqualTo(expected);
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
  void micros_writesThreeDecimals() {
    assertThat(PerfettoJsonWriter.micros(0)).isEqualTo("0.000");
    assertThat(PerfettoJsonWriter.micros(1_234_567)).isEqualTo("1234.567");
    assertThat(PerfettoJsonWriter.micros(5)).isEqualTo("0.005");
    assertThat(PerfettoJsonWriter.micros(-1_500)).isEqualTo("-1.500");
  }

  private static JsonNode parse(TraceTree tree) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PerfettoJsonWriter.write(tree, out);
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
  private static Map<Long, List<String>> spansWithParents(JsonNode root) {
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

  /** The same from the tree: each span's parent is its nearest ancestor on the same thread. */
  private static Map<Long, List<String>> expectedSpansWithParents(TraceTree tree) {
    Map<Long, List<String>> result = new TreeMap<>();
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      for (SpanNode root : vcpu.roots()) {
        record Item(SpanNode node, SpanNode guestParent, SpanNode hostParent) {}
        Deque<Item> stack = new ArrayDeque<>();
        stack.push(new Item(root, null, null));
        while (!stack.isEmpty()) {
          Item item = stack.pop();
          SpanNode node = item.node();
          boolean host = node.kind().isHost();
          SpanNode parent = host ? item.hostParent() : item.guestParent();
          long tid =
              host
                  ? PerfettoJsonWriter.hostTid(vcpu.vcpu())
                  : PerfettoJsonWriter.guestTid(vcpu.vcpu());
          long start = node.startNanos();
          long end = node.endNanos();
          if (parent != null) {
            start = Math.min(Math.max(start, parent.startNanos()), parent.endNanos());
            end = Math.min(Math.max(end, start), parent.endNanos());
          }
          String name = node.name().replace("\ud800", "\ufffd");
          String parentName = parent == null ? null : parent.name().replace("\ud800", "\ufffd");
          result
              .computeIfAbsent(tid, k -> new ArrayList<>())
              .add(describe(name, start, end, parentName));
          for (SpanNode child : node.children()) {
            stack.push(
                new Item(child, host ? item.guestParent() : node, host ? node : item.hostParent()));
          }
        }
      }
    }
    result.values().forEach(lines -> lines.sort(null));
    return result;
  }

  private static String describe(String name, long start, long end, String parent) {
    return name + " [" + start + ", " + end + "] in " + parent;
  }

  private static long nanos(JsonNode micros) {
    return micros.decimalValue().movePointRight(3).longValueExact();
  }
}
