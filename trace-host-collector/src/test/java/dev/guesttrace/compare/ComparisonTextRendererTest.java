package dev.guesttrace.compare;

import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.span.TraceTree;
import java.util.List;
import org.junit.jupiter.api.Test;

class ComparisonTextRendererTest {
  private static TraceTree run(String host, double tscHz, long fibNanos, long printNanos) {
    return tree(
        summary("fib", host, tscHz),
        span(
            "run",
            0,
            10_000 + fibNanos + printNanos,
            span("fib", 5_000, 5_000 + fibNanos),
            span("print", 5_000 + fibNanos, 5_000 + fibNanos + printNanos)));
  }

  @Test
  void render_showsRunsCalibrationRangesAndMarks() {
    Comparison comparison =
        Comparison.ofRuns(
            List.of(
                new Comparison.Run("a1.gtrace", run("host-a", 1.7e9, 100_000, 20_000)),
                new Comparison.Run("a2.gtrace", run("host-a", 1.7e9, 102_000, 20_500))),
            List.of(
                new Comparison.Run("b1.gtrace", run("host-b", 3.1e9, 200_000, 20_200)),
                new Comparison.Run("b2.gtrace", run("host-b", 3.1e9, 204_000, 20_100))),
            Comparison.Options.defaults());
    StringBuilder out = new StringBuilder();

    ComparisonTextRenderer.render(comparison, out);

    assertThat(out.toString())
        .isEqualTo(
            """
            compare: A = 2 runs, B = 2 runs; durations are calibrated nanoseconds (each run's TSC \
            converted with its own calibration), trace exits excluded (--no-exclude-tracing keeps \
            them)
            A  a1.gtrace  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            A  a2.gtrace  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            B  b1.gtrace  fib on host-b, emulated, 1 vCPU, TSC 3.100000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            B  b2.gtrace  fib on host-b, emulated, 1 vCPU, TSC 3.100000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            note: the sides ran at different TSC rates (A 1.700 GHz, B 3.100 GHz); calibrated \
            durations compare directly
            note: with 2 runs against 2 runs the spread is poorly known (with 2 a single stall can \
            hide a change, never make one): take 5 runs per side

            calls A  calls B              total A              total B        B vs A                 self A               self B        B vs A    path
                  1        1     101µs [100..102]     202µs [200..204]  2.00x slower *     101µs [100..102]     202µs [200..204]  2.00x slower *  run;fib
                  1        1     131µs [130..133]     232µs [230..234]  1.77x slower *               10.0µs               10.0µs          same    run
                  1        1  20.3µs [20.0..20.5]  20.2µs [20.1..20.2]          same    20.3µs [20.0..20.5]  20.2µs [20.1..20.2]          same    run;print

            values: median per run [min..max over the side's runs]; B vs A: the medians' ratio, \
            read as B's; * = beyond the noise: B's median and its fastest run both differ from A's \
            by at least 5% of A's median and 1.00µs, and the medians by more than twice the runs' \
            spread
            2 of 3 paths marked: 2 slower in B, 0 faster in B
              total 2.00x slower, self 2.00x slower  run;fib
              total 1.77x slower                     run
            """);
  }

  @Test
  void render_identicalSidesSaySoAndLimitRows() {
    TraceTree one = run("host-a", 1.7e9, 100_000, 20_000);
    Comparison comparison =
        Comparison.of(List.of(one), List.of(one), Comparison.Options.defaults());
    StringBuilder out = new StringBuilder();

    ComparisonTextRenderer.render(comparison, out, 1);

    assertThat(out.toString())
        .isEqualTo(
            """
            compare: A = 1 run, B = 1 run; durations are calibrated nanoseconds (each run's TSC \
            converted with its own calibration), trace exits excluded (--no-exclude-tracing keeps \
            them)
            A  A1  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            B  B1  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            note: with 1 run against 1 run nothing is marked: one run cannot tell a stall from a \
            change; take 5 runs per side

            calls A  calls B  total A  total B  B vs A    self A  self B  B vs A    path
                  1        1    130µs    130µs    same    10.0µs  10.0µs    same    run
            ... 2 more paths

            values: median per run; B vs A: the medians' ratio, read as B's; * = beyond the noise: \
            B's median and its fastest run both differ from A's by at least 5% of A's median and \
            1.00µs, and the medians by more than twice the runs' spread
            no path differs beyond the noise (3 paths compared)
            """);
  }

  @Test
  void ratio_handlesPathsOnOneSideOnly() {
    assertThat(ComparisonTextRenderer.ratio(0, 0, Mark.NONE)).isEqualTo("-  ");
    assertThat(ComparisonTextRenderer.ratio(0, 5, Mark.SLOWER)).isEqualTo("new *");
    assertThat(ComparisonTextRenderer.ratio(5, 0, Mark.FASTER)).isEqualTo("gone *");
    assertThat(ComparisonTextRenderer.ratio(100, 137, Mark.NONE)).isEqualTo("1.37x slower  ");
  }

  @Test
  void ratio_readsTheNaturalWay() {
    assertThat(ComparisonTextRenderer.ratio(5_000, 100, Mark.FASTER)).isEqualTo("50.0x faster *");
    assertThat(ComparisonTextRenderer.ratio(100, 180, Mark.SLOWER)).isEqualTo("1.80x slower *");
    assertThat(ComparisonTextRenderer.ratio(100, 99_900, Mark.NONE)).isEqualTo("999x slower  ");
    assertThat(ComparisonTextRenderer.ratio(1_000, 1_004, Mark.NONE)).isEqualTo("same  ");
    assertThat(ComparisonTextRenderer.ratio(1_000, 996, Mark.NONE)).isEqualTo("same  ");
  }

  @Test
  void durations_useThreeSignificantDigitsAndShareTheUnitInRanges() {
    assertThat(Durations.format(850)).isEqualTo("850ns");
    assertThat(Durations.formatAscii(1_234)).isEqualTo("1.23us");
    assertThat(Durations.format(999_600)).isEqualTo("1.00ms");
    assertThat(Durations.format(12_345_678)).isEqualTo("12.3ms");
    assertThat(Durations.format(3_200_000_000L)).isEqualTo("3.20s");
    assertThat(Durations.format(45_600)).isEqualTo("45.6µs");
    assertThat(Durations.range(173_000, 172_000, 174_400)).isEqualTo("[172..174]");
    assertThat(Durations.range(1_000, 980, 1_020)).isEqualTo("[980ns..1.02µs]");
  }
}
