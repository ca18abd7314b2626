package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built jar in real processes. Stopped by a signal: {@code guesttrace run runaway -o f.gtrace}
 * gets SIGTERM while the guest spins, and the file it leaves says so (an interrupted outcome, the
 * records it holds, losses unknown). Runs in {@code verify} (failsafe), after the jar is built.
 */
class InterruptedRunIT {
  @TempDir Path dir;

  @Test
  void sigterm_closesTheFileWithAnInterruptedEnd() throws Exception {
    Path jar = Path.of("target", "guesttrace.jar").toAbsolutePath();
    assertThat(jar).exists();
    Path file = dir.resolve("f.gtrace");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process p =
        new ProcessBuilder(
                java.toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-jar",
                jar.toString(),
                "run",
                "runaway",
                "--timeout",
                "60s",
                "--quiet",
                "-o",
                file.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("out.txt").toFile())
            .start();
    try {
      // Wait until the guest's spans reach the file: more than a header's worth of bytes.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while ((!Files.exists(file) || Files.size(file) < 4096) && System.nanoTime() < deadline) {
        assertThat(p.isAlive()).as("still running").isTrue();
        Thread.sleep(50);
      }
      assertThat(Files.size(file)).isGreaterThanOrEqualTo(4096);
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isEqualTo(143); // 128 + SIGTERM: the JVM's own exit
    } finally {
      p.destroyForcibly();
    }

    List<String> warnings = new ArrayList<>();
    TraceData data = TraceFileReader.read(file, warnings::add);
    assertThat(warnings).isEmpty(); // a whole file with its end, not a cut one
    assertThat(data.outcome())
        .startsWith("interrupted: the host process was stopped before the run finished");
    assertThat(data.end().orElseThrow().failed()).isTrue();
    assertThat(data.recordCount()).isPositive();

    CliTest.Outcome info = CliTest.run("info", file.toString());
    assertThat(info.status()).isZero();
    assertThat(info.out())
        .contains(
            "lost         unknown: the run was interrupted, the file holds "
                + data.recordCount()
                + " records\n");

    // The same file, its tree written to a full disk: exit 1 with the cause, not 0.
    Process tree =
        new ProcessBuilder(
                java.toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-jar",
                jar.toString(),
                "tree",
                file.toString())
            .redirectOutput(new java.io.File("/dev/full"))
            .redirectError(dir.resolve("tree-err.txt").toFile())
            .start();
    assertThat(tree.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(tree.exitValue()).isEqualTo(1);
    assertThat(Files.readString(dir.resolve("tree-err.txt")))
        .endsWith("guesttrace tree: cannot write standard output: No space left on device\n");
  }
}
