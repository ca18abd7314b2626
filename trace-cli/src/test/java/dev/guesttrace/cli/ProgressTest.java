package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProgressTest {
  @TempDir Path dir;

  @Test
  void text_bytesOfAFile_withShareAndRate() {
    assertThat(
            Progress.text(
                "stats",
                "reading big.gtrace",
                Progress.Unit.BYTES,
                120L << 20,
                267L << 20,
                2_000_000_000L))
        .isEqualTo("guesttrace stats: reading big.gtrace 120.0 of 267.0 MiB (44%), 60.0 MiB/s");
  }

  @Test
  void text_recordsWithoutTotal_andSpansWithTotal_andAPhaseAlone() {
    assertThat(
            Progress.text(
                "run", "running fib", Progress.Unit.RECORDS, 1_500_000, 0, 3_000_000_000L))
        .isEqualTo("guesttrace run: running fib 1500000 records, 500000 records/s");
    assertThat(Progress.text("export", "exporting", Progress.Unit.SPANS, 2000, 8000, 500_000_000L))
        .isEqualTo("guesttrace export: exporting 2000 of 8000 spans (25%), 4000 spans/s");
    assertThat(Progress.text("stats", "building spans", Progress.Unit.NONE, 0, 0, 4_240_000_000L))
        .isEqualTo("guesttrace stats: building spans, 4.2s");
  }

  @Test
  void enabled_autoOnlyForAPersonAtATerminal() {
    assertThat(Progress.enabled(Progress.When.ALWAYS, false)).isTrue();
    assertThat(Progress.enabled(Progress.When.NEVER, true)).isFalse();
    assertThat(Progress.enabled(Progress.When.AUTO, false)).isFalse();
    System.setProperty("guesttrace.stderr.terminal", "true");
    try {
      assertThat(Progress.enabled(Progress.When.AUTO, true)).isTrue();
      assertThat(Progress.enabled(Progress.When.AUTO, false)).isFalse();
    } finally {
      System.clearProperty("guesttrace.stderr.terminal");
    }
    // Under surefire stdin and stdout are pipes: the JDK's console is no terminal.
    assertThat(Progress.enabled(Progress.When.AUTO, true)).isFalse();
  }

  @Test
  void aLineOtherOutputGoesAround_isErasedFirst_andAtClose() throws Exception {
    StringWriter text = new StringWriter();
    PrintWriter err = new PrintWriter(text);
    System.setProperty("guesttrace.progress.delayMillis", "0");
    try (Progress p = Progress.start(err, "run", Progress.When.ALWAYS, true)) {
      p.phase("running fib", Progress.Unit.RECORDS, 0);
      p.done(42);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!text.toString().contains("42 records") && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      p.println("guest: hello");
    } finally {
      System.clearProperty("guesttrace.progress.delayMillis");
    }
    assertThat(text.toString())
        .startsWith("\rguesttrace run: running fib ")
        // Drawn 0.1 s or more into the phase (a loaded machine), the line adds the rate.
        .containsPattern(
            "\rguesttrace run: running fib 42 records(, \\d+ records/s)?\033\\[K\r\033\\[Kguest:"
                + " hello\n");
    assertThat(withoutProgress(text.toString())).isEqualTo("guest: hello\n");
  }

  @Test
  void forcedOnInARealProcess_drawsOnStderr_andTheOutputIsUnchanged() throws Exception {
    Path trace = dir.resolve("fib.gtrace");
    Outcome never =
        guesttrace("run", "fib", "--deterministic", "-o", trace.toString(), "--progress", "never");
    Outcome always =
        guesttrace("run", "fib", "--deterministic", "-o", trace.toString(), "--progress", "always");

    assertThat(never.err()).doesNotContain("\r");
    assertThat(always.out()).isEqualTo(never.out()).startsWith("[0ms      ] > [host] run fib\n");
    assertThat(always.err())
        .startsWith("\rguesttrace run: running fib ")
        .contains(" records")
        .contains("\r\033[K");
    assertThat(withoutProgress(always.err())).isEqualTo(never.err());

    Outcome stats = guesttrace("stats", trace.toString(), "--progress", "always");
    Outcome plain = guesttrace("stats", trace.toString(), "--progress", "never");
    assertThat(stats.out()).isEqualTo(plain.out());
    // The first line drawn is whichever phase is running when the first redraw is due: reading
    // on a slow machine, building spans on a fast one. Reading, when drawn, shows the file's share.
    assertThat(stats.err())
        .containsPattern(
            "^\\rguesttrace stats: (reading fib\\.gtrace .* of 0\\.\\d MiB \\(\\d+%\\)"
                + "|building spans)");
    assertThat(withoutProgress(stats.err())).isEqualTo(plain.err());
  }

  @Test
  void autoWithStderrRedirected_isSilent() throws Exception {
    Path trace = dir.resolve("hello.gtrace");
    Outcome run = guesttrace("run", "hello", "-o", trace.toString());
    Outcome stats = guesttrace("stats", trace.toString());

    assertThat(run.err())
        .isEqualTo("guest: Hello, World!\nguesttrace run: wrote " + trace + " (45 records)\n");
    assertThat(stats.err()).isEmpty();
  }

  /** Stderr with the progress line's drawing and erasing taken out. */
  static String withoutProgress(String err) {
    return err.replaceAll("\r[^\r\n]*\033\\[K", "");
  }

  record Outcome(String out, String err) {}

  /**
   * {@code guesttrace ARGS} as its own process, stdout and stderr to files (not a terminal), the
   * progress line shown from the first tick so that a short run has one.
   */
  private Outcome guesttrace(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("-Dguesttrace.progress.delayMillis=0");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Guesttrace.class.getName());
    command.addAll(List.of(args));
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    Process p =
        new ProcessBuilder(command)
            .directory(dir.toFile())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .start();
    p.getOutputStream().close();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("exit of %s: %s", command, Files.readString(err)).isZero();
    return new Outcome(
        Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }
}
