package dev.guesttrace.compare;

import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import org.junit.jupiter.api.Test;

class TracingTimeTest {
  /**
   * run 0..1000 µs: a registration exit (10 µs) in the host's run span, then main 100..900 µs with
   * a flush (200 µs) in its child work 200..600 µs and a flush (50 µs) in main itself.
   */
  private static TraceTree run() {
    return tree(
        summary("fib", "host-a", 1.7e9),
        span(
            SpanKind.HOST_RUN,
            0,
            "run",
            0,
            1_000_000,
            span(SpanKind.HOST_EXIT, 0, "trace register", 20_000, 30_000),
            span(
                "main",
                100_000,
                900_000,
                span(
                    "work",
                    200_000,
                    600_000,
                    span(SpanKind.HOST_EXIT, 0, "trace flush", 300_000, 500_000)),
                span(SpanKind.HOST_EXIT, 0, "trace flush", 700_000, 750_000))));
  }

  @Test
  void overhead_perRunAndPerSpanThatPaidIt() {
    TracingTime.Overhead o = TracingTime.overhead(run());

    assertThat(o.exits()).isEqualTo(3);
    assertThat(o.nanos()).isEqualTo(260_000);
    assertThat(o.inGuestNanos()).isEqualTo(250_000);
    assertThat(o.runNanos()).isEqualTo(1_000_000);
    assertThat(o.percentOfRun()).isEqualTo(26.0);
    assertThat(o.bySpan())
        .containsExactly(
            new TracingTime.PerSpan("work", 1, 200_000, 400_000),
            new TracingTime.PerSpan("main", 1, 50_000, 800_000),
            new TracingTime.PerSpan("[host] run", 1, 10_000, 1_000_000));
    assertThat(o.bySpan().get(0).percentOfSpans()).isEqualTo(50.0);
  }

  @Test
  void withoutTracing_eachSpanLosesTheExitsInsideItAndSelfTimeTheExitsDirectlyInIt() {
    TraceTree original = run();
    TraceTree without = TracingTime.withoutTracing(original);

    SpanNode runSpan = without.vcpus().get(0).roots().get(0);
    assertThat(runSpan.durationNanos()).isEqualTo(1_000_000 - 260_000);
    assertThat(runSpan.children()).extracting(SpanNode::name).containsExactly("main");
    SpanNode main = runSpan.children().get(0);
    assertThat(main.durationNanos()).isEqualTo(800_000 - 250_000);
    assertThat(main.selfNanos()).isEqualTo(400_000 - 50_000);
    SpanNode work = main.children().get(0);
    assertThat(work.durationNanos()).isEqualTo(200_000);
    assertThat(work.selfNanos()).isEqualTo(200_000);
    assertThat(work.children()).isEmpty();
    // The original is untouched.
    assertThat(original.vcpus().get(0).roots().get(0).durationNanos()).isEqualTo(1_000_000);
    assertThat(TracingTime.overhead(without).exits()).isZero();
  }
}
