package dev.guesttrace.otel;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/otlp.md's "Embedding" example compiles against the exporter as it is: the block is put in a
 * method that has the tree it exports ({@code traceTree}) and compiled with javac on this module's
 * class path, with every warning an error. (It is not run: it exports to localhost:4317.)
 */
class OtlpDocExampleTest {
  static final Path DOC = Path.of("../docs/otlp.md");

  @TempDir Path dir;

  @Test
  void embeddingExample_compiles() throws Exception {
    String doc = Files.readString(DOC);
    int section = doc.indexOf("\n## Embedding\n");
    assertThat(section).as("an Embedding section in %s", DOC).isNotNegative();
    int open = doc.indexOf("```java\n", section);
    assertThat(open).as("a java block in it").isPositive();
    int from = open + "```java\n".length();
    String example = doc.substring(from, doc.indexOf("```", from));
    assertThat(example).contains("OtlpExporter.builder()").contains(".export(traceTree");

    Path source = dir.resolve("docexample/Example.java");
    Files.createDirectories(source.getParent());
    Files.writeString(
        source,
        """
        package docexample;

        import dev.guesttrace.otel.ExportResult;
        import dev.guesttrace.otel.OtlpExporter;
        import dev.guesttrace.otel.OtlpProtocol;
        import dev.guesttrace.otel.TraceMode;
        import dev.guesttrace.span.TraceTree;
        import java.time.Duration;

        final class Example {
          static void export(TraceTree traceTree) {
        %s
          }
        }
        """
            .formatted(example));
    ByteArrayOutputStream errors = new ByteArrayOutputStream();
    int status =
        ToolProvider.getSystemJavaCompiler()
            .run(
                null,
                OutputStream.nullOutputStream(),
                errors,
                List.of(
                        "--release",
                        "25",
                        "-Xlint:all",
                        "-Werror",
                        "-proc:none",
                        "-d",
                        dir.resolve("classes").toString(),
                        "-classpath",
                        System.getProperty("java.class.path"),
                        source.toString())
                    .toArray(String[]::new));
    assertThat(status)
        .as("javac on otlp.md's example:%n%s", errors.toString(StandardCharsets.UTF_8))
        .isZero();
  }
}
