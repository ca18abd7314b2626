package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The views' heap per record, in a real process: a file of 485,599 records (fib(25)) read by {@code
 * info}, {@code stats}, {@code tree} and {@code flame} in a JVM of {@code -Xmx40m}, each printing
 * exactly what it prints in the test's own large heap. Before the span tree was compacted and the
 * records freed as the tree took them (about 125 B of heap per record), each needed 64m: {@code
 * info} ran out of memory at 48m.
 */
class ViewsHeapTest {
  @TempDir Path dir;

  @Test
  void fib25File_everyViewReadsItIn40MiBOfHeap_sameOutput() throws Exception {
    Path trace = dir.resolve("fib25.gtrace");
    assertThat(
            CliTest.run(
                    "run",
                    "fib",
                    "--arg",
                    "n=25",
                    "--deterministic",
                    "--quiet",
                    "-o",
                    trace.toString())
                .status())
        .isZero();
    assertThat(CliTest.run("info", trace.toString()).out()).contains("\nrecords      485599\n");

    for (List<String> view :
        List.of(
            List.of("info", trace.toString()),
            List.of("stats", trace.toString()),
            List.of("tree", trace.toString(), "--max-depth", "3"),
            List.of("flame", trace.toString()))) {
      String inLargeHeap = CliTest.run(view.toArray(String[]::new)).out();
      assertThat(inSmallHeap("-Xmx40m", view)).as("%s", view).isEqualTo(inLargeHeap);
    }
  }

  /** {@code guesttrace ARGS} in a JVM of its own with {@code heap}; its standard output. */
  private String inSmallHeap(String heap, List<String> args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("-XX:+UseSerialGC"); // as the launcher runs it
    command.add(heap);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Guesttrace.class.getName());
    command.addAll(args);
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    Process p =
        new ProcessBuilder(command)
            .directory(dir.toFile())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .start();
    p.getOutputStream().close();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("exit of %s: %s", args, Files.readString(err)).isZero();
    return Files.readString(out, StandardCharsets.UTF_8);
  }
}
