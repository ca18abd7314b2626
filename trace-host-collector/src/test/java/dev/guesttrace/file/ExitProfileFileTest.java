package dev.guesttrace.file;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.ExitProfileRow;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.InfoRenderer;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The VM-exit profile's precision as files of each age state it. */
class ExitProfileFileTest {
  @Test
  void aFileWrittenBeforeHdrHistogram_saysItsOldPrecision() throws Exception {
    TraceData old = golden("hello-format-1.1.gtrace");

    assertThat(old.exitProfile()).isNotEmpty();
    assertThat(old.exitProfile())
        .allSatisfy(
            r -> {
              assertThat(r.significantDigits()).isEqualTo(ExitProfileRow.LEGACY_HISTOGRAM);
              assertThat(r.overflow()).isZero();
            });
    assertThat(exitsText(old.exitProfile()))
        .startsWith("vm exits     ")
        .contains("; median, p99 within 3.2%\n");
  }

  @Test
  void hdrHistogramRows_sayTheirDigits_andOverflow() {
    List<ExitProfileRow> rows =
        List.of(
            new ExitProfileRow("out", 0x70, "trace", 3, 0, 900, 200, 300, 400, 400, 2, 0),
            new ExitProfileRow(
                "timeout",
                -1,
                "",
                1,
                0,
                90_000_000_000L,
                90_000_000_000L,
                90_000_000_000L,
                90_000_000_000L,
                90_000_000_000L,
                2,
                1));

    assertThat(exitsText(rows))
        .isEqualTo(
            """
            vm exits     4, host time 90s; median, p99 from HdrHistogram, 2 significant digits
              reason   port          count      total     median        p99        max
              out      trace             3      900ns      300ns      400ns      400ns
              timeout  -                 1        90s        90s        90s        90s  (1 over the histogram's 60s, counted at it)
            """);
  }

  private static String exitsText(List<ExitProfileRow> rows) {
    StringWriter text = new StringWriter();
    PrintWriter out = new PrintWriter(text);
    InfoRenderer.exits(rows, out);
    out.flush();
    return text.toString();
  }

  private static TraceData golden(String name) throws Exception {
    try (InputStream in = ExitProfileFileTest.class.getResourceAsStream("/golden/" + name)) {
      List<String> warnings = new ArrayList<>();
      TraceData d = TraceFileReader.read(in, warnings::add, TraceFileReader.Limits.DEFAULT).data();
      assertThat(warnings).isEmpty();
      return d;
    }
  }
}
