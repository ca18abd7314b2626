package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ProgressTest {
  @Test
  void offUnlessTheLauncherSawATerminal() {
    StringWriter err = new StringWriter();
    Progress p = Progress.start(new PrintWriter(err), "stats", "reading x");
    assertThat(Progress.enabled()).isFalse();
    p.close();
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void onATerminal_aLineAfterASecondRewrittenInPlaceAndErased() throws Exception {
    System.setProperty("guesttrace.progress", "true");
    StringWriter err = new StringWriter();
    try {
      Progress p = Progress.start(new PrintWriter(err), "stats", "reading big.gtrace (812 MiB)");
      Thread.sleep(Progress.DELAY_MILLIS + 300);
      p.close();
    } finally {
      System.clearProperty("guesttrace.progress");
    }
    assertThat(err.toString())
        .startsWith("\rguesttrace stats: reading big.gtrace (812 MiB), 1 s\033[K")
        .endsWith("\r\033[K");
  }
}
