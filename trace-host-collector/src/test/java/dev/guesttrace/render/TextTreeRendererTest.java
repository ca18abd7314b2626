package dev.guesttrace.render;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextTreeRendererTest {
  static final RunSummary SUMMARY =
      new RunSummary(
          "hello",
          "emulated",
          1,
          "host",
          "cpu",
          "Linux",
          "amd64",
          "jvm",
          true,
          0,
          2.5e9,
          0.1,
          10,
          "halted");

  static TraceTree sample() {
    SpanNode run = new SpanNode("run hello", SpanKind.HOST_RUN, 0, 0, 61_051_000, 0, 0);
    SpanNode entry = new SpanNode("entrypoint", SpanKind.GUEST, 0, 58_197_400, 58_500_000, 0, 0);
    SpanNode gdt = new SpanNode("load_gdt", SpanKind.GUEST, 0, 58_294_000, 58_314_300, 0, 0);
    entry.addChild(gdt);
    entry.addEvent(
        new SpanEvent(58_440_000, SpanEvent.Kind.MESSAGE, "hyperlight_main\u001b[31m", 0, 0));
    SpanNode halt = new SpanNode("halt", SpanKind.GUEST, 0, 58_574_000, 0, 0, 0);
    halt.end(61_051_000, true);
    run.addChild(entry);
    run.addChild(halt);
    halt.addEvent(new SpanEvent(59_000_000, SpanEvent.Kind.ALLOC, "", 0x1000, 64));
    return new TraceTree(SUMMARY, List.of(new TraceTree.VcpuTree(0, List.of(run))));
  }

  static String render(TextTreeRenderer renderer, TraceTree tree) {
    StringWriter text = new StringWriter();
    renderer.render(tree, new PrintWriter(text));
    return text.toString();
  }

  @Test
  void full_seedFormatWithDurationsAndEvents() {
    assertThat(render(TextTreeRenderer.full(), sample()))
        .isEqualTo(
            """
            [0ms      ] > [host] run hello
            [58.197ms ]   > entrypoint
            [58.294ms ]     > load_gdt
            [58.314ms ]     < load_gdt 20.3µs
            [58.44ms  ]     hyperlight_main\\u001b[31m
            [58.5ms   ]   < entrypoint 302.6µs
            [58.574ms ]   > halt
            [59ms     ]     alloc 0x1000 64 B
            [61.051ms ]   < halt 2.477ms (never ended)
            [61.051ms ] < [host] run hello 61.05ms
            """);
  }

  @Test
  void compact_oneLinePerSpan() {
    assertThat(render(TextTreeRenderer.full().compact(true), sample()))
        .isEqualTo(
            """
            [0ms      ] [host] run hello 61.05ms
            [58.197ms ]   entrypoint 302.6µs
            [58.294ms ]     load_gdt 20.3µs
            [58.574ms ]   halt 2.477ms (never ended)
            """);
  }

  @Test
  void severalVcpus_headedSectionsAndFilter() {
    SpanNode a = new SpanNode("a", SpanKind.GUEST, 0, 1_000, 2_000, 0, 0);
    SpanNode b = new SpanNode("b", SpanKind.GUEST, 1, 1_500, 1_600, 0, 0);
    TraceTree tree =
        new TraceTree(
            SUMMARY,
            List.of(new TraceTree.VcpuTree(0, List.of(a)), new TraceTree.VcpuTree(1, List.of(b))));
    assertThat(render(TextTreeRenderer.full().compact(true), tree))
        .isEqualTo(
            """
            == vCPU 0 ==
            [0µs      ] a 1µs
            == vCPU 1 ==
            [1µs      ] b 100ns
            """);
    assertThat(render(TextTreeRenderer.full().compact(true).onlyVcpu(1), tree))
        .isEqualTo("[1µs      ] b 100ns\n");
  }

  @Test
  void durations_unitsAndSignificantDigits() {
    assertThat(Durations.duration(87)).isEqualTo("87ns");
    assertThat(Durations.duration(1_234)).isEqualTo("1.234µs");
    assertThat(Durations.duration(377_449)).isEqualTo("377.4µs");
    assertThat(Durations.duration(1_250_000)).isEqualTo("1.25ms");
    assertThat(Durations.duration(2_500_000_000L)).isEqualTo("2.5s");
    assertThat(Durations.timestamp(338_000)).isEqualTo("338µs");
    assertThat(Durations.timestamp(61_050_200)).isEqualTo("61.05ms");
    assertThat(Durations.column(1_431_000)).isEqualTo("[1.431ms  ]");
  }
}
