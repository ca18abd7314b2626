package dev.guesttrace.compare;

import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.summary;
import static dev.guesttrace.compare.TestTrees.tree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.span.TraceTree;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

class ComparisonSvgRendererTest {
  private static final String HOSTILE = "evil<\"&'>\u0001;name\u00e9\ud83d\ude80";

  private static TraceTree run(long fibNanos) {
    return tree(
        summary("fib", "host-a", 1.7e9),
        span(
            "run",
            0,
            10_000 + fibNanos + 20_000,
            span("fib", 5_000, 5_000 + fibNanos),
            span(HOSTILE, 5_000 + fibNanos, 25_000 + fibNanos)));
  }

  @Test
  void render_isWellFormedXmlWithOneRowPerPathAndHighlightsMarks() throws Exception {
    Comparison comparison =
        Comparison.of(
            List.of(run(100_000), run(101_000)),
            List.of(run(200_000), run(203_000)),
            Comparison.Options.defaults());
    StringBuilder svg = new StringBuilder();

    ComparisonSvgRenderer.render(comparison, svg);

    Document doc = parse(svg.toString());
    assertThat(doc.getDocumentElement().getTagName()).isEqualTo("svg");
    List<String> rowTitles = new ArrayList<>();
    NodeList groups = doc.getElementsByTagName("g");
    for (int i = 0; i < groups.getLength(); i++) {
      Element title = (Element) ((Element) groups.item(i)).getElementsByTagName("title").item(0);
      rowTitles.add(title.getTextContent().lines().findFirst().orElseThrow());
    }
    // ';' inside a name is replaced so that it cannot split the path; the control char is dropped.
    assertThat(rowTitles)
        .containsExactly("run", "run;fib", "run;evil<\"&'>\ufffd:name\u00e9\ud83d\ude80");
    Element fibRow = (Element) groups.item(1);
    Element background = (Element) fibRow.getElementsByTagName("rect").item(0);
    assertThat(background.getAttribute("fill")).isEqualTo(ComparisonSvgRenderer.SLOWER_BACKGROUND);
    Element runRow = (Element) groups.item(0);
    assertThat(((Element) runRow.getElementsByTagName("rect").item(0)).getAttribute("fill"))
        .isEqualTo(ComparisonSvgRenderer.SLOWER_TOTAL_BACKGROUND);
    assertThat(fibRow.getTextContent()).contains("2.00x slower", "self 2.00x slower");
  }

  @Test
  void render_limitsRowsToTheTopByImpact() throws Exception {
    Comparison comparison =
        Comparison.of(List.of(run(100_000)), List.of(run(100_000)), Comparison.Options.defaults());
    StringBuilder svg = new StringBuilder();

    ComparisonSvgRenderer.render(comparison, svg, 1);

    Document doc = parse(svg.toString());
    assertThat(doc.getElementsByTagName("g").getLength()).isEqualTo(1);
    assertThat(doc.getDocumentElement().getTextContent()).contains("Top 1 of 3 call paths");
  }

  @Test
  void render_keepsMarkedRowsBeyondTheTop() throws Exception {
    // run and fib change a lot but within the noise; "tiny" changes little but beyond it.
    Comparison comparison =
        Comparison.of(
            List.of(tiny(100_000, 1_000), tiny(300_000, 1_050)),
            List.of(tiny(150_000, 5_000), tiny(400_000, 5_100)),
            Comparison.Options.defaults());
    StringBuilder svg = new StringBuilder();

    ComparisonSvgRenderer.render(comparison, svg, 1);

    Document doc = parse(svg.toString());
    NodeList groups = doc.getElementsByTagName("g");
    assertThat(groups.getLength()).isEqualTo(2);
    assertThat(groups.item(1).getTextContent().strip()).startsWith("run;fib;tiny\n");
    assertThat(doc.getDocumentElement().getTextContent())
        .contains("Top 1 of 3 call paths and 1 more marked");
  }

  private static TraceTree tiny(long fibNanos, long tinyNanos) {
    return tree(
        summary("fib", "host-a", 1.7e9),
        span("run", 0, fibNanos, span("fib", 0, fibNanos, span("tiny", 0, tinyNanos))));
  }

  @Test
  void render_drawsSelfTimeWhereOnlySelfIsMarked() throws Exception {
    // fib's total stays 100 µs; its own time goes from 10 µs to 40 µs as its child shrinks.
    Comparison comparison =
        Comparison.of(
            List.of(selfShift(90_000), selfShift(90_000)),
            List.of(selfShift(60_000), selfShift(60_000)),
            Comparison.Options.defaults());
    StringBuilder svg = new StringBuilder();

    ComparisonSvgRenderer.render(comparison, svg);

    Document doc = parse(svg.toString());
    NodeList groups = doc.getElementsByTagName("g");
    String fibRow = null;
    for (int i = 0; i < groups.getLength(); i++) {
      String text = groups.item(i).getTextContent().strip();
      if (text.startsWith("run;fib\n")) {
        fibRow = text;
      }
    }
    assertThat(fibRow).contains("10.0µs self", "40.0µs self", "self 4.00x slower");
  }

  private static TraceTree selfShift(long leafNanos) {
    return tree(
        summary("fib", "host-a", 1.7e9),
        span("run", 0, 100_000, span("fib", 0, 100_000, span("leaf", 0, leafNanos))));
  }

  @Test
  void collapse_joinsRepeatedFrames() {
    assertThat(ComparisonSvgRenderer.collapse(List.of("run", "fib", "fib", "fib", "print")))
        .containsExactly("run", "fib×3", "print");
  }

  static Document parse(String xml) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return factory
        .newDocumentBuilder()
        .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
  }
}
