package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

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
        .contains("--timeout=<timeout>")
        .contains("Default: 30s")
        .contains("--max-lines=N Stop after N lines with a note. 0: no limit. Default: 2000")
        .doesNotContain("Default: []")
        .doesNotContain("Default: {}");
    assertThat(run.err()).isEmpty();
    String stats = CliTest.run("stats", "--help").out().replaceAll("\\s+", " ");
    assertThat(stats).contains("Default: total", "Default: 50", "Default: function", "% of run");
  }
}
