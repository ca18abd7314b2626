package dev.guesttrace.span;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.Diagnostics;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.compare.Comparison;
import dev.guesttrace.compare.ComparisonTextRenderer;
import dev.guesttrace.flame.FlameGraphSvg;
import dev.guesttrace.flame.FoldedStacks;
import dev.guesttrace.render.InfoRenderer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A million nested spans through every tree algorithm this module owns (tree builder, folded
 * stacks, flame graph, compare, info), in the test JVM's ordinary heap (-Xmx1g) and stack: nothing
 * recurses over the input, nothing is quadratic in the depth.
 */
class DeepNestingTest {
  static final int DEPTH = 1_000_000;
  static final long START = SpanTreeBuilderTest.START;

  /**
   * One vCPU, 1 tick per ns from the run's start: span {@code i} of {@code f} is {@code [i + 1, 2 *
   * DEPTH - i + 1]} (self time 2 ns each), inside a host run span {@code [0, 2 * DEPTH + 2]}, with
   * a trace exit at the innermost span that sticks out of it by 4 ns.
   */
  static TraceData chain(boolean ended) {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(SpanTreeBuilderTest.header(1));
    b.onName(0, 1, "f");
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 2L * DEPTH + 2, START + 2L * DEPTH + 2));
    RecordBatch batch = new RecordBatch(4096);
    batch.reset(0);
    for (int i = 0; i < DEPTH; i++) {
      batch.add(RecordKind.SPAN_BEGIN, 1, i + 1, 0, 0);
      if (batch.isFull()) {
        b.onRecords(batch);
        batch.reset(0);
      }
    }
    if (ended) {
      for (int i = DEPTH - 1; i >= 0; i--) {
        batch.add(RecordKind.SPAN_END, 1, 2L * DEPTH - i + 1, 0, 0);
        if (batch.isFull()) {
          b.onRecords(batch);
          batch.reset(0);
        }
      }
    }
    b.onRecords(batch);
    b.onHostSpan(
        new HostSpan(
            0, SpanKind.HOST_EXIT, "trace flush", START + DEPTH, START + DEPTH + 5, DEPTH));
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_RUN, "run", START, START + 2L * DEPTH + 2));
    b.onFinish(
        new TraceEnd(
            "halted", false, START + 2L * DEPTH + 2, LossCounters.NONE, List.of(), List.of()));
    return b.build();
  }

  @Test
  void millionNestedSpans_everyViewWorksAndTheTimesAreExact() throws Exception {
    TraceData data = chain(true);
    SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(data);
    TraceTree tree = built.tree();

    SpanNode run = tree.vcpus().get(0).roots().getFirst();
    assertThat(run.name()).isEqualTo("run");
    assertThat(run.subtreeSize()).isEqualTo(DEPTH + 2L);
    SpanNode n = run;
    int depth = 0;
    while (!n.children().isEmpty()) {
      assertThat(n.children()).hasSize(1);
      n = n.children().getFirst();
      depth++;
      if (depth == 1) {
        assertThat(n.startNanos()).isEqualTo(1);
        assertThat(n.endNanos()).isEqualTo(2L * DEPTH + 1);
      }
    }
    // run, a million f, and the trace exit clamped into the innermost f [DEPTH, DEPTH + 2].
    assertThat(depth).isEqualTo(DEPTH + 1);
    assertThat(n.toString()).isEqualTo("HOST_EXIT trace flush vcpu=0 [1000000, 1000002]");
    assertThat(built.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.SPAN_OUTSIDE_PARENT,
                0,
                1,
                "child span outside its parent, clamped into it (worst by 3 ns): trace flush"
                    + " [1000000, 1000005] outside f [1000000, 1000002] by 3 ns"));

    TreeMap<String, Long> folded = FoldedStacks.fold(tree, false);
    String deepest = "run;" + "f;".repeat(CallPaths.MAX_FRAMES - 1) + CallPaths.DEEPER_FRAME;
    assertThat(folded).hasSize(CallPaths.MAX_FRAMES + 1);
    assertThat(folded.get("run")).isEqualTo(2);
    assertThat(folded.get("run;f")).isEqualTo(2);
    // Every span below the cut: 2 ns each, the innermost's 2 ns taken by its clamped trace exit.
    assertThat(folded.get(deepest)).isEqualTo(2L * (DEPTH - CallPaths.MAX_FRAMES + 1));
    assertThat(folded.values().stream().mapToLong(Long::longValue).sum())
        .isEqualTo(run.durationNanos());

    CountingWriter svg = new CountingWriter();
    FlameGraphSvg.write(tree, svg);
    assertThat(svg.chars).isBetween(100_000L, 2_000_000L);

    Comparison cmp = Comparison.of(List.of(tree), List.of(tree), Comparison.Options.defaults());
    assertThat(cmp.rows()).hasSize(CallPaths.MAX_FRAMES + 1);
    assertThat(cmp.markedRows()).isEmpty();
    Comparison.Row cut =
        cmp.rows().stream().filter(r -> r.path().equals(deepest)).findFirst().orElseThrow();
    // compare excludes tracing by default: the clamped trace exit is not counted on the path.
    assertThat(cut.a().count().median()).isEqualTo(DEPTH - CallPaths.MAX_FRAMES + 1L);
    StringBuilder text = new StringBuilder();
    ComparisonTextRenderer.render(cmp, text);
    assertThat(text).contains("f×" + (CallPaths.MAX_FRAMES - 1));

    StringWriter info = new StringWriter();
    InfoRenderer.render(data, built.calibration(), built.diagnostics(), new PrintWriter(info));
    assertThat(info.toString()).contains("records      2000000", "span_outside_parent");
  }

  @Test
  void millionUnclosedSpans_closedAtTheRunsEndInOneSweep() {
    SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(chain(false));
    SpanNode n = built.tree().vcpus().get(0).roots().getFirst();
    int depth = 0;
    while (!n.children().isEmpty()) {
      n = n.children().getFirst();
      depth++;
      if (n.kind() == SpanKind.GUEST) {
        assertThat(n.unclosed()).isTrue();
        assertThat(n.endNanos()).isEqualTo(2L * DEPTH + 2);
      }
    }
    assertThat(depth).isEqualTo(DEPTH + 1);
    assertThat(built.diagnostics())
        .extracting(Diagnostic::kind, Diagnostic::count)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(Diagnostics.SPAN_UNCLOSED, (long) DEPTH));
  }

  @Test
  void manyIdenticalHostSpans_areSiblingsNotAChain() {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(SpanTreeBuilderTest.header(1));
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 1_000, START + 1_000));
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_RUN, "run", START, START + 1_000));
    for (int i = 0; i < 50_000; i++) {
      b.onHostSpan(new HostSpan(0, SpanKind.HOST_CALL, "HostPrint", START + 500, START + 500));
    }
    SpanNode run = SpanTreeBuilder.build(b.build()).vcpus().get(0).roots().getFirst();
    assertThat(run.children()).hasSize(50_000);
    assertThat(run.subtreeSize()).isEqualTo(50_001);
    Map<String, Long> folded = FoldedStacks.fold(SpanTreeBuilder.build(b.build()), false);
    assertThat(folded).containsExactly(Map.entry("run", 1_000L));
  }

  /**
   * A guest that nests {@code d} spans, ends them all, then writes {@code d} allocations whose TSC
   * went back inside the chain, in no order: each is hung on the innermost span around its time.
   * That search went from the roots for each one, the depth each: 40,000 of each took 8 s, so a
   * file of a few MB of them kept a view busy for hours. Here 150,000 of each, in well under the
   * bound below (52 s before, on a 2-vCPU VM shared with other work; 0.3 s after).
   */
  @Test
  void eventsBackInTimeInsideADeepChain_eachOnItsInnermostSpan_notQuadratic() {
    int d = 150_000;
    TraceData.Builder b = TraceData.builder();
    b.onHeader(SpanTreeBuilderTest.header(1));
    b.onName(0, 1, "f");
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 2L * d + 2, START + 2L * d + 2));
    RecordBatch batch = new RecordBatch(4096);
    batch.reset(0);
    long[] times = new long[d];
    for (int r = 0; r < 3 * d; r++) {
      if (r < d) {
        batch.add(RecordKind.SPAN_BEGIN, 1, r + 1, 0, 0); // span r: [r + 1, 2d - r + 1]
      } else if (r < 2 * d) {
        int i = 2 * d - 1 - r;
        batch.add(RecordKind.SPAN_END, 1, 2L * d - i + 1, 0, 0);
      } else {
        int j = r - 2 * d;
        times[j] = 1 + (j * 7_919L) % (2L * d);
        batch.add(RecordKind.ALLOC, 0, times[j], 0x1000 + j, 16);
      }
      if (batch.isFull()) {
        b.onRecords(batch);
        batch.reset(0);
      }
    }
    b.onRecords(batch);
    b.onFinish(
        new TraceEnd("halted", false, START + 2L * d + 2, LossCounters.NONE, List.of(), List.of()));
    TraceData data = b.build();

    long t0 = System.nanoTime();
    TraceTree tree = SpanTreeBuilder.build(data);
    long millis = (System.nanoTime() - t0) / 1_000_000;

    // The innermost span around time t is span min(t - 1, 2d + 1 - t).
    long[] expected = new long[d];
    for (long t : times) {
      expected[(int) Math.min(t - 1, 2L * d + 1 - t)]++;
    }
    SpanNode n = tree.vcpus().get(0).roots().getFirst();
    for (int i = 0; i < d; i++) {
      if (n.events().size() != expected[i]) {
        assertThat(n.events()).as("events of span " + i).hasSize((int) expected[i]);
      }
      if (i < d - 1) {
        n = n.children().getFirst();
      }
    }
    assertThat(n.childCount()).isZero();
    assertThat(millis).as("build time, ms").isLessThan(10_000);
  }

  /**
   * A run of many guest calls, each around its call's spans: inserting each call closed the places
   * of the spans it took at once, moving every later span of the run each time (quadratic: these
   * 400,000 calls took 16.6 s, a file of a reader's 2 million host spans minutes, on a 2-vCPU VM
   * shared with other work). Now the places stay a gap that moves forward with the calls: 0.5 s.
   */
  @Test
  void manyGuestCallsEachAroundTheirSpans_notQuadratic() {
    int calls = 400_000;
    TraceData.Builder b = TraceData.builder();
    b.onHeader(SpanTreeBuilderTest.header(1));
    b.onName(0, 1, "f");
    b.onName(0, 2, "g");
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 10L * calls + 10, START + 10L * calls + 10));
    RecordBatch batch = new RecordBatch(4096);
    batch.reset(0);
    for (int i = 0; i < calls; i++) {
      batch.add(RecordKind.SPAN_BEGIN, 1, 10L * i + 2, 0, 0);
      batch.add(RecordKind.SPAN_END, 1, 10L * i + 4, 0, 0);
      if (i % 5 != 0) { // some calls around one span, most around two
        batch.add(RecordKind.SPAN_BEGIN, 2, 10L * i + 5, 0, 0);
        batch.add(RecordKind.SPAN_END, 2, 10L * i + 8, 0, 0);
      }
      if (batch.size() > 4000) {
        b.onRecords(batch);
        batch.reset(0);
      }
      b.onHostSpan(
          new HostSpan(
              0, SpanKind.HOST_GUEST_CALL, "Call", START + 10L * i + 1, START + 10L * i + 9));
    }
    b.onRecords(batch);
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_RUN, "run", START, START + 10L * calls + 10));
    TraceData data = b.build();

    long t0 = System.nanoTime();
    TraceTree tree = SpanTreeBuilder.build(data);
    long millis = (System.nanoTime() - t0) / 1_000_000;

    List<SpanNode> roots = tree.vcpus().get(0).roots();
    assertThat(roots).hasSize(1);
    SpanNode run = roots.getFirst();
    assertThat(run.childCount()).isEqualTo(calls);
    assertThat(run.subtreeSize()).isEqualTo(1 + calls + calls + 4L * calls / 5);
    for (int i = 0; i < calls; i += 39_999) {
      SpanNode call = run.children().get(i);
      assertThat(call.toString())
          .isEqualTo("HOST_GUEST_CALL Call vcpu=0 [%d, %d]", 10L * i + 1, 10L * i + 9);
      assertThat(call.children().getFirst().toString())
          .isEqualTo("GUEST f vcpu=0 [%d, %d]", 10L * i + 2, 10L * i + 4);
      if (i % 5 != 0) {
        assertThat(call.children()).hasSize(2);
        assertThat(call.children().get(1).toString())
            .isEqualTo("GUEST g vcpu=0 [%d, %d]", 10L * i + 5, 10L * i + 8);
      } else {
        assertThat(call.children()).hasSize(1);
      }
    }
    assertThat(millis).as("build time, ms").isLessThan(6_000);
  }

  /** Counts what is written, keeps nothing. */
  static final class CountingWriter extends Writer {
    long chars;

    @Override
    public void write(char[] buf, int off, int len) {
      chars += len;
    }

    @Override
    public void write(String s, int off, int len) {
      chars += len;
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }
}
