package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --progress auto} through the launcher, which alone can tell whether stderr is a terminal:
 * under a pseudo-terminal ({@code script}) the line is drawn on stderr and the result on stdout is
 * the same as without it; with stderr redirected (to a file, in the same terminal) nothing is
 * drawn. The line is shown from the first tick ({@code -Dguesttrace.progress.delayMillis=0} through
 * {@code GUESTTRACE_JAVA_OPTS}) so that a short command has one. Runs in {@code verify}, after the
 * jar.
 */
class ProgressIT {
  @TempDir Path dir;

  @Test
  void auto_drawsOnATerminalOnly() throws Exception {
    assumeTrue(
        InitTest.onPath("script"), "skipped: no 'script' (util-linux) for a pseudo-terminal");
    Files.createSymbolicLink(dir.resolve("guesttrace"), DocCommands.ROOT.resolve("guesttrace"));
    String[] made =
        DocCommandsIT.run(dir, "./guesttrace run hello --deterministic -o h.gtrace --quiet");
    assertThat(made[0]).as(made[2]).isEqualTo("0");
    String env = "GUESTTRACE_JAVA_OPTS=-Dguesttrace.progress.delayMillis=0 ";

    // stdout to a file, stderr the terminal: the line is drawn (and erased) on the terminal.
    String[] tty =
        DocCommandsIT.run(
            dir, env + "script -qec './guesttrace stats h.gtrace > out.txt' /dev/null");
    assertThat(tty[0]).as(tty[2]).isEqualTo("0");
    assertThat(tty[1]).startsWith("\rguesttrace stats: reading h.gtrace ").contains("\033[K");
    String plain = DocCommandsIT.run(dir, "./guesttrace stats h.gtrace --progress never")[1];
    assertThat(Files.readString(dir.resolve("out.txt"))).isEqualTo(plain);

    // stderr to a file, stdout the terminal: no line anywhere.
    String[] redirected =
        DocCommandsIT.run(
            dir, env + "script -qec './guesttrace stats h.gtrace 2> err.txt' /dev/null");
    assertThat(redirected[0]).as(redirected[2]).isEqualTo("0");
    assertThat(Files.readString(dir.resolve("err.txt"))).isEmpty();
    assertThat(redirected[1]).doesNotContain("guesttrace stats: reading");
  }
}
