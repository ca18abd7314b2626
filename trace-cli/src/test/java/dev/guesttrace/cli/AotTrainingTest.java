package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AotTrainingTest {
  @TempDir Path dir;

  @Test
  void train_runsEveryCommandAndWritesTheTraceFiles() throws Exception {
    Path folder = dir.resolve("with space");
    StringWriter err = new StringWriter();

    int status = AotTraining.train(folder, new PrintWriter(err, true));

    assertThat(status).as(err.toString()).isZero();
    assertThat(err.toString()).isEmpty();
    assertThat(Files.size(folder.resolve("fib.gtrace"))).isPositive();
    assertThat(Files.size(folder.resolve("hello.gtrace"))).isPositive();
  }
}
