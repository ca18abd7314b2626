package dev.guesttrace.otel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.TraceTree;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Trace shaping on real runs of the sample guests: per-call traces and their links, the span budget
 * with every cut span counted, the minimum duration, and the hint for backends that refuse spans
 * shorter than a microsecond.
 */
class OtlpShapingTest {
  private final InMemorySpanExporter memory = InMemorySpanExporter.create();

  private static TraceTree run(String guest, int calls) throws Exception {
    GuestProgram program = SampleGuests.find(guest).orElseThrow();
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

  private OtlpExporter.Builder toMemory() {
    return OtlpExporter.builder().setEnvironment(Map.of()).setSpanExporter(memory);
  }

  private static long size(SpanNode node) {
    long n = 0;
    ArrayDeque<SpanNode> stack = new ArrayDeque<>(List.of(node));
    while (!stack.isEmpty()) {
      n++;
      stack.addAll(stack.pop().children());
    }
    return n;
  }

  private static long size(TraceTree tree) {
    long n = 0;
    for (SpanNode top : SpanTreeConverter.topLevel(tree)) {
      n += size(top);
    }
    return n;
  }

  private Map<String, List<SpanData>> byTrace() {
    Map<String, List<SpanData>> traces = new HashMap<>();
    for (SpanData span : memory.getFinishedSpanItems()) {
      traces.computeIfAbsent(span.getTraceId(), k -> new ArrayList<>()).add(span);
    }
    return traces;
  }

  private static List<SpanData> roots(List<SpanData> trace) {
    return trace.stream().filter(s -> !s.getParentSpanContext().isValid()).toList();
  }

  @Test
  void perCall_helloWithFiveCalls_givesFiveCallTracesLinkedToTheRunTrace() throws Exception {
    TraceTree tree = run("hello", 5);
    List<SpanNode> calls = SpanTreeConverter.guestCalls(SpanTreeConverter.topLevel(tree));
    assertThat(calls).hasSize(5);

    ExportResult result = toMemory().setTraceMode(TraceMode.PER_CALL).build().export(tree);

    assertThat(result.isSuccess()).as(result.summary()).isTrue();
    assertThat(result.traces()).isEqualTo(6);
    assertThat(result.callTraceIdsHex()).hasSize(5).doesNotContain(result.traceIdHex());
    assertThat(result.summary()).contains(" in 6 traces (the run's and 5 calls'), run trace ");
    Map<String, List<SpanData>> traces = byTrace();
    assertThat(traces).hasSize(6).containsKey(result.traceIdHex());
    // The run's trace: everything but the calls' insides; each call is a leaf there.
    List<SpanData> runTrace = traces.get(result.traceIdHex());
    long callInsides = 0;
    for (SpanNode call : calls) {
      callInsides += size(call) - 1;
    }
    assertThat((long) runTrace.size()).isEqualTo(size(tree) - callInsides);
    List<SpanData> leaves =
        runTrace.stream().filter(s -> s.getName().equals(calls.getFirst().name())).toList();
    assertThat(leaves).hasSize(5);
    for (int i = 0; i < 5; i++) {
      SpanData leaf = leaves.get(i);
      String callTraceId = result.callTraceIdsHex().get(i);
      assertThat(leaf.getAttributes().get(AttributeKey.stringKey("guesttrace.call.trace_id")))
          .isEqualTo(callTraceId);
      assertThat(leaf.getLinks())
          .extracting(l -> l.getSpanContext().getTraceId())
          .containsExactly(callTraceId);
      // The call's trace: the call and everything below it, rooted at a copy of the call span
      // that links back to the leaf.
      List<SpanData> callTrace = traces.get(callTraceId);
      assertThat((long) callTrace.size()).isEqualTo(size(calls.get(i)));
      SpanData root = roots(callTrace).getFirst();
      assertThat(roots(callTrace)).hasSize(1);
      assertThat(root.getName()).isEqualTo(calls.get(i).name());
      assertThat(root.getStartEpochNanos()).isEqualTo(leaf.getStartEpochNanos());
      assertThat(root.getEndEpochNanos()).isEqualTo(leaf.getEndEpochNanos());
      LinkData back = root.getLinks().getFirst();
      assertThat(back.getSpanContext().getTraceId()).isEqualTo(result.traceIdHex());
      assertThat(back.getSpanContext().getSpanId()).isEqualTo(leaf.getSpanId());
      assertThat(root.getAttributes().get(AttributeKey.stringKey("guesttrace.run.trace_id")))
          .isEqualTo(result.traceIdHex());
    }
    assertThat(result.spansSummarized()).isZero();
    assertThat(result.spansSent()).isEqualTo(memory.getFinishedSpanItems().size());
  }

  @Test
  void perCall_withCallsCutFromTheRunTrace_everyCallStillGetsItsTraceLinkedToTheRun()
      throws Exception {
    TraceTree tree = run("hello", 5);

    ExportResult result =
        toMemory().setTraceMode(TraceMode.PER_CALL).setMaxSpansPerTrace(3).build().export(tree);

    assertThat(result.isSuccess()).as(result.summary()).isTrue();
    assertThat(result.traces()).isEqualTo(6);
    Map<String, List<SpanData>> traces = byTrace();
    assertThat(traces).hasSize(6);
    assertThat(traces.values()).allSatisfy(t -> assertThat(t).hasSizeLessThanOrEqualTo(3));
    for (String callTrace : result.callTraceIdsHex()) {
      SpanData root = roots(traces.get(callTrace)).getFirst();
      // Linked to a span of the run's trace: the call's leaf, or the sent span above it.
      assertThat(root.getLinks()).hasSize(1);
      assertThat(root.getLinks().getFirst().getSpanContext().getTraceId())
          .isEqualTo(result.traceIdHex());
    }
    // The run's trace counts each cut call as one span; the calls' insides are in their traces.
    assertThat(result.spansSent() + result.spansSummarized()).isEqualTo(size(tree) + 5);
  }

  @Test
  void budget_fibWithTwentyCalls_everyTraceWithinTheDefaultsAndEveryCutCounted() throws Exception {
    TraceTree tree = run("fib", 20);
    long total = size(tree);
    assertThat(total).isGreaterThan(400_000);

    for (TraceMode mode : TraceMode.values()) {
      memory.reset();
      ExportResult result = toMemory().setTraceMode(mode).build().export(tree);

      assertThat(result.isSuccess()).as(result.summary()).isTrue();
      Map<String, List<SpanData>> traces = byTrace();
      assertThat(traces).hasSize(mode == TraceMode.PER_RUN ? 1 : 21);
      for (List<SpanData> trace : traces.values()) {
        assertThat((long) trace.size())
            .isLessThanOrEqualTo(OtlpExporter.DEFAULT_MAX_SPANS_PER_TRACE);
        assertThat(roots(trace)).hasSize(1);
      }
      // Every span of the tree is either sent or counted on a sent parent (in per-call mode the 20
      // call spans are sent twice: as leaves of the run's trace and as their traces' roots).
      long duplicates = mode == TraceMode.PER_CALL ? 20 : 0;
      long summarizedOnSpans = 0;
      long summarizing = 0;
      for (SpanData span : memory.getFinishedSpanItems()) {
        Long cut = span.getAttributes().get(AttributeKey.longKey("guesttrace.cut.spans"));
        if (cut != null) {
          summarizedOnSpans += cut;
          summarizing++;
          assertThat(span.getAttributes().get(AttributeKey.stringKey("guesttrace.cut.heaviest")))
              .matches(
                  "[^:;]+: \\d+ spans?, \\d+\\.\\d{3} ms(; [^:;]+: \\d+ spans?, \\d+\\.\\d{3} ms){0,2}");
          assertThat(span.getAttributes().get(AttributeKey.longKey("guesttrace.cut.duration_ns")))
              .isPositive();
        }
      }
      assertThat(result.spansSummarized()).isEqualTo(summarizedOnSpans).isPositive();
      assertThat(result.summarizingSpans()).isEqualTo(summarizing);
      assertThat(result.spansSent() + result.spansSummarized()).isEqualTo(total + duplicates);
      assertThat(result.summary())
          .contains(" more spans summarized on " + summarizing + " parent spans (guesttrace.cut.*)")
          .contains("at most 10000 spans and ~4000000 bytes per trace");
    }
  }

  @Test
  void minSpanDuration_cutsShortSpansOnly() throws Exception {
    TraceTree tree = run("fib", 1);
    long shortSpans = 0;
    long total = size(tree);
    // Spans under 2 µs whose parent is kept: what the rule sees first.
    ArrayDeque<SpanNode> stack = new ArrayDeque<>(SpanTreeConverter.topLevel(tree));
    while (!stack.isEmpty()) {
      SpanNode node = stack.pop();
      for (SpanNode child : node.children()) {
        if (child.durationNanos() < 2_000) {
          shortSpans += size(child);
        } else {
          stack.push(child);
        }
      }
    }
    assertThat(shortSpans).isPositive();

    ExportResult result =
        toMemory()
            .setMaxSpansPerTrace(0)
            .setMaxBytesPerTrace(0)
            .setMinSpanDuration(Duration.ofNanos(2_000))
            .build()
            .export(tree);

    assertThat(result.spansSummarized()).isEqualTo(shortSpans);
    assertThat(result.spansSent()).isEqualTo(total - shortSpans);
    assertThat(memory.getFinishedSpanItems())
        .allSatisfy(
            s ->
                assertThat(s.getEndEpochNanos() - s.getStartEpochNanos())
                    .isGreaterThanOrEqualTo(2_000));
    assertThat(result.summary()).contains("none shorter than 2000 ns");
  }

  @Test
  void unknownStatusWithSubMicrosecondSpans_namesTheOption() throws Exception {
    // Spans that surely start and end within one microsecond tick (a real run's spans may all be
    // longer, on a cold or loaded host: this failed a CI proof).
    TraceTree tree = TestTrees.large(2, 3);
    SpanExporter refusing =
        new SpanExporter() {
          @Override
          public CompletableResultCode export(Collection<SpanData> spans) {
            return CompletableResultCode.ofExceptionalFailure(
                new IllegalStateException("gRPC status UNKNOWN: Application error processing RPC"));
          }

          @Override
          public CompletableResultCode flush() {
            return CompletableResultCode.ofSuccess();
          }

          @Override
          public CompletableResultCode shutdown() {
            return CompletableResultCode.ofSuccess();
          }
        };

    ExportResult plain =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setSpanExporter(refusing)
            .build()
            .export(tree);
    ExportResult stretched =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setSpanExporter(refusing)
            .setMicrosecondSpans(true)
            .build()
            .export(tree);

    assertThat(plain.isSuccess()).isFalse();
    assertThat(plain.summary())
        .containsPattern(
            "gRPC status UNKNOWN: Application error processing RPC \\(\\d+ spans start and end"
                + " within one microsecond, which SkyWalking rejects: export again with"
                + " --otlp-microsecond-spans or GUESTTRACE_OTLP_MICROSECOND_SPANS=true\\)$");
    assertThat(stretched.summary()).endsWith("Application error processing RPC");
  }

  @Test
  void defaultsStayAsBefore_onSmallTrees() {
    ExportResult result = toMemory().build().export(TestTrees.twoVcpus());

    assertThat(result.traces()).isEqualTo(1);
    assertThat(result.spansSummarized()).isZero();
    assertThat(result.summary())
        .doesNotContain("summarized")
        .contains(", trace " + result.traceIdHex());
    assertThat(SpanKind.values()).contains(SpanKind.HOST_EXIT);
  }
}
