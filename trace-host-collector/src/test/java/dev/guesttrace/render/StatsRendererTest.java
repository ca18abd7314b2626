package dev.guesttrace.render;

import static dev.guesttrace.compare.TestTrees.span;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.guesttrace.compare.TestTrees;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class StatsRendererTest {
  static final StatsRenderer.Options DEFAULTS = StatsRenderer.Options.defaults();

  static StatsRenderer.Options by(StatsRenderer.By by) {
    return new StatsRenderer.Options(by, StatsRenderer.Sort.TOTAL, 0, OptionalInt.empty(), false);
  }

  static TraceTree one(SpanNode root) {
    return TestTrees.tree(TestTrees.summary("t", "h", 1e9), root);
  }

  static StatsRenderer.Row row(StatsRenderer.Report report, String name) {
    return report.rows().stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow();
  }

  /** run 0..1000 > fib 0..100 > fib 10..90 > fib 20..80: fib's total is 100, not 240. */
  static TraceTree recursive() {
    return one(
        span(
            SpanKind.HOST_RUN,
            0,
            "run",
            0,
            1000,
            span("fib", 0, 100, span("fib", 10, 90, span("fib", 20, 80)))));
  }

  @Test
  void recursiveCalls_countTheirTimeOnceAndNeverExceedTheRun() {
    StatsRenderer.Report report = StatsRenderer.compute(recursive(), DEFAULTS);
    assertThat(report.rows())
        .containsExactly(
            new StatsRenderer.Row("[host] run", 1, 1000, 900, 1000, 1000, 1000, 1000),
            new StatsRenderer.Row("fib", 3, 100, 20 + 20 + 60, 60, 80, 100, 100));
    assertThat(report.runNanos()).isEqualTo(1000);
    assertThat(report.percentOfRun(row(report, "fib").totalNanos())).isEqualTo(10.0);
  }

  @Test
  void byPath_oneRowPerPathWithRepeatsFolded() {
    StatsRenderer.Report report = StatsRenderer.compute(recursive(), by(StatsRenderer.By.PATH));
    assertThat(report.rows())
        .extracting(StatsRenderer.Row::name, StatsRenderer.Row::totalNanos)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("[host] run", 1000L),
            org.assertj.core.groups.Tuple.tuple("[host] run;fib", 100L),
            org.assertj.core.groups.Tuple.tuple("[host] run;fib×2", 80L),
            org.assertj.core.groups.Tuple.tuple("[host] run;fib×3", 60L));
  }

  /** g 0..100 > c 30..80 > [host] trace flush 40..70, and a flush outside any guest span. */
  static TraceTree traced() {
    return one(
        span(
            SpanKind.HOST_RUN,
            0,
            "run",
            0,
            200,
            span(
                "g", 0, 100, span("c", 30, 80, span(SpanKind.HOST_EXIT, 0, "trace flush", 40, 70))),
            span(SpanKind.HOST_EXIT, 0, "trace register", 150, 160)));
  }

  @Test
  void traceExits_areRowsAndOneOverheadFigure() {
    StatsRenderer.Report report = StatsRenderer.compute(traced(), DEFAULTS);
    assertThat(row(report, "g")).extracting("totalNanos", "selfNanos").containsExactly(100L, 50L);
    assertThat(row(report, "c")).extracting("totalNanos", "selfNanos").containsExactly(50L, 20L);
    assertThat(row(report, "[host] trace flush").totalNanos()).isEqualTo(30);
    assertThat(row(report, "[host] run").selfNanos()).isEqualTo(200 - 100 - 10);
    assertThat(report.tracingExits()).isEqualTo(2);
    assertThat(report.tracingNanos()).isEqualTo(40);
    assertThat(report.tracingInGuestNanos()).isEqualTo(30);
  }

  @Test
  void excludeTracing_subtractsExitsFromEverySpanTheyInterrupted() {
    StatsRenderer.Report report =
        StatsRenderer.compute(
            traced(),
            new StatsRenderer.Options(
                StatsRenderer.By.FUNCTION, StatsRenderer.Sort.NAME, 0, OptionalInt.empty(), true));
    assertThat(report.rows())
        .extracting(
            StatsRenderer.Row::name, StatsRenderer.Row::totalNanos, StatsRenderer.Row::selfNanos)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("[host] run", 160L, 90L),
            org.assertj.core.groups.Tuple.tuple("c", 20L, 20L),
            org.assertj.core.groups.Tuple.tuple("g", 70L, 50L));
    assertThat(report.spans()).isEqualTo(3);
    assertThat(report.tracingNanos()).isEqualTo(40);
  }

  @Test
  void vcpuSortAndTop_shapeTheTable() {
    TraceTree tree =
        TestTrees.tree(
            TestTrees.summary("t", "h", 1e9),
            new TraceTree.VcpuTree(0, List.of(span("a", 0, 400, span("b", 0, 100)))),
            new TraceTree.VcpuTree(
                1,
                List.of(
                    span(SpanKind.GUEST, 1, "a", 0, 100, span(SpanKind.GUEST, 1, "c", 0, 90)))));
    StatsRenderer.Report all = StatsRenderer.compute(tree, DEFAULTS);
    assertThat(all.runNanos()).isEqualTo(500);
    assertThat(all.vcpus()).isEqualTo(2);
    assertThat(row(all, "a").count()).isEqualTo(2);
    StatsRenderer.Options onlyOne =
        new StatsRenderer.Options(
            StatsRenderer.By.FUNCTION, StatsRenderer.Sort.SELF, 1, OptionalInt.of(1), false);
    StatsRenderer.Report one = StatsRenderer.compute(tree, onlyOne);
    assertThat(one.rows()).extracting(StatsRenderer.Row::name).containsExactly("c", "a");
    StringWriter text = new StringWriter();
    StatsRenderer.render(one, onlyOne, OutputFormat.TEXT, new PrintWriter(text));
    assertThat(text.toString())
        .isEqualTo(
            """
            run 100ns on 1 vCPU (vCPU 1), 2 spans; by function, sorted by self
            function    count      total   %run       self   %run        min     median        p99        max
            c               1       90ns  90.0%       90ns  90.0%       90ns       90ns       90ns       90ns
            ... 1 more rows (--top 0 shows all)
            tracing overhead: 0 trace exits, 0ns (0.0% of run), 0ns inside guest spans (--exclude-tracing subtracts them)
            total counts a recursive call once; median, p99 exact up to 1024 calls, beyond from HdrHistogram (3 significant digits)
            """);
  }

  @Test
  void percentiles_pastTheExactLimitComeFromHdrHistogramWithinItsPrecision() {
    SpanNode run = span(SpanKind.HOST_RUN, 0, "run", 0, 100_000_000);
    for (int i = 1; i <= 5000; i++) {
      run.addChild(span("call", i * 10_000L, i * 10_000L + i * 100L));
    }
    StatsRenderer.Row call = row(StatsRenderer.compute(one(run), DEFAULTS), "call");
    assertThat(call.count()).isGreaterThan(StatsRenderer.EXACT_CALLS);
    assertThat(call.minNanos()).isEqualTo(100);
    assertThat(call.maxNanos()).isEqualTo(500_000);
    assertThat(call.medianNanos())
        .isNotEqualTo(250_000)
        .isCloseTo(250_000, org.assertj.core.data.Percentage.withPercentage(0.1));
    assertThat(call.p99Nanos())
        .isCloseTo(495_000, org.assertj.core.data.Percentage.withPercentage(0.1));
  }

  @Test
  void deepNesting_isWalkedWithoutRecursion() {
    SpanNode root = span("f", 0, 2_000_000);
    SpanNode at = root;
    for (int i = 1; i < 20_000; i++) {
      SpanNode child = span("f", i, 2_000_000 - i);
      at.addChild(child);
      at = child;
    }
    StatsRenderer.Row f = StatsRenderer.compute(one(root), DEFAULTS).rows().get(0);
    assertThat(f.count()).isEqualTo(20_000);
    assertThat(f.totalNanos()).isEqualTo(2_000_000);
    StatsRenderer.Report paths = StatsRenderer.compute(one(root), by(StatsRenderer.By.PATH));
    assertThat(paths.rows()).hasSize(StatsRenderer.MAX_ROWS + 1);
    assertThat(paths.overflowSpans()).isEqualTo(20_000 - StatsRenderer.MAX_ROWS);
    assertThat(row(paths, StatsRenderer.OTHER).count()).isEqualTo(20_000 - StatsRenderer.MAX_ROWS);
    assertThat(row(paths, "f×" + StatsRenderer.MAX_ROWS).count()).isEqualTo(1);
  }

  @Test
  void json_isTheDocumentedSchema() throws Exception {
    StringWriter text = new StringWriter();
    StatsRenderer.render(
        StatsRenderer.compute(traced(), DEFAULTS),
        DEFAULTS,
        OutputFormat.JSON,
        new PrintWriter(text));
    JsonNode json = new ObjectMapper().readTree(text.toString());
    assertThat(json.get("schema").asText()).isEqualTo("guesttrace.stats/1");
    assertThat(json.get("run_ns").asLong()).isEqualTo(200);
    assertThat(json.get("tracing").get("exits").asLong()).isEqualTo(2);
    assertThat(json.get("rows").get(0).get("name").asText()).isEqualTo("[host] run");
    assertThat(json.get("rows").get(0).get("self_ns").asLong()).isEqualTo(90);
    StringWriter csv = new StringWriter();
    StatsRenderer.render(
        StatsRenderer.compute(traced(), DEFAULTS),
        DEFAULTS,
        OutputFormat.CSV,
        new PrintWriter(csv));
    assertThat(csv.toString().lines())
        .first()
        .isEqualTo("name,count,total_ns,self_ns,min_ns,median_ns,p99_ns,max_ns,total_pct,self_pct");
    assertThat(csv.toString().lines()).contains("g,1,100,50,100,100,100,100,50.000,25.000");
  }
}
