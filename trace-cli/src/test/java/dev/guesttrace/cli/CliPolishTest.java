package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** What a user meets first: help with defaults, the version, mistyped verbs and options. */
class CliPolishTest {
  @Test
  void version_namesTheBuildAndItsCommit() {
    CliTest.Outcome v = CliTest.run("--version");
    assertThat(v.status()).isZero();
    assertThat(v.out().lines().findFirst().orElseThrow())
        .matches("guesttrace \\S+ \\(commit [^)]+\\)")
        .doesNotContain("unknown")
        .doesNotContain("development build");
  }

  @Test
  void unknownVerb_saysWhatItMeantInOneLine() {
    CliTest.Outcome o = CliTest.run("statz", "x.gtrace");
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace: unknown command 'statz' (did you mean one of 'stats', 'guests'?) (see 'guesttrace"
                + " --help')\n");
    assertThat(CliTest.run("bogus").err()).doesNotContain("Unmatched argument");
  }

  @Test
  void unknownOption_suggestsTheClosest() {
    CliTest.Outcome o = CliTest.run("tree", "x.gtrace", "--min-duraton", "1ms");
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .startsWith("guesttrace tree: unknown option '--min-duraton' (did you mean")
        .contains("'--min-duration'")
        .endsWith("(see 'guesttrace tree --help')\n");
  }

  @Test
  void help_showsEveryDefaultAndNoEmptyOnes() {
    CliTest.Outcome run = CliTest.run("run", "--help");
    assertThat(run.status()).isZero();
    String help = run.out().replaceAll("\\s+", " ");
    assertThat(help)
        .contains("--timeout=DURATION")
        .contains("Default: 30s")
        .contains("--max-lines=N Stop after N lines with a note. 0: no limit. Default: 2000")
        .doesNotContain("Default: []")
        .doesNotContain("Default: {}");
    assertThat(run.err()).isEmpty();
    assertThat(help)
        .contains("--tsc-ghz=GHZ Present the guest a TSC at this rate")
        .contains("(default: the host's own TSC rate, unscaled)");
    String stats = CliTest.run("stats", "--help").out().replaceAll("\\s+", " ");
    assertThat(stats).contains("Default: total", "Default: 50", "Default: function", "% of run");
  }

  @Test
  void help_everyVerbNamesWhatItsOptionsTake_neverAJavaFieldName() {
    for (String verb :
        List.of(
            "run",
            "tree",
            "stats",
            "allocs",
            "info",
            "export",
            "perfetto",
            "flame",
            "compare",
            "recover",
            "guests",
            "init",
            "completion")) {
      CliTest.Outcome o = CliTest.run(verb, "--help");
      assertThat(o.status()).as(verb).isZero();
      assertThat(o.out()).as("guesttrace %s --help", verb).doesNotContainPattern("=<[a-zA-Z]+>");
    }
  }
}
