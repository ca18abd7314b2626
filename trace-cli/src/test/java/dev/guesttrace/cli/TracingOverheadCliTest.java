package dev.guesttrace.cli;

import static dev.guesttrace.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tracer's own cost as a user sees it: {@code info} shows it per run and per span that paid it;
 * {@code flame --exclude-tracing} and {@code compare} (by default) take it out.
 */
class TracingOverheadCliTest {
  @TempDir Path dir;

  @Test
  void infoShowsTracingOverhead_flameAndCompareCanExcludeIt() {
    Path fib = dir.resolve("fib.gtrace");
    CliTest.Outcome ran =
        run("run", "fib", "--ring-bytes", "8k", "--arg", "n=10", "--quiet", "-o", fib.toString());
    assertThat(ran.status()).as(ran.err()).isZero();

    CliTest.Outcome info = run("info", fib.toString());
    assertThat(info.out())
        .containsPattern(
            "(?m)^tracing      \\d+ trace exits, [0-9.]+[mµn]?s \\([0-9.]+% of run\\),")
        .containsPattern("(?m)^  paid by +exits +time +of run +of its spans$")
        .containsPattern("(?m)^  fib +\\d+ ");

    CliTest.Outcome flame = run("flame", fib.toString());
    CliTest.Outcome flameExcluded = run("flame", fib.toString(), "--exclude-tracing");
    assertThat(flame.out()).contains(";trace flush ");
    assertThat(flameExcluded.out()).doesNotContain("trace flush").contains(";fib ");

    CliTest.Outcome compare =
        run("compare", fib.toString(), fib.toString(), "--vs", fib.toString(), fib.toString());
    assertThat(compare.out())
        .contains("trace exits excluded (--no-exclude-tracing keeps them)")
        .doesNotContain("trace flush")
        .contains("no path differs beyond the noise");
    CliTest.Outcome kept =
        run("compare", fib.toString(), "--vs", fib.toString(), "--no-exclude-tracing");
    assertThat(kept.out()).contains("trace exits included").contains("trace flush");
  }
}
