package dev.guesttrace.flame;

import static dev.guesttrace.compare.TestTrees.fibRun;
import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.TraceTree;
import java.io.ByteArrayInputStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class FlameTest {
  /** run(0..1000) → call(100..900) → {fib(200..500) → fib(300..400), print(600..700)} ×2 vCPUs. */
  private static TraceTree twoVcpus() {
    return tree(
        summary("fib", "host-a", 1e9),
        new TraceTree.VcpuTree(
            0,
            List.of(
                span(
                    SpanKind.HOST_RUN,
                    0,
                    "run",
                    0,
                    1_000,
                    span(
                        SpanKind.HOST_GUEST_CALL,
                        0,
                        "call",
                        100,
                        900,
                        span("fib", 200, 500, span("fib", 300, 400)),
                        span("print", 600, 700))))),
        new TraceTree.VcpuTree(
            1,
            List.of(
                span(
                    SpanKind.HOST_RUN,
                    1,
                    "run",
                    0,
                    2_000,
                    span(SpanKind.GUEST, 1, "a;b\nc", 500, 1_500)))));
  }

  @Test
  void folded_sumsSelfTimeByStackSortedAndSafe() throws Exception {
    StringWriter out = new StringWriter();

    FoldedStacks.write(twoVcpus(), out);

    assertThat(out.toString())
        .isEqualTo(
            """
            run 1200
            run;a:b c 1000
            run;call 400
            run;call;fib 200
            run;call;fib;fib 100
            run;call;print 100
            """);
  }

  @Test
  void folded_perVcpuStartsWithTheVcpuAndWeightsAddUpToTheRun() throws Exception {
    TraceTree fib = fibRun(summary("fib", "host-a", 1e9), 2, 6, 300, 0.05, 7);
    StringWriter out = new StringWriter();

    FoldedStacks.write(twoVcpus(), out, true);

    assertThat(out.toString().lines())
        .containsExactly(
            "vcpu 0;run 200",
            "vcpu 0;run;call 400",
            "vcpu 0;run;call;fib 200",
            "vcpu 0;run;call;fib;fib 100",
            "vcpu 0;run;call;print 100",
            "vcpu 1;run 1000",
            "vcpu 1;run;a:b c 1000");
    long sum = FoldedStacks.fold(fib, false).values().stream().mapToLong(Long::longValue).sum();
    assertThat(sum).isEqualTo(fib.vcpus().getFirst().roots().getFirst().durationNanos());
  }

  @Test
  void svg_isWellFormedWithOneFramePerPathSizedByInclusiveTime() throws Exception {
    StringWriter out = new StringWriter();

    FlameGraphSvg.write(twoVcpus(), out);

    Document doc = parse(out.toString());
    List<String> tooltips = new ArrayList<>();
    NodeList groups = doc.getElementsByTagName("g");
    double unit = 0;
    for (int i = 0; i < groups.getLength(); i++) {
      Element g = (Element) groups.item(i);
      String tooltip = g.getElementsByTagName("title").item(0).getTextContent();
      tooltips.add(tooltip);
      double width =
          Double.parseDouble(
              ((Element) g.getElementsByTagName("rect").item(0)).getAttribute("width"));
      if (tooltip.startsWith("all ")) {
        unit = width / 3_000;
      }
      if (tooltip.startsWith("fib (300ns")) {
        assertThat(width).isCloseTo(300 * unit, org.assertj.core.data.Offset.offset(0.01));
      }
    }
    assertThat(tooltips)
        .containsExactlyInAnyOrder(
            "all (3.00µs, 100.00%; self 0ns; 1 span)",
            "run (3.00µs, 100.00%; self 1.20µs; 2 spans)",
            "call (800ns, 26.67%; self 400ns; 1 span)",
            "fib (300ns, 10.00%; self 200ns; 1 span)",
            "fib (100ns, 3.33%; self 100ns; 1 span)",
            "print (100ns, 3.33%; self 100ns; 1 span)",
            "a;b\nc (1.00µs, 33.33%; self 1.00µs; 1 span)");
  }

  @Test
  void svg_colorsHostFramesApartAndLabelsFit() {
    assertThat(FlameGraphSvg.color("fib", false)).isEqualTo(FlameGraphSvg.color("fib", false));
    assertThat(FlameGraphSvg.color("fib", false)).isNotEqualTo(FlameGraphSvg.color("fib2", false));
    assertThat(FlameGraphSvg.color("run", true)).startsWith("rgb(").matches(c -> blue(c) > red(c));
    assertThat(FlameGraphSvg.color("run", false)).matches(c -> red(c) > blue(c));
    assertThat(FlameGraphSvg.label("call_guest_function", 500)).isEqualTo("call_guest_function");
    assertThat(FlameGraphSvg.label("call_guest_function", 76)).isEqualTo("call_gue..");
    assertThat(FlameGraphSvg.label("call_guest_function", 20)).isEmpty();
  }

  private static int red(String rgb) {
    return Integer.parseInt(rgb.substring(4, rgb.length() - 1).split(",")[0]);
  }

  private static int blue(String rgb) {
    return Integer.parseInt(rgb.substring(4, rgb.length() - 1).split(",")[2]);
  }

  private static Document parse(String xml) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return factory
        .newDocumentBuilder()
        .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
  }
}
