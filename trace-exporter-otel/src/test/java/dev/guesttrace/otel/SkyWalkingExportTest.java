package dev.guesttrace.otel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.TraceTree;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Exports over OTLP/gRPC to a real backend, Apache SkyWalking OAP 10.1.0 started as a separate
 * process, and reads the trace back through its Zipkin v2 query API.
 *
 * <p>Zipkin v2 carries times in microseconds ({@code timestamp} since the epoch, {@code duration})
 * and lowercases span names, so names are compared lowercased and each start and duration must be
 * within 1 µs of the tree's nanoseconds.
 */
class SkyWalkingExportTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long POLL_LIMIT_MILLIS = 30_000;

  private static SkyWalkingOap oap;

  @BeforeAll
  static void startBackend() throws IOException, InterruptedException {
    oap = SkyWalkingOap.start();
  }

  @AfterAll
  static void stopBackend() {
    if (oap != null) {
      oap.close();
      assertThat(oap.isAlive()).as("SkyWalking OAP pid %d still running", oap.pid()).isFalse();
    }
  }

  /**
   * SkyWalking keeps data in tables per day and only for recent days, so the runs exported here
   * start now (with a nanosecond part, to see truncation).
   */
  private static long now() {
    return System.currentTimeMillis() * 1_000_000 + 123;
  }

  private ExportResult exportGrpc(TraceTree tree, int batchSize) {
    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setProtocol(OtlpProtocol.GRPC)
            .setEndpoint(oap.otlpEndpoint())
            .setBatchSize(batchSize)
            .setMicrosecondSpans(true)
            .build()
            .export(tree);
    assertThat(result.isSuccess()).as(result.summary()).isTrue();
    return result;
  }

  /** Polls the trace by id until all its spans are there (SkyWalking stores them in ~40 ms). */
  private static List<JsonNode> readTrace(String traceIdHex, long expectedSpans)
      throws InterruptedException, IOException {
    long deadline = System.currentTimeMillis() + POLL_LIMIT_MILLIS;
    int seen = 0;
    while (System.currentTimeMillis() < deadline) {
      String body = oap.get("/zipkin/api/v2/trace/" + traceIdHex);
      if (body != null) {
        JsonNode spans = JSON.readTree(body);
        seen = spans.size();
        if (seen >= expectedSpans) {
          List<JsonNode> list = new ArrayList<>();
          spans.forEach(list::add);
          return list;
        }
      }
      Thread.sleep(50);
    }
    return fail(
        "trace %s: %d of %d spans readable after %d ms; OAP log:%n%s",
        traceIdHex, seen, expectedSpans, POLL_LIMIT_MILLIS, oap.logTail());
  }

  /** Outline of names only: structure, parent links and count, exactly. */
  private static String namesOutline(List<JsonNode> spans) {
    List<Outline.Received> received = new ArrayList<>();
    for (JsonNode span : spans) {
      long startMicros = span.path("timestamp").asLong();
      received.add(
          new Outline.Received(
              span.path("id").asText(),
              span.hasNonNull("parentId") ? span.get("parentId").asText() : null,
              span.path("name").asText(),
              startMicros * 1_000,
              (startMicros + span.path("duration").asLong(0)) * 1_000));
    }
    return stripTimes(Outline.render(received, 0));
  }

  private static String stripTimes(String outline) {
    return outline.replaceAll(" \\[[^\\]]*\\]", "");
  }

  @Test
  void grpc_skyWalkingStoresWholeTreeWithinOneMicrosecond() throws Exception {
    TraceTree tree = TestTrees.twoVcpus(now());
    ExportResult result = exportGrpc(tree, 512);

    List<JsonNode> spans = readTrace(result.traceIdHex(), result.spansTotal());

    assertThat(spans).hasSize(10);
    assertThat(namesOutline(spans))
        .isEqualTo(stripTimes(TestTrees.TWO_VCPUS_OUTLINE).toLowerCase(Locale.ROOT));
    assertTimesWithinOneMicrosecond(tree, spans);
    Map<String, JsonNode> byName = byName(spans);
    assertThat(byName.get("guest call main").path("kind").asText()).isEqualTo("CLIENT");
    assertThat(byName.get("host_print").path("kind").asText()).isEqualTo("SERVER");
    assertThat(byName.get("main").path("localEndpoint").path("serviceName").asText())
        .isEqualTo("guest02-nested");
    assertThat(byName.get("worker").path("tags").path("guesttrace.unclosed").asText())
        .isEqualTo("true");
  }

  @Test
  void grpc_manyBatchesArriveAsOneTrace() throws Exception {
    // Its guest spans last 793 to 799 ns: SkyWalking needs them to cover a microsecond tick.
    TraceTree tree = TestTrees.large(250, 3, now());
    ExportResult result = exportGrpc(tree, 100);

    List<JsonNode> spans = readTrace(result.traceIdHex(), result.spansTotal());

    assertThat(spans).hasSize(1 + 250 * 4);
    assertThat(namesOutline(spans)).isEqualTo(stripTimes(TestTrees.outline(tree)));
    assertTimesWithinOneMicrosecond(tree, spans);
  }

  @Test
  void grpc_sampleGuestRunArrivesWhole() throws Exception {
    // A real run of the emulated backend: four vCPUs with their own rings and TSC offsets,
    // calibrated guest spans between host run, guest call and host call spans.
    GuestProgram program = SampleGuests.find("multi-vcpu").orElseThrow();
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java(program.name(), GuestRuntime.image(program)),
                new EmulatedBackend())
            .setVcpus(program.defaultVcpus())
            .setCalls(8)
            .setCall(program.defaultCall())
            .build();
    GuestRun.Result run = GuestRun.builder(config).setHostPrint(text -> {}).build().execute();
    assertThat(run.failed()).as(run.outcome()).isFalse();
    TraceTree tree = SpanTreeBuilder.build(run.data());

    ExportResult result = exportGrpc(tree, 512);
    List<JsonNode> spans = readTrace(result.traceIdHex(), result.spansTotal());

    assertThat((long) spans.size()).isEqualTo(SpanTreeConverter.countSpans(tree));
    assertThat(spans.size()).isGreaterThan(1 + program.defaultVcpus() * 2);
    assertTimesWithinOneMicrosecond(tree, spans);
  }

  private static TraceTree helloRun(int calls) throws Exception {
    GuestProgram program = SampleGuests.find("hello").orElseThrow();
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java(program.name(), GuestRuntime.image(program)),
                new EmulatedBackend())
            .setCalls(calls)
            .setCall(program.defaultCall())
            .build();
    GuestRun.Result run = GuestRun.builder(config).setHostPrint(text -> {}).build().execute();
    assertThat(run.failed()).as(run.outcome()).isFalse();
    return SpanTreeBuilder.build(run.data());
  }

  private static long subtreeSize(SpanNode node) {
    long n = 0;
    java.util.ArrayDeque<SpanNode> stack = new java.util.ArrayDeque<>(List.of(node));
    while (!stack.isEmpty()) {
      n++;
      stack.addAll(stack.pop().children());
    }
    return n;
  }

  @Test
  void grpc_perCallTracesReadBackEachWholeAndLinkedByTags() throws Exception {
    TraceTree tree = helloRun(3);
    List<SpanNode> calls = SpanTreeConverter.guestCalls(SpanTreeConverter.topLevel(tree));
    assertThat(calls).hasSize(3);

    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setEndpoint(oap.otlpEndpoint())
            .setMicrosecondSpans(true)
            .setTraceMode(TraceMode.PER_CALL)
            .build()
            .export(tree);

    assertThat(result.isSuccess()).as(result.summary()).isTrue();
    assertThat(result.traces()).isEqualTo(4);
    long epoch = tree.summary().startEpochNanos();
    long insides = 0;
    for (int i = 0; i < calls.size(); i++) {
      SpanNode call = calls.get(i);
      insides += subtreeSize(call) - 1;
      String callTrace = result.callTraceIdsHex().get(i);
      List<JsonNode> spans = readTrace(callTrace, subtreeSize(call));
      assertThat((long) spans.size()).isEqualTo(subtreeSize(call));
      Map<String, List<JsonNode>> children = new HashMap<>();
      List<JsonNode> roots = new ArrayList<>();
      for (JsonNode span : spans) {
        if (span.hasNonNull("parentId")) {
          children.computeIfAbsent(span.get("parentId").asText(), k -> new ArrayList<>()).add(span);
        } else {
          roots.add(span);
        }
      }
      assertThat(roots).hasSize(1);
      JsonNode root = roots.getFirst();
      assertThat(root.path("name").asText()).isEqualTo(call.name().toLowerCase(Locale.ROOT));
      assertThat(root.path("tags").path("guesttrace.run.trace_id").asText())
          .isEqualTo(result.traceIdHex());
      assertWithin(root, call.name(), epoch + call.startNanos(), call.durationNanos());
      compareChildren(call.children(), root, children, epoch);
    }
    long runSpans = subtreeSize(SpanTreeConverter.topLevel(tree).getFirst()) - insides;
    List<JsonNode> run = readTrace(result.traceIdHex(), runSpans);
    assertThat((long) run.size()).isEqualTo(runSpans);
    assertThat(
            run.stream()
                .map(s -> s.path("tags").path("guesttrace.call.trace_id").asText())
                .filter(id -> !id.isEmpty()))
        .containsExactlyInAnyOrderElementsOf(result.callTraceIdsHex());
  }

  @Test
  void grpc_spanBudgetReadBackWithEveryCutOnAParent() throws Exception {
    TraceTree tree = helloRun(3);

    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setEndpoint(oap.otlpEndpoint())
            .setMicrosecondSpans(true)
            .setMaxSpansPerTrace(20)
            .build()
            .export(tree);

    assertThat(result.isSuccess()).as(result.summary()).isTrue();
    List<JsonNode> spans = readTrace(result.traceIdHex(), 20);
    assertThat(spans).hasSize(20);
    long cut = 0;
    for (JsonNode span : spans) {
      cut += span.path("tags").path("guesttrace.cut.spans").asLong(0);
    }
    assertThat(cut).isEqualTo(result.spansSummarized()).isPositive();
    assertThat(cut + 20).isEqualTo(subtreeSize(SpanTreeConverter.topLevel(tree).getFirst()));
  }

  @Test
  void grpc_subMicrosecondSpansRefused_theFailureNamesTheOption() {
    // Guest spans of 793 to 799 ns: within one microsecond tick, which SkyWalking refuses.
    TraceTree tree = TestTrees.large(5, 3, now());

    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setEndpoint(oap.otlpEndpoint())
            .setMaxAttempts(1)
            .build()
            .export(tree);

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.failure())
        .startsWith("gRPC status UNKNOWN")
        .containsPattern(
            "\\(\\d+ spans start and end within one microsecond, which SkyWalking rejects:"
                + " export again with --otlp-microsecond-spans or"
                + " GUESTTRACE_OTLP_MICROSECOND_SPANS=true\\)$");
  }

  private static Map<String, JsonNode> byName(List<JsonNode> spans) {
    Map<String, JsonNode> map = new HashMap<>();
    for (JsonNode span : spans) {
      map.put(span.path("name").asText(), span);
    }
    return map;
  }

  /**
   * Walks tree and received spans side by side and checks the whole tree: names (Zipkin lowercases
   * them), parent links, counts, and every start and duration, Zipkin's microseconds within 1 µs of
   * the tree's nanoseconds. Siblings are ordered on both sides by what Zipkin can see (start µs,
   * name, duration µs), so spans that start within the same microsecond line up.
   */
  private static void assertTimesWithinOneMicrosecond(TraceTree tree, List<JsonNode> spans) {
    Map<String, List<JsonNode>> children = new HashMap<>();
    List<JsonNode> roots = new ArrayList<>();
    for (JsonNode span : spans) {
      if (span.hasNonNull("parentId")) {
        children.computeIfAbsent(span.get("parentId").asText(), k -> new ArrayList<>()).add(span);
      } else {
        roots.add(span);
      }
    }
    assertThat(roots).as("root spans").hasSize(1);
    JsonNode root = roots.getFirst();
    long epoch = tree.summary().startEpochNanos();
    List<SpanNode> vcpuRoots = new ArrayList<>();
    tree.vcpus().forEach(v -> vcpuRoots.addAll(v.roots()));
    if (vcpuRoots.size() == 1) {
      // One vCPU: its host run span is the root.
      SpanNode only = vcpuRoots.getFirst();
      assertThat(root.path("name").asText()).isEqualTo(only.name().toLowerCase(Locale.ROOT));
      assertWithin(root, only.name(), epoch + only.startNanos(), only.durationNanos());
      compareChildren(only.children(), root, children, epoch);
      return;
    }
    long runStart = vcpuRoots.stream().mapToLong(SpanNode::startNanos).min().orElse(0);
    long runEnd = vcpuRoots.stream().mapToLong(SpanNode::endNanos).max().orElse(0);
    assertThat(root.path("name").asText())
        .isEqualTo(SpanTreeConverter.runSpanName(tree.summary()).toLowerCase(Locale.ROOT));
    assertWithin(root, "run", epoch + runStart, runEnd - runStart);
    compareChildren(vcpuRoots, root, children, epoch);
  }

  private static void compareChildren(
      List<SpanNode> nodes, JsonNode parent, Map<String, List<JsonNode>> children, long epoch) {
    List<SpanNode> expected = new ArrayList<>(nodes);
    expected.sort(zipkinOrder(epoch));
    List<JsonNode> received =
        new ArrayList<>(children.getOrDefault(parent.get("id").asText(), List.of()));
    received.sort(ZIPKIN_ORDER);
    assertThat(received).as("children of %s", parent.path("name").asText()).hasSameSizeAs(expected);
    for (int i = 0; i < expected.size(); i++) {
      SpanNode node = expected.get(i);
      JsonNode span = received.get(i);
      assertThat(span.path("name").asText()).isEqualTo(node.name().toLowerCase(Locale.ROOT));
      assertWithin(span, node.name(), epoch + node.startNanos(), node.durationNanos());
      compareChildren(node.children(), span, children, epoch);
    }
  }

  /** Start and duration as Zipkin keeps them: whole microseconds, sub-µs spans stretched. */
  private static Comparator<SpanNode> zipkinOrder(long epoch) {
    return Comparator.<SpanNode>comparingLong(n -> Math.floorDiv(epoch + n.startNanos(), 1_000))
        .thenComparing(n -> n.name().toLowerCase(Locale.ROOT))
        .thenComparingLong(
            n -> {
              long start = epoch + n.startNanos();
              long end = SpanTreeConverter.endEpochNanos(start, epoch + n.endNanos(), true);
              return Math.floorDiv(end, 1_000) - Math.floorDiv(start, 1_000);
            });
  }

  private static final Comparator<JsonNode> ZIPKIN_ORDER =
      Comparator.<JsonNode>comparingLong(s -> s.path("timestamp").asLong())
          .thenComparing(s -> s.path("name").asText())
          .thenComparingLong(s -> s.path("duration").asLong(0));

  private static void assertWithin(
      JsonNode span, String name, long startNanos, long durationNanos) {
    long startMicros = span.path("timestamp").asLong();
    long durationMicros = span.path("duration").asLong(0);
    assertThat(Math.abs(startMicros * 1_000 - startNanos))
        .as("%s start: %d µs vs %d ns", name, startMicros, startNanos)
        .isLessThanOrEqualTo(1_000);
    assertThat(Math.abs(durationMicros * 1_000 - durationNanos))
        .as("%s duration: %d µs vs %d ns", name, durationMicros, durationNanos)
        .isLessThanOrEqualTo(1_000);
  }
}
