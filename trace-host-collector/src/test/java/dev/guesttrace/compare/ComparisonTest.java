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
    assertThat(Spread.of(5)).isEqualTo(new Spread(5, 5, 5));
    assertThat(Spread.of(9, 1, 5)).isEqualTo(new Spread(5, 1, 9));
    assertThat(Spread.of(4, 1, 9, 6)).isEqualTo(new Spread(5, 1, 9));
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
    assertThat(fib.a().count()).isEqualTo(new Spread(1, 1, 2));
    assertThat(fib.a().totalNanos()).isEqualTo(new Spread(350_000, 300_000, 400_000));
    assertThat(fib.a().selfNanos()).isEqualTo(new Spread(325_000, 250_000, 400_000));
    Comparison.Row extra = comparison.rows().get(3);
    assertThat(extra.a().count()).isEqualTo(new Spread(0, 0, 1));
    assertThat(extra.a().totalNanos()).isEqualTo(new Spread(5_000, 0, 10_000));
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
  void mark_rangesMustBeApartBeyondEitherSpreadAndFloors() {
    Comparison.Options floors = new Comparison.Options(false, 0.05, 1_000);
    // Apart, difference 10_000 > spreads 2_000 and 4_000, above 5 % of 100_000 and 1 µs.
    assertThat(
            Comparison.mark(
                new Spread(100_000, 99_000, 101_000),
                new Spread(110_000, 108_000, 112_000),
                floors))
        .isEqualTo(Mark.SLOWER);
    assertThat(
            Comparison.mark(
                new Spread(110_000, 108_000, 112_000),
                new Spread(100_000, 99_000, 101_000),
                floors))
        .isEqualTo(Mark.FASTER);
    // Ranges overlap: B's min 101_000 is not above A's max 101_000.
    assertThat(
            Comparison.mark(
                new Spread(100_000, 99_000, 101_000),
                new Spread(110_000, 101_000, 112_000),
                floors))
        .isEqualTo(Mark.NONE);
    // Apart, but the difference 10_000 is not larger than B's spread 10_000.
    assertThat(
            Comparison.mark(
                new Spread(100_000, 99_000, 101_000),
                new Spread(110_000, 102_000, 112_000),
                floors))
        .isEqualTo(Mark.NONE);
    // One run per side: no spread, so the relative floor decides: 4 % is not enough.
    assertThat(
            Comparison.mark(
                new Spread(100_000, 100_000, 100_000),
                new Spread(104_000, 104_000, 104_000),
                floors))
        .isEqualTo(Mark.NONE);
    assertThat(
            Comparison.mark(
                new Spread(100_000, 100_000, 100_000),
                new Spread(105_000, 105_000, 105_000),
                floors))
        .isEqualTo(Mark.SLOWER);
    // A tiny span tripled: below the absolute floor of 1 µs.
    assertThat(Comparison.mark(new Spread(300, 300, 300), new Spread(900, 900, 900), floors))
        .isEqualTo(Mark.NONE);
    // A path that appears only on side B.
    assertThat(Comparison.mark(new Spread(0, 0, 0), new Spread(5_000, 4_000, 6_000), floors))
        .isEqualTo(Mark.SLOWER);
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
