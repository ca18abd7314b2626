package dev.guesttrace.compare;

import static dev.guesttrace.compare.TestTrees.fibRun;
import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.TraceTree;
import java.util.List;
import org.junit.jupiter.api.Test;

class ComparisonTest {
  private static final RunSummary HOST_A = summary("fib", "host-a", 1.7e9);
  private static final RunSummary HOST_B = summary("fib", "host-b", 3.1e9);
  private static final Comparison.Options DEFAULTS = Comparison.Options.defaults();

  @Test
  void spread_oddAndEvenCounts() {
    assertThat(Spread.of(5)).isEqualTo(new Spread(5, 5, 5, 0));
    assertThat(Spread.of(9, 1, 5)).isEqualTo(new Spread(5, 1, 9, 4));
    assertThat(Spread.of(4, 1, 9, 6)).isEqualTo(new Spread(5, 1, 9, 2));
    // One wild run moves neither the median nor the deviation much.
    assertThat(Spread.of(100, 101, 99, 102, 5_000)).isEqualTo(new Spread(101, 99, 5_000, 1));
    assertThat(Spread.of(Long.MAX_VALUE, Long.MAX_VALUE - 2).median())
        .isEqualTo(Long.MAX_VALUE - 1);
    assertThatThrownBy(Spread::of).hasMessage("perRun.length=0: a side has at least one run");
  }

  @Test
  void of_alignsByPathAndSumsPerRun() {
    // Two fib calls at the same depth share one path; the second run lacks "extra" entirely.
    TraceTree a1 =
        tree(
            HOST_A,
            span(
                "run",
                0,
                1_000_000,
                span("fib", 100_000, 300_000, span("leaf", 100_000, 150_000)),
                span("fib", 400_000, 500_000),
                span("extra", 600_000, 610_000)));
    TraceTree a2 = tree(HOST_A, span("run", 0, 1_200_000, span("fib", 0, 400_000)));

    Comparison comparison = Comparison.of(List.of(a1, a2), List.of(a1, a2), DEFAULTS);

    assertThat(comparison.rows())
        .extracting(Comparison.Row::path)
        .containsExactly("run", "run;fib", "run;fib;leaf", "run;extra");
    Comparison.Row fib = comparison.rows().get(1);
    assertThat(fib.a().count()).isEqualTo(new Spread(1, 1, 2, 0));
    assertThat(fib.a().totalNanos()).isEqualTo(new Spread(350_000, 300_000, 400_000, 50_000));
    assertThat(fib.a().selfNanos()).isEqualTo(new Spread(325_000, 250_000, 400_000, 75_000));
    Comparison.Row extra = comparison.rows().get(3);
    assertThat(extra.a().count()).isEqualTo(new Spread(0, 0, 1, 0));
    assertThat(extra.a().totalNanos()).isEqualTo(new Spread(5_000, 0, 10_000, 5_000));
  }

  @Test
  void of_identicalRunsMarkNothing() {
    List<TraceTree> runs =
        List.of(
            fibRun(HOST_A, 3, 8, 400, 0.05, 1),
            fibRun(HOST_A, 3, 8, 400, 0.05, 2),
            fibRun(HOST_A, 3, 8, 400, 0.05, 3));

    Comparison comparison = Comparison.of(runs, runs, DEFAULTS);

    assertThat(comparison.rows()).hasSize(15);
    assertThat(comparison.markedRows()).isEmpty();
    assertThat(comparison.rows()).allSatisfy(row -> assertThat(row.impactNanos()).isZero());
  }

  @Test
  void of_sameGuestAtDifferentTscRatesWithNoiseMarksNothing() {
    Comparison comparison =
        Comparison.of(
            List.of(
                fibRun(HOST_A, 3, 8, 400, 0.05, 1),
                fibRun(HOST_A, 3, 8, 400, 0.05, 2),
                fibRun(HOST_A, 3, 8, 400, 0.05, 3)),
            List.of(
                fibRun(HOST_B, 3, 8, 400, 0.05, 4),
                fibRun(HOST_B, 3, 8, 400, 0.05, 5),
                fibRun(HOST_B, 3, 8, 400, 0.05, 6)),
            DEFAULTS);

    assertThat(comparison.markedRows()).isEmpty();
  }

  @Test
  void of_pathMadeTwiceAsSlowIsMarkedWhereItsTimeGoes() {
    Comparison comparison =
        Comparison.of(
            List.of(
                fibRun(HOST_A, 3, 8, 400, 0.05, 1),
                fibRun(HOST_A, 3, 8, 400, 0.05, 2),
                fibRun(HOST_A, 3, 8, 400, 0.05, 3)),
            List.of(
                fibRun(HOST_B, 3, 8, 800, 0.05, 4),
                fibRun(HOST_B, 3, 8, 800, 0.05, 5),
                fibRun(HOST_B, 3, 8, 800, 0.05, 6)),
            DEFAULTS);

    String fibRoot =
        "run;guest_call fib;dispatch_function;internal_dispatch_function;"
            + "call_guest_function;fib";
    Comparison.Row fib = row(comparison, fibRoot);
    assertThat(fib.totalMark()).isEqualTo(Mark.SLOWER);
    assertThat(fib.selfMark()).isEqualTo(Mark.SLOWER);
    assertThat(fib.totalRatio()).isBetween(1.9, 2.1);
    // The ancestors take longer in total, but their own code did not change.
    Comparison.Row run = row(comparison, "run");
    assertThat(run.totalMark()).isEqualTo(Mark.SLOWER);
    assertThat(run.selfMark()).isEqualTo(Mark.NONE);
    // Sorted by impact: the chain from run down to fib changes by about the same amount.
    assertThat(comparison.rows().subList(0, 6))
        .extracting(Comparison.Row::path)
        .containsExactlyInAnyOrder(
            "run",
            "run;guest_call fib",
            "run;guest_call fib;dispatch_function",
            "run;guest_call fib;dispatch_function;internal_dispatch_function",
            "run;guest_call fib;dispatch_function;internal_dispatch_function;call_guest_function",
            fibRoot);
    assertThat(
            row(
                    comparison,
                    "run;guest_call fib;dispatch_function;internal_dispatch_function;"
                        + "call_guest_function;print")
                .marked())
        .isFalse();
  }

  @Test
  void of_perVcpuPrefixesPathsWithTheVcpu() {
    TraceTree twoVcpus =
        tree(
            HOST_A,
            new TraceTree.VcpuTree(0, List.of(span(SpanKind.HOST_RUN, 0, "run", 0, 100))),
            new TraceTree.VcpuTree(1, List.of(span(SpanKind.HOST_RUN, 1, "run", 0, 300))));

    Comparison merged = Comparison.of(List.of(twoVcpus), List.of(twoVcpus), DEFAULTS);
    Comparison perVcpu =
        Comparison.of(List.of(twoVcpus), List.of(twoVcpus), DEFAULTS.withPerVcpu(true));

    assertThat(merged.rows())
        .singleElement()
        .satisfies(
            row -> {
              assertThat(row.path()).isEqualTo("run");
              assertThat(row.a().count().median()).isEqualTo(2);
              assertThat(row.a().totalNanos().median()).isEqualTo(400);
            });
    assertThat(perVcpu.rows())
        .extracting(Comparison.Row::path)
        .containsExactly("vcpu 1;run", "vcpu 0;run");
  }

  @Test
  void mark_mediansFastestRunsAndSpreadMustAllAgree() {
    Comparison.Options floors = new Comparison.Options(false, 0.05, 1_000);
    // Medians 10 µs apart, fastest runs 9 µs apart (both >= 5 % of 100 µs), spread 2 * 2 µs.
    assertThat(
            mark(
                spread(100_000, 99_000, 101_000, 1_000),
                spread(110_000, 108_000, 112_000, 1_000),
                floors))
        .isEqualTo(Mark.SLOWER);
    assertThat(
            mark(
                spread(110_000, 108_000, 112_000, 1_000),
                spread(100_000, 99_000, 101_000, 1_000),
                floors))
        .isEqualTo(Mark.FASTER);
    // Fastest runs only 4_999 apart: short of 5 % of A's median.
    assertThat(
            mark(
                spread(100_000, 99_000, 101_000, 1_000),
                spread(110_000, 103_999, 112_000, 1_000),
                floors))
        .isEqualTo(Mark.NONE);
    // Medians apart by less than twice the spread.
    assertThat(
            mark(
                spread(100_000, 90_000, 130_000, 3_000),
                spread(110_000, 100_000, 140_000, 3_000),
                floors))
        .isEqualTo(Mark.NONE);
    // Overlapping ranges no longer hide a change: one stalled run of A (max 16.1 µs) and one of B.
    assertThat(
            mark(
                spread(2_400, 2_300, 16_100, 100),
                spread(78_600, 54_000, 1_800_000, 5_000),
                floors))
        .isEqualTo(Mark.SLOWER);
    // A single stall in one run of B: its median and deviation barely move, its fastest run not at
    // all.
    assertThat(
            mark(
                Spread.of(100_000, 100_500, 99_800, 100_200, 101_000),
                Spread.of(100_100, 100_400, 99_900, 100_300, 2_000_000),
                floors))
        .isEqualTo(Mark.NONE);
    // A tiny span tripled: 600 ns is below the absolute floor of 1 µs.
    assertThat(mark(spread(300, 300, 300, 0), spread(900, 900, 900, 0), floors))
        .isEqualTo(Mark.NONE);
    // A path that appears only on side B.
    assertThat(mark(spread(0, 0, 0, 0), spread(5_000, 4_000, 6_000, 500), floors))
        .isEqualTo(Mark.SLOWER);
    // No floors: any difference beyond the spread marks; none does not.
    Comparison.Options none = new Comparison.Options(false, 0, 0);
    assertThat(mark(spread(10, 9, 11, 0), spread(12, 12, 12, 0), none)).isEqualTo(Mark.SLOWER);
    assertThat(mark(spread(10, 9, 11, 0), spread(10, 9, 11, 0), none)).isEqualTo(Mark.NONE);
  }

  @Test
  void of_oneRunASideMarksNothingWhateverTheDifference() {
    Comparison one =
        Comparison.of(
            List.of(fibRun(HOST_A, 3, 8, 400, 0.05, 1)),
            List.of(fibRun(HOST_B, 3, 8, 4_000, 0.05, 4)),
            DEFAULTS);

    assertThat(one.tooFewRunsToMark()).isTrue();
    assertThat(one.markedRows()).isEmpty();
  }

  @Test
  void of_aStallInOneRunOfEachSideCannotMarkAPath() {
    // Five equal runs a side; one run of B has a 5 ms stall inside its fib root.
    List<TraceTree> a = new java.util.ArrayList<>();
    List<TraceTree> b = new java.util.ArrayList<>();
    for (int i = 0; i < 5; i++) {
      a.add(fibRun(HOST_A, 3, 8, 400, 0.05, i));
      b.add(
          i == 2
              ? fibRun(HOST_B, 3, 8, 400, 0.05, 10 + i, 5_000_000)
              : fibRun(HOST_B, 3, 8, 400, 0.05, 10 + i));
    }

    assertThat(Comparison.of(a, b, DEFAULTS).markedRows()).isEmpty();
  }

  @Test
  void of_traceExitsExcludedByDefault_aFlushInsideASpanIsNotItsTime() {
    // The same guest work on both sides; on B a 40 µs trace flush interrupted "work".
    List<TraceTree> a = new java.util.ArrayList<>();
    List<TraceTree> b = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      a.add(tree(HOST_A, span("run", 0, 200_000, span("work", 10_000, 110_000 + i))));
      b.add(
          tree(
              HOST_B,
              span(
                  "run",
                  0,
                  240_000,
                  span(
                      "work",
                      10_000,
                      150_000 + i,
                      span(SpanKind.HOST_EXIT, 0, "trace flush", 50_000, 90_000)))));
    }

    Comparison excluded = Comparison.of(a, b, DEFAULTS);
    Comparison included = Comparison.of(a, b, DEFAULTS.withExcludeTracing(false));

    assertThat(row(excluded, "run;work").marked()).isFalse();
    assertThat(row(excluded, "run;work").b().selfNanos().median()).isEqualTo(100_001);
    assertThat(excluded.rows())
        .extracting(Comparison.Row::path)
        .doesNotContain("run;work;trace flush");
    assertThat(row(included, "run;work").totalMark()).isEqualTo(Mark.SLOWER);
  }

  private static Mark mark(Spread a, Spread b, Comparison.Options options) {
    return Comparison.mark(a, b, options);
  }

  private static Spread spread(long median, long min, long max, long deviation) {
    return new Spread(median, min, max, deviation);
  }

  @Test
  void displayPath_collapsesRecursion() {
    TraceTree deep =
        tree(HOST_A, span("run", 0, 10, span("fib", 1, 9, span("fib", 2, 8, span("x", 3, 4)))));
    Comparison comparison = Comparison.of(List.of(deep), List.of(deep), DEFAULTS);

    assertThat(comparison.rows())
        .extracting(Comparison.Row::displayPath)
        .containsExactly("run", "run;fib", "run;fib×2", "run;fib×2;x");
    StringBuilder text = new StringBuilder();
    ComparisonTextRenderer.render(comparison, text);
    assertThat(text.toString()).contains("  run;fib×2;x\n", "; fib×3 = fib;fib;fib\n");
  }

  @Test
  void of_rejectsAnEmptySide() {
    TraceTree one = tree(HOST_A, span("run", 0, 1));
    assertThatThrownBy(() -> Comparison.of(List.of(one), List.of(), DEFAULTS))
        .hasMessage("each side needs at least one run: a=1 b=0");
  }

  private static Comparison.Row row(Comparison comparison, String path) {
    return comparison.rows().stream()
        .filter(r -> r.path().equals(path))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no row " + path));
  }
}
