package dev.guesttrace.perfetto;

import static dev.guesttrace.compare.TestTrees.fibRun;
import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.guesttrace.perfetto.proto.CounterDescriptor;
import dev.guesttrace.perfetto.proto.Trace;
import dev.guesttrace.perfetto.proto.TrackDescriptor;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class PerfettoProtoWriterTest {
  @Test
  void write_everyTrackNameAndTimestampRoundTrips() throws Exception {
    TraceTree tree = PerfettoJsonWriterTest.twoVcpuRun();

    for (boolean compress : new boolean[] {true, false}) {
      DecodedPerfetto d = decode(tree, compress);

      assertThat(d.compressedGroups).isEqualTo(compress ? 1 : 0);
      List<String> tracks = new ArrayList<>();
      for (TrackDescriptor t : d.tracks.values()) {
        String parent = t.hasParentUuid() ? d.trackName(t.getParentUuid()) : "-";
        String kind =
            t.hasProcess()
                ? "process pid=" + t.getProcess().getPid()
                : t.hasThread()
                    ? "thread pid=" + t.getThread().getPid() + " tid=" + t.getThread().getTid()
                    : t.hasCounter() ? "counter " + t.getCounter().getUnit() : "track";
        tracks.add(d.trackName(t.getUuid()) + " (" + kind + ") in " + parent);
      }
      assertThat(tracks)
          .containsExactly(
              "hello (emulated) on host-a (process pid=1) in -",
              "host (track) in hello (emulated) on host-a",
              "vcpu 0 (thread pid=1 tid=1) in -",
              "vcpu 0 host (track) in host",
              "heap live bytes (counter " + CounterDescriptor.Unit.UNIT_SIZE_BYTES + ") in vcpu 0",
              "queue depth (counter " + CounterDescriptor.Unit.UNIT_UNSPECIFIED + ") in vcpu 0",
              "vcpu 1 (thread pid=1 tid=2) in -",
              "vcpu 1 host (track) in host");
      assertThat(d.describedSlices()).isEqualTo(expectedSlices(tree));
      String hostile = PerfettoJsonWriterTest.HOSTILE.replace("\ud800", "\ufffd");
      assertThat(d.flows())
          .containsExactlyInAnyOrder(
              "guest_call main -> main", hostile + " -> host print", "run -> worker");
      assertThat(d.counters)
          .containsExactly(
              "heap live bytes@1300=64",
              "heap live bytes@1400=96",
              "heap live bytes@6000=32",
              "queue depth@6100=7");
      assertThat(d.instants).containsExactly("vcpu 0@2500 " + hostile);
      assertThat(slice(d, "never_ended").args()).isEqualTo(Map.of("unclosed", "true"));
      assertThat(slice(d, "late").args()).isEqualTo(Map.of("clipped", "true"));
      assertThat(slice(d, "main").args()).isEmpty();
      assertThat(slice(d, "host print").category()).isEqualTo("host_call");
      assertThat(slice(d, "main").category()).isEqualTo("guest");
      // Interned once each, though "run" is the name of two spans.
      assertThat(d.internedNames).containsEntry("run", 1).doesNotContainValue(2);
    }
  }

  @Test
  void write_guestArgumentsAreAnnotationsAndNamesStayWhole() throws Exception {
    TraceTree tree =
        tree(
            summary("fib", "host-a", 1e9),
            span(
                dev.guesttrace.span.SpanKind.HOST_RUN,
                0,
                "run",
                0,
                100,
                new SpanNode("fib", dev.guesttrace.span.SpanKind.GUEST, 0, 10, 20, 7, 0),
                new SpanNode("fib", dev.guesttrace.span.SpanKind.GUEST, 0, 30, 40, 0, -2)));

    DecodedPerfetto d = decode(tree, true);

    List<Map<String, String>> args = new ArrayList<>();
    for (DecodedPerfetto.Slice s : d.slices) {
      if (s.name().equals("fib")) {
        args.add(s.args());
      }
    }
    assertThat(args).containsExactly(Map.of("arg0", "7"), Map.of("arg1", "-2"));
    assertThat(d.internedNames).containsEntry("fib", 1);
  }

  @Test
  void write_realisticRunMatchesTheJsonSpanForSpan() throws Exception {
    TraceTree fib = fibRun(summary("fib", "host-a", 1e9), 2, 6, 300, 0.05, 7);

    DecodedPerfetto d = decode(fib, true);

    assertThat(d.describedSlices()).isEqualTo(expectedSlices(fib));
    assertThat(spansOf(d))
        .isEqualTo(spansOf(PerfettoJsonWriterTest.parse(fib, PerfettoJsonWriter.Options.DEFAULT)));
  }

  @Test
  void write_aMillionNestedSpansAsAStream() throws Exception {
    int depth = 1_000_000;
    SpanNode root = span("d", 0, 2L * depth);
    SpanNode parent = root;
    for (int i = 1; i < depth; i++) {
      SpanNode child = span("d", i, 2L * depth - i);
      parent.addChild(child);
      parent = child;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();

    PerfettoProtoWriter.write(tree(summary("deep", "host-a", 1e9), root), out);

    DecodedPerfetto d = DecodedPerfetto.decode(out.toByteArray());
    assertThat(d.slices).hasSize(depth);
    assertThat(d.compressedGroups).isGreaterThan(10);
    assertThat(d.internedNames).containsExactly(Map.entry("d", 1));
  }

  @Test
  void plainFile_isOneTraceMessageOfPackets() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PerfettoProtoWriter.write(
        PerfettoJsonWriterTest.twoVcpuRun(), out, new PerfettoProtoWriter.Options(false));

    Trace trace = Trace.parseFrom(out.toByteArray());

    assertThat(trace.getPacketCount()).isEqualTo(DecodedPerfetto.decode(out.toByteArray()).packets);
    assertThat(trace.getPacket(0).hasTrackDescriptor()).isTrue();
    assertThat(trace.getPacket(0).getSequenceFlags()).isEqualTo(1);
  }

  static DecodedPerfetto decode(TraceTree tree, boolean compress) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PerfettoProtoWriter.write(tree, out, new PerfettoProtoWriter.Options(compress));
    return DecodedPerfetto.decode(out.toByteArray());
  }

  private static DecodedPerfetto.Slice slice(DecodedPerfetto d, String name) {
    List<DecodedPerfetto.Slice> found =
        d.slices.stream().filter(s -> s.name().equals(name)).toList();
    assertThat(found).hasSize(1);
    return found.getFirst();
  }

  /** {@code vcpu: name [start, end]} of every slice, sorted, from the proto. */
  static List<String> spansOf(DecodedPerfetto d) {
    List<String> spans = new ArrayList<>();
    for (DecodedPerfetto.Slice s : d.slices) {
      String vcpu = s.track().replace(" host", "").replace("vcpu ", "");
      spans.add(vcpu + ": " + s.name() + " [" + s.start() + ", " + s.end() + "]");
    }
    spans.sort(null);
    return spans;
  }

  /** The same from the JSON's complete events (tid = vCPU + 1). */
  static List<String> spansOf(JsonNode json) {
    List<String> spans = new ArrayList<>();
    for (JsonNode e : json.get("traceEvents")) {
      if (e.get("ph").asText().equals("X")) {
        long start = PerfettoJsonWriterTest.nanos(e.get("ts"));
        spans.add(
            (e.get("tid").asInt() - 1)
                + ": "
                + e.get("name").asText()
                + " ["
                + start
                + ", "
                + (start + PerfettoJsonWriterTest.nanos(e.get("dur")))
                + "]");
      }
    }
    spans.sort(null);
    return spans;
  }

  /**
   * Slices expected from the tree by a second implementation of the documented rule: clipped into
   * the parent (roots into [0, ∞)), after the previous sibling; guest spans on {@code vcpu N}, host
   * spans on {@code vcpu N host}; the enclosing slice is the nearest ancestor on that track.
   */
  static Map<String, List<String>> expectedSlices(TraceTree tree) {
    Map<String, List<String>> result = new TreeMap<>();
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      record Level(
          List<SpanNode> nodes,
          String guestParent,
          String hostParent,
          long lo,
          long hi,
          int[] next,
          long[] cursor) {}
      Deque<Level> stack = new ArrayDeque<>();
      stack.push(new Level(vcpu.roots(), null, null, 0, Long.MAX_VALUE, new int[1], new long[1]));
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
        boolean host = node.kind().isHost();
        String track = "vcpu " + vcpu.vcpu() + (host ? " host" : "");
        String parent = host ? level.hostParent() : level.guestParent();
        result
            .computeIfAbsent(track, k -> new ArrayList<>())
            .add(
                track
                    + ": "
                    + name
                    + " ["
                    + start
                    + ", "
                    + end
                    + "] in "
                    + (start == end ? "?" : parent));
        stack.push(
            new Level(
                node.children(),
                host ? level.guestParent() : name,
                host ? name : level.hostParent(),
                start,
                end,
                new int[1],
                new long[] {start}));
      }
    }
    result.values().forEach(l -> l.sort(null));
    return result;
  }
}
