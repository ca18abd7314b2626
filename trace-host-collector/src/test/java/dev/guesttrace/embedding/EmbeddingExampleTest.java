package dev.guesttrace.embedding;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** docs/embedding.md's example: the code in the doc is this module's MinimalVmm, and it works. */
class EmbeddingExampleTest {
  static final Path SOURCE =
      Path.of("src/test/java/dev/guesttrace/embedding/MinimalVmm.java").toAbsolutePath();
  static final Path DOC = Path.of("../docs/embedding.md").toAbsolutePath();

  @TempDir Path dir;

  @Test
  void docShowsTheExampleVerbatim() throws Exception {
    String doc = Files.readString(DOC);
    String marker = "<!-- MinimalVmm.java:";
    int at = doc.indexOf(marker);
    assertThat(at).as("marker in %s", DOC).isNotNegative();
    int start = doc.indexOf("```java\n", at) + "```java\n".length();
    int end = doc.indexOf("```", start);
    assertThat(doc.substring(start, end)).isEqualTo(Files.readString(SOURCE));
  }

  @Test
  void exampleUsesOnlyTheHostApiAndTheGuestLibrary() throws Exception {
    // The doc's promise: a VMM needs dev.guesttrace.host (and, for this emulator, the guest
    // library and the ABI), nothing of collect, vm or run.
    List<String> imports =
        Files.readAllLines(SOURCE).stream()
            .filter(l -> l.startsWith("import dev.guesttrace."))
            .toList();
    assertThat(imports)
        .isNotEmpty()
        .allMatch(
            l ->
                l.startsWith("import dev.guesttrace.host.")
                    || l.startsWith("import dev.guesttrace.guest.")
                    || l.startsWith("import dev.guesttrace.abi."),
            "an import of the host API, the guest library or the ABI");
    assertThat(Files.readString(SOURCE))
        .doesNotContainPattern("dev\\.guesttrace\\.(collect|vm|run)\\.");
  }

  @Test
  void example_runsPrintsTheTreeAndWritesAReadableTrace() throws Exception {
    Path file = dir.resolve("minimal.gtrace");
    PrintStream saved = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      MinimalVmm.main(new String[] {file.toString()});
    } finally {
      System.setOut(saved);
    }
    String out = captured.toString(StandardCharsets.UTF_8);
    System.out.print(out); // the doc pastes a run of it

    // The tree's lines without their times: register, hello with three folded steps, flush.
    assertThat(
            out.lines()
                .map(l -> l.replaceAll("^\\[[^]]*\\] ", "").replaceAll(" [0-9.]+[µnm]?s.*$", "")))
        .containsExactly(
            "> [host] trace register",
            "< [host] trace register",
            "> hello",
            "  step ×3, total",
            "< hello",
            "> [host] trace flush",
            "< [host] trace flush",
            "8 records, 0 lost");
    TraceData read = TraceFileReader.read(file, w -> {});
    assertThat(read.recordCount()).isEqualTo(8);
    assertThat(read.header().backend()).isEqualTo("minimal-vmm");
    assertThat(read.end()).hasValueSatisfying(e -> assertThat(e.outcome()).isEqualTo("halted"));
  }
}
