package dev.guesttrace.compare;

import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

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
            converted with its own calibration)
            A  a1.gtrace  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            A  a2.gtrace  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            B  b1.gtrace  fib on host-b, emulated, 1 vCPU, TSC 3.100000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            B  b2.gtrace  fib on host-b, emulated, 1 vCPU, TSC 3.100000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            note: the sides ran at different TSC rates (A 1.700 GHz, B 3.100 GHz); calibrated \
            durations compare directly
            note: with 2 runs against 2 runs, noise alone puts all runs of B above all runs of A on \
            16.7% of paths; only the floors guard the marks: take 5 runs per side

            calls A  calls B              total A              total B    B/A                 self A               self B    B/A    path
                  1        1     101µs [100..102]     202µs [200..204]  2.00x *     101µs [100..102]     202µs [200..204]  2.00x *  run;fib
                  1        1     131µs [130..133]     232µs [230..234]  1.77x *               10.0µs               10.0µs  1.00x    run
                  1        1  20.3µs [20.0..20.5]  20.2µs [20.1..20.2]  1.00x    20.3µs [20.0..20.5]  20.2µs [20.1..20.2]  1.00x    run;print

            values: median per run [min..max over the side's runs]; B/A: ratio of the medians; * = \
            beyond the noise: every run of B differs from every run of A by at least 5% of A's \
            median and 1.00µs
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
            converted with its own calibration)
            A  A1  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            B  B1  fib on host-a, emulated, 1 vCPU, TSC 1.700000 GHz ±0.4 ppm, Test CPU @ 2.60GHz
            note: with 1 run against 1 run, noise alone puts all runs of B above all runs of A on 50% \
            of paths; only the floors guard the marks: take 5 runs per side

            calls A  calls B  total A  total B    B/A    self A  self B    B/A    path
                  1        1    130µs    130µs  1.00x    10.0µs  10.0µs  1.00x    run
            ... 2 more paths

            values: median per run; B/A: ratio of the medians; * = beyond the noise: every run \
            of B differs from every run of A by at least 5% of A's median and 1.00µs
            no path differs beyond the noise (3 paths compared)
            """);
  }

  @Test
  void chanceOfSeparation_isOneOverTheBinomial() {
    assertThat(ComparisonTextRenderer.chanceOfSeparation(1, 1)).isEqualTo(0.5);
    assertThat(ComparisonTextRenderer.chanceOfSeparation(3, 3)).isCloseTo(1 / 20.0, within(1e-12));
    assertThat(ComparisonTextRenderer.chanceOfSeparation(5, 5)).isCloseTo(1 / 252.0, within(1e-12));
    assertThat(ComparisonTextRenderer.chanceOfSeparation(2, 6)).isCloseTo(1 / 28.0, within(1e-12));
  }

  @Test
  void ratio_handlesPathsOnOneSideOnly() {
    assertThat(ComparisonTextRenderer.ratio(0, 0, Mark.NONE)).isEqualTo("-  ");
    assertThat(ComparisonTextRenderer.ratio(0, 5, Mark.SLOWER)).isEqualTo("new *");
    assertThat(ComparisonTextRenderer.ratio(5, 0, Mark.FASTER)).isEqualTo("gone *");
    assertThat(ComparisonTextRenderer.ratio(100, 137, Mark.NONE)).isEqualTo("1.37x  ");
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
