package dev.guesttrace.render;

import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.withEvents;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.guesttrace.compare.TestTrees;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class AllocsRendererTest {
  static SpanEvent alloc(long t, long address, long bytes) {
    return new SpanEvent(t, SpanEvent.Kind.ALLOC, "", address, bytes);
  }

  static SpanEvent free(long t, long address) {
    return new SpanEvent(t, SpanEvent.Kind.FREE, "", address, 0);
  }

  /**
   * vCPU 0 (run from 1000 ns): a allocates 0x10 (100 B) and 0x20 (50 B), b allocates 0x30 (1000 B)
   * then frees 0x10. vCPU 1: c frees 0x30 (allocated on vCPU 0), frees 0x30 again, frees 0x99
   * (never allocated), allocates 0x20 while it is still live.
   */
  static TraceTree tree() {
    return TestTrees.tree(
        TestTrees.summary("t", "h", 1e9),
        new TraceTree.VcpuTree(
            0,
            List.of(
                span(
                    SpanKind.HOST_RUN,
                    0,
                    "run",
                    1_000,
                    100_000,
                    withEvents(
                        span("a", 2_000, 10_000), alloc(3_000, 0x10, 100), alloc(4_000, 0x20, 50)),
                    withEvents(
                        span("b", 11_000, 20_000),
                        alloc(12_000, 0x30, 1000),
                        free(13_000, 0x10))))),
        new TraceTree.VcpuTree(
            1,
            List.of(
                withEvents(
                    span(SpanKind.GUEST, 1, "c", 30_000, 40_000),
                    free(31_000, 0x30),
                    free(32_000, 0x30),
                    free(33_000, 0x99),
                    alloc(34_000, 0x20, 70)))));
  }

  @Test
  void replay_acrossVcpus_countsPeakLeaksAndUnmatchedFrees() {
    AllocsRenderer.Report r = AllocsRenderer.compute(tree());
    assertThat(r.allocs()).isEqualTo(4);
    assertThat(r.allocBytes()).isEqualTo(1220);
    assertThat(r.frees()).isEqualTo(2);
    assertThat(r.freedBytes()).isEqualTo(1100);
    assertThat(r.unknownFrees()).isEqualTo(2);
    assertThat(r.reallocatedLive()).isEqualTo(1);
    assertThat(r.peakLiveBytes()).isEqualTo(1150);
    assertThat(r.peakLiveBlocks()).isEqualTo(3);
    assertThat(r.peakTimeNanos()).isEqualTo(11_000);
    assertThat(r.leakBlocks()).isEqualTo(1);
    assertThat(r.leakBytes()).isEqualTo(70);
    assertThat(r.leaks()).containsExactly(new AllocsRenderer.Leak(0x20, 70, 33_000, 1, "c"));
    assertThat(r.rows())
        .containsExactly(
            new AllocsRenderer.PathRow("[host] run;b", 1, 1000, 1, 100, 0, 0),
            new AllocsRenderer.PathRow("[host] run;a", 2, 150, 0, 0, 0, 0),
            new AllocsRenderer.PathRow("c", 1, 70, 1, 1000, 1, 70));
  }

  @Test
  void text_andJson() throws Exception {
    StringWriter text = new StringWriter();
    AllocsRenderer.render(AllocsRenderer.compute(tree()), OutputFormat.TEXT, new PrintWriter(text));
    assertThat(text.toString())
        .isEqualTo(
            """
            allocations  4 (1.19 KiB), 2 freed (1.07 KiB)
            peak live    1.12 KiB in 3 blocks, first at 11µs after the run's start
            never freed  1 block, 70 B
            unmatched    2 frees of an address not live (never allocated in the trace, or freed twice); 1 allocations at an address still live

            call path      allocs      bytes    frees      freed     live live bytes
            [host] run;b        1     1000 B        1      100 B        0        0 B
            [host] run;a        2      150 B        0        0 B        0        0 B
            c                   1       70 B        1     1000 B        1       70 B

            blocks never freed, largest first (1 of 1):
              0x20 70 B allocated at 33µs on vCPU 1 in c
            """);
    StringWriter json = new StringWriter();
    AllocsRenderer.render(AllocsRenderer.compute(tree()), OutputFormat.JSON, new PrintWriter(json));
    JsonNode doc = new ObjectMapper().readTree(json.toString());
    assertThat(doc.get("schema").asText()).isEqualTo("guesttrace.allocs/1");
    assertThat(doc.get("peak").get("live_bytes").asLong()).isEqualTo(1150);
    assertThat(doc.get("never_freed").get("largest").get(0).get("address").asLong())
        .isEqualTo(0x20);
    assertThat(doc.get("paths")).hasSize(3);
  }

  @Test
  void noRecords_saysSo() {
    StringWriter text = new StringWriter();
    AllocsRenderer.render(
        AllocsRenderer.compute(TestTrees.tree(TestTrees.summary("t", "h", 1e9), span("x", 0, 1))),
        OutputFormat.TEXT,
        new PrintWriter(text));
    assertThat(text.toString())
        .isEqualTo(
            "no allocation records in this trace (the guest records them with alloc/free)\n");
  }
}
