package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.span.CallPaths;
import dev.guesttrace.span.SpanKind;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A trace file of a million nested spans through the verbs, and Errors from the work. */
class DeepNestingCliTest {
  static final int DEPTH = 1_000_000;
  static final long START = 1_000_000;
  @TempDir static Path dir;
  static Path deep;

  @BeforeAll
  static void writeDeepFile() throws Exception {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(
        new TraceHeader(
            "deep",
            "emulated",
            1,
            "stream",
            0,
            List.of(),
            1_700_000_000_000_000_000L,
            START,
            "host-a",
            "Test CPU",
            "Linux",
            "amd64",
            "OpenJDK 25",
            true,
            0,
            "1.0.0"));
    b.onName(0, 1, "f");
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 2L * DEPTH + 2, START + 2L * DEPTH + 2));
    RecordBatch batch = new RecordBatch(4096);
    batch.reset(0);
    for (int i = 0; i < 2 * DEPTH; i++) {
      boolean begin = i < DEPTH;
      batch.add(begin ? RecordKind.SPAN_BEGIN : RecordKind.SPAN_END, 1, i + 1, 0, 0);
      if (batch.isFull()) {
        b.onRecords(batch);
        batch.reset(0);
      }
    }
    b.onRecords(batch);
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_RUN, "run", START, START + 2L * DEPTH + 2));
    b.onFinish(
        new TraceEnd(
            "halted", false, START + 2L * DEPTH + 2, LossCounters.NONE, List.of(), List.of()));
    deep = dir.resolve("deep.gtrace");
    try (OutputStream out = Files.newOutputStream(deep)) {
      TraceFileWriter.write(b.build(), out, "test");
    }
  }

  @Test
  void infoFlameCompare_onAMillionNestedSpans_work() {
    CliTest.Outcome info = CliTest.run("info", deep.toString());
    assertThat(info.err()).isEmpty();
    assertThat(info.status()).isZero();
    assertThat(info.out()).contains("records      2000000", "diagnostics  none");

    CliTest.Outcome flame = CliTest.run("flame", deep.toString());
    assertThat(flame.status()).isZero();
    // Every f has 2 ns of self time but the innermost (1 ns), and the first is under run.
    List<String> lines = flame.out().lines().toList();
    assertThat(lines.size()).isEqualTo(CallPaths.MAX_FRAMES + 1);
    assertThat(lines.contains("run;f 2")).isTrue();
    String deeper =
        "run;"
            + "f;".repeat(CallPaths.MAX_FRAMES - 1)
            + CallPaths.DEEPER_FRAME
            + " "
            + (2L * (DEPTH - CallPaths.MAX_FRAMES + 1) - 1);
    // (Compared as a boolean: a failure would print two 2,000-frame lines.)
    assertThat(lines.contains(deeper)).isTrue();

    CliTest.Outcome compare = CliTest.run("compare", deep.toString(), "--vs", deep.toString());
    assertThat(compare.status()).isZero();
    assertThat(compare.out()).contains("no path differs beyond the noise");
  }

  @Test
  void stackOverflowOrOutOfMemory_oneLineExit1_traceOnlyWithVerbose() {
    for (boolean verbose : new boolean[] {false, true}) {
      StringWriter err = new StringWriter();
      CommandLine cli = Guesttrace.commandLine("info");
      cli.setErr(new PrintWriter(err));
      if (verbose) {
        cli.parseArgs("info", "x.gtrace", "--verbose");
      } else {
        cli.parseArgs("info", "x.gtrace");
      }
      assertThat(Errors.onError(new StackOverflowError(), cli)).isEqualTo(Errors.BAD_DATA);
      assertThat(Errors.onError(new OutOfMemoryError("Java heap space"), cli))
          .isEqualTo(Errors.BAD_DATA);
      if (verbose) {
        assertThat(err.toString())
            .startsWith("guesttrace info: out of stack (input nested too deeply)\n")
            .contains("\tat dev.guesttrace.cli.DeepNestingCliTest");
      } else {
        assertThat(err.toString())
            .isEqualTo(
                "guesttrace info: out of stack (input nested too deeply) (--verbose shows"
                    + " details)\n"
                    + "guesttrace info: out of memory (Java heap space); more heap with"
                    + " GUESTTRACE_JAVA_OPTS=-Xmx8g (--verbose shows details)\n");
      }
    }
  }
}
