package dev.guesttrace.otel;

import static io.opentelemetry.sdk.testing.assertj.OpenTelemetryAssertions.assertThat;
import static io.opentelemetry.sdk.testing.assertj.OpenTelemetryAssertions.attributeEntry;
import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class OtlpExporterTest {
  private final InMemorySpanExporter memory = InMemorySpanExporter.create();

  private OtlpExporter.Builder toMemory() {
    return OtlpExporter.builder().setEnvironment(Map.of()).setSpanExporter(memory);
  }

  static String outline(List<SpanData> spans) {
    List<Outline.Received> received = new ArrayList<>();
    for (SpanData span : spans) {
      received.add(
          new Outline.Received(
              span.getSpanId(),
              span.getParentSpanContext().isValid() ? span.getParentSpanId() : null,
              span.getName(),
              span.getStartEpochNanos(),
              span.getEndEpochNanos()));
    }
    return Outline.render(received, TestTrees.EPOCH_NANOS);
  }

  private Map<String, SpanData> byName() {
    return memory.getFinishedSpanItems().stream()
        .collect(Collectors.toMap(SpanData::getName, Function.identity()));
  }

  @Test
  void export_reproducesTreeWithTimestampsAndParents() {
    ExportResult result = toMemory().build().export(TestTrees.twoVcpus());

    List<SpanData> spans = memory.getFinishedSpanItems();
    assertThat(outline(spans)).isEqualTo(TestTrees.TWO_VCPUS_OUTLINE);
    assertThat(spans).extracting(SpanData::getTraceId).containsOnly(result.traceIdHex());
    assertThat(result.isSuccess()).isTrue();
    assertThat(result.spansTotal()).isEqualTo(10);
    assertThat(result.spansSent()).isEqualTo(10);
    assertThat(result.spansFailed()).isZero();
    assertThat(result.failure()).isNull();
  }

  @Test
  void export_outlineMatchesTreeComputedOutline() {
    TraceTree tree = TestTrees.twoVcpus();
    toMemory().build().export(tree);
    assertThat(outline(memory.getFinishedSpanItems())).isEqualTo(TestTrees.outline(tree));
  }

  @Test
  void export_setsKindsAndAttributesPerSpan() {
    toMemory().build().export(TestTrees.twoVcpus());
    Map<String, SpanData> spans = byName();

    assertThat(spans.get("run guest02-nested (2 vCPUs)"))
        .hasKind(io.opentelemetry.api.trace.SpanKind.INTERNAL)
        .hasAttributes(
            attributeEntry("guesttrace.span.kind", "run"),
            attributeEntry("guesttrace.vcpu.count", 2L),
            attributeEntry("guesttrace.run.outcome", "halted"))
        .hasStatus(io.opentelemetry.sdk.trace.data.StatusData.unset());
    assertThat(spans.get("vcpu 1"))
        .hasKind(io.opentelemetry.api.trace.SpanKind.INTERNAL)
        .hasAttributes(
            attributeEntry("guesttrace.span.kind", "host_run"),
            attributeEntry("guesttrace.vcpu", 1L));
    assertThat(spans.get("guest call main"))
        .hasKind(io.opentelemetry.api.trace.SpanKind.CLIENT)
        .hasAttributes(
            attributeEntry("guesttrace.span.kind", "host_guest_call"),
            attributeEntry("guesttrace.vcpu", 0L));
    assertThat(spans.get("host_print"))
        .hasKind(io.opentelemetry.api.trace.SpanKind.SERVER)
        .hasAttributes(
            attributeEntry("guesttrace.span.kind", "host_call"),
            attributeEntry("guesttrace.vcpu", 0L));
    assertThat(spans.get("main"))
        .hasKind(io.opentelemetry.api.trace.SpanKind.INTERNAL)
        .hasAttributes(
            attributeEntry("guesttrace.span.kind", "guest"),
            attributeEntry("guesttrace.vcpu", 0L),
            attributeEntry("guesttrace.arg0", 7L),
            attributeEntry("guesttrace.arg1", 9L));
    assertThat(spans.get("worker"))
        .hasAttributes(
            attributeEntry("guesttrace.span.kind", "guest"),
            attributeEntry("guesttrace.vcpu", 1L),
            attributeEntry("guesttrace.unclosed", true));
  }

  @Test
  void export_turnsMessagesAllocsAndCountersIntoTimedEvents() {
    toMemory().build().export(TestTrees.twoVcpus());
    Map<String, SpanData> spans = byName();
    long epoch = TestTrees.EPOCH_NANOS;

    assertThat(spans.get("main"))
        .hasEventsSatisfyingExactly(
            event ->
                event
                    .hasName("message")
                    .hasTimestamp(epoch + 13_000)
                    .hasAttributes(
                        Attributes.of(
                            AttributeKey.stringKey("guesttrace.message"), "hello from the guest")));
    assertThat(spans.get("parse"))
        .hasEventsSatisfyingExactly(
            event ->
                event
                    .hasName("alloc")
                    .hasTimestamp(epoch + 21_000)
                    .hasAttributes(
                        Attributes.of(
                            AttributeKey.stringKey("guesttrace.memory.address"),
                            "0x1000",
                            AttributeKey.longKey("guesttrace.memory.size_bytes"),
                            64L)),
            event ->
                event
                    .hasName("free")
                    .hasTimestamp(epoch + 49_000)
                    .hasAttributes(
                        Attributes.of(
                            AttributeKey.stringKey("guesttrace.memory.address"),
                            "0x1000",
                            AttributeKey.longKey("guesttrace.memory.size_bytes"),
                            64L)));
    assertThat(spans.get("compute"))
        .hasEventsSatisfyingExactly(
            event ->
                event
                    .hasName("counter")
                    .hasTimestamp(epoch + 700_000)
                    .hasAttributes(
                        Attributes.of(
                            AttributeKey.stringKey("guesttrace.counter.name"),
                            "iterations",
                            AttributeKey.longKey("guesttrace.counter.value"),
                            42L)));
  }

  @Test
  void export_describesRunInResource() {
    toMemory().build().export(TestTrees.twoVcpus());
    SpanData any = memory.getFinishedSpanItems().getFirst();

    assertThat(any.getResource().getAttributes().asMap())
        .containsEntry(AttributeKey.stringKey("service.name"), "guest02-nested")
        .containsEntry(AttributeKey.stringKey("host.name"), "testhost")
        .containsEntry(AttributeKey.stringKey("host.arch"), "amd64")
        .containsEntry(AttributeKey.stringKey("os.type"), "linux")
        .containsEntry(AttributeKey.stringKey("os.description"), "Linux 6.1.0")
        .containsEntry(AttributeKey.stringKey("guesttrace.cpu.model"), "Test CPU @ 3.00GHz")
        .containsEntry(AttributeKey.stringKey("guesttrace.backend"), "emulated")
        .containsEntry(AttributeKey.stringKey("guesttrace.host.jvm"), "OpenJDK 25")
        .containsEntry(AttributeKey.longKey("guesttrace.vcpu.count"), 2L)
        .containsEntry(AttributeKey.doubleKey("guesttrace.tsc.ticks_per_second"), 3.0e9)
        .containsEntry(AttributeKey.doubleKey("guesttrace.tsc.error_ppm"), 1.5)
        .containsEntry(AttributeKey.longKey("guesttrace.tsc.worst_residual_ns"), 40L)
        .containsEntry(AttributeKey.booleanKey("guesttrace.tsc.invariant"), true)
        .containsEntry(AttributeKey.stringKey("telemetry.sdk.language"), "java");
    assertThat(any.getInstrumentationScopeInfo().getName()).isEqualTo("dev.guesttrace");
  }

  @Test
  void export_serviceNameFromEnvironmentUnlessSetExplicitly() {
    Map<String, String> env =
        Map.of(
            "OTEL_SERVICE_NAME",
            "from-env",
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=lab");
    OtlpExporter.builder()
        .setEnvironment(env)
        .setSpanExporter(memory)
        .build()
        .export(TestTrees.twoVcpus());
    SpanData fromEnv = memory.getFinishedSpanItems().getFirst();
    memory.reset();
    OtlpExporter.builder()
        .setEnvironment(env)
        .setServiceName("from-flag")
        .setSpanExporter(memory)
        .build()
        .export(TestTrees.twoVcpus());
    SpanData fromFlag = memory.getFinishedSpanItems().getFirst();

    assertThat(fromEnv.getResource().getAttribute(AttributeKey.stringKey("service.name")))
        .isEqualTo("from-env");
    assertThat(fromEnv.getResource().getAttribute(AttributeKey.stringKey("deployment.environment")))
        .isEqualTo("lab");
    assertThat(fromFlag.getResource().getAttribute(AttributeKey.stringKey("service.name")))
        .isEqualTo("from-flag");
  }

  @Test
  void export_abortedRunMarksRootAsError() {
    TraceTree halted = TestTrees.twoVcpus();
    TraceTree aborted =
        new TraceTree(
            TestTrees.summary("guest02-nested", 2, "aborted code=3: boom"), halted.vcpus());
    toMemory().build().export(aborted);

    assertThat(byName().get("run guest02-nested (2 vCPUs)"))
        .hasStatus(
            io.opentelemetry.sdk.trace.data.StatusData.create(
                StatusCode.ERROR, "aborted code=3: boom"));
  }

  @Test
  void export_smallBatchesGiveSameTreeAndReportProgress() {
    TraceTree tree = TestTrees.large(50, 3);
    List<long[]> progress = new ArrayList<>();
    ExportResult result =
        toMemory()
            .setBatchSize(7)
            .build()
            .export(tree, (done, total) -> progress.add(new long[] {done, total}));

    assertThat(outline(memory.getFinishedSpanItems())).isEqualTo(TestTrees.outline(tree));
    assertThat(result.spansTotal()).isEqualTo(1 + 50 * 4);
    assertThat(result.spansSent()).isEqualTo(201);
    // 201 spans in batches of 7: 28 full batches and one of 5.
    assertThat(progress).hasSize(29);
    assertThat(progress.getFirst()).containsExactly(7, 201);
    assertThat(progress.getLast()).containsExactly(201, 201);
    for (int i = 1; i < progress.size(); i++) {
      assertThat(progress.get(i)[0]).isGreaterThan(progress.get(i - 1)[0]);
    }
  }

  @Test
  void export_deepTreeDoesNotOverflowStack() {
    SpanNode run = TestTrees.node("vcpu 0", SpanKind.HOST_RUN, 0, 0, 1_000_000);
    SpanNode parent = run;
    for (int d = 0; d < 100_000; d++) {
      SpanNode child = TestTrees.node("r", SpanKind.GUEST, 0, 1 + d, 1_000_000 - 1 - d);
      parent.addChild(child);
      parent = child;
    }
    TraceTree tree =
        new TraceTree(
            TestTrees.summary("deep", 1, "halted"),
            List.of(new TraceTree.VcpuTree(0, List.of(run))));

    ExportResult all =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setSpanExporter(new CountingExporter())
            .setMaxSpansPerTrace(0)
            .setMaxBytesPerTrace(0)
            .build()
            .export(tree);
    ExportResult budget =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setSpanExporter(new CountingExporter())
            .build()
            .export(tree);

    assertThat(all.spansSent()).isEqualTo(100_001);
    assertThat(all.spansSummarized()).isZero();
    // The default budget keeps the top 10,000 levels; the deepest kept span summarizes the rest.
    assertThat(budget.spansSent()).isEqualTo(10_000);
    assertThat(budget.spansSummarized()).isEqualTo(90_001);
    assertThat(budget.summarizingSpans()).isEqualTo(1);
  }

  @Test
  void export_eventsOverPerSpanLimitAreCounted() {
    SpanNode run = TestTrees.node("vcpu 0", SpanKind.HOST_RUN, 0, 0, 10_000);
    for (int i = 0; i < 25; i++) {
      run.addEvent(new SpanEvent(i, SpanEvent.Kind.ALLOC, "", 0x1000 + i, 16));
    }
    TraceTree tree =
        new TraceTree(
            TestTrees.summary("allocs", 1, "halted"),
            List.of(new TraceTree.VcpuTree(0, List.of(run))));

    ExportResult result = toMemory().setMaxEventsPerSpan(10).build().export(tree);

    assertThat(byName().get("vcpu 0").getEvents()).hasSize(10);
    assertThat(result.eventsDropped()).isEqualTo(15);
    assertThat(result.isSuccess()).isTrue();
    assertThat(result.summary()).endsWith("(15 events over the limit)");
  }

  @Test
  void export_failingExporterCountsEverySpanAndStops() {
    FailingExporter failing = new FailingExporter();
    List<long[]> progress = new ArrayList<>();
    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setSpanExporter(failing)
            .setBatchSize(10)
            .build()
            .export(
                TestTrees.large(100, 3), (done, total) -> progress.add(new long[] {done, total}));

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.spansTotal()).isEqualTo(401);
    assertThat(result.spansSent()).isZero();
    assertThat(result.spansFailed()).isEqualTo(401);
    assertThat(result.failure()).isEqualTo("backend said no");
    // The first batch fails; at most the second, already in flight, is tried before the walk stops.
    assertThat(failing.calls).isBetween(1, 2);
    assertThat(progress.getLast()).containsExactly(401, 401);
    assertThat(result.summary())
        .endsWith("failed: 0 of 401 spans sent, 401 failed: backend said no");
  }

  @Test
  void export_microsecondSpansStretchOnlySpansWithinOneMicrosecond() {
    SpanNode run = TestTrees.node("vcpu 0", SpanKind.HOST_RUN, 0, 0, 10_000);
    // The epoch ends in 123 ns: [850, 1_000] is [973, 1_123] in the epoch's last µs, across a tick.
    run.addChild(TestTrees.node("crosses", SpanKind.GUEST, 0, 850, 1_000));
    run.addChild(TestTrees.node("within", SpanKind.GUEST, 0, 2_000, 2_300));
    run.addChild(TestTrees.node("empty", SpanKind.GUEST, 0, 3_000, 3_000));
    TraceTree tree =
        new TraceTree(
            TestTrees.summary("short", 1, "halted"),
            List.of(new TraceTree.VcpuTree(0, List.of(run))));

    toMemory().setMicrosecondSpans(true).build().export(tree);

    assertThat(outline(memory.getFinishedSpanItems()))
        .isEqualTo(
            """
            vcpu 0 [0 +10000]
              crosses [850 +150]
              within [2000 +877]
              empty [3000 +877]
            """);
    Map<String, SpanData> spans = byName();
    assertThat(
            spans
                .get("crosses")
                .getAttributes()
                .get(AttributeKey.longKey("guesttrace.duration_ns")))
        .isNull();
    assertThat(
            spans.get("within").getAttributes().get(AttributeKey.longKey("guesttrace.duration_ns")))
        .isEqualTo(300L);
    assertThat(
            spans.get("empty").getAttributes().get(AttributeKey.longKey("guesttrace.duration_ns")))
        .isEqualTo(0L);
  }

  @Test
  void export_exactTimestampsByDefault() {
    SpanNode run = TestTrees.node("vcpu 0", SpanKind.HOST_RUN, 0, 0, 10_000);
    run.addChild(TestTrees.node("within", SpanKind.GUEST, 0, 2_000, 2_300));
    TraceTree tree =
        new TraceTree(
            TestTrees.summary("short", 1, "halted"),
            List.of(new TraceTree.VcpuTree(0, List.of(run))));

    toMemory().build().export(tree);

    assertThat(
            byName().get("within").getEndEpochNanos() - byName().get("within").getStartEpochNanos())
        .isEqualTo(300);
  }

  @Test
  void export_endBeforeStartIsSentAsZeroDuration() {
    SpanNode run = TestTrees.node("vcpu 0", SpanKind.HOST_RUN, 0, 0, 10_000);
    run.addChild(TestTrees.node("backwards", SpanKind.GUEST, 0, 5_000, 4_000));
    TraceTree tree =
        new TraceTree(
            TestTrees.summary("odd", 1, "halted"),
            List.of(new TraceTree.VcpuTree(0, List.of(run))));

    toMemory().build().export(tree);

    SpanData backwards = byName().get("backwards");
    assertThat(backwards.getEndEpochNanos()).isEqualTo(backwards.getStartEpochNanos());
  }

  @Test
  void export_singleRunSpanIsTheRootAndDescribesTheRun() {
    TraceTree tree = TestTrees.large(2, 1);
    toMemory().build().export(tree);

    assertThat(outline(memory.getFinishedSpanItems()))
        .isEqualTo(
            """
            vcpu 0 [0 +3000]
              guest call [10 +900]
                f0 [11 +799]
              guest call [1010 +900]
                f0 [1011 +799]
            """);
    assertThat(
            memory.getFinishedSpanItems().stream()
                .filter(span -> span.getName().equals("vcpu 0"))
                .findFirst()
                .orElseThrow())
        .hasParentSpanId(io.opentelemetry.api.trace.SpanId.getInvalid())
        .hasAttributes(
            attributeEntry("guesttrace.span.kind", "host_run"),
            attributeEntry("guesttrace.vcpu", 0L),
            attributeEntry("guesttrace.vcpu.count", 1L),
            attributeEntry("guesttrace.run.outcome", "halted"));
  }

  @Test
  void export_emptyTreeSendsOnlyRunSpan() {
    TraceTree empty = new TraceTree(TestTrees.summary("idle", 1, "halted"), List.of());
    ExportResult result = toMemory().build().export(empty);

    assertThat(outline(memory.getFinishedSpanItems())).isEqualTo("run idle (1 vCPU) [0 +0]\n");
    assertThat(result.spansSent()).isEqualTo(1);
  }

  /** Counts spans and keeps none: a million-span export in bounded memory. */
  static final class CountingExporter implements SpanExporter {
    long spans;

    @Override
    public CompletableResultCode export(Collection<SpanData> batch) {
      spans += batch.size();
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return CompletableResultCode.ofSuccess();
    }
  }

  static final class FailingExporter implements SpanExporter {
    int calls;

    @Override
    public CompletableResultCode export(Collection<SpanData> batch) {
      calls++;
      return CompletableResultCode.ofExceptionalFailure(new java.io.IOException("backend said no"));
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return CompletableResultCode.ofSuccess();
    }
  }
}
