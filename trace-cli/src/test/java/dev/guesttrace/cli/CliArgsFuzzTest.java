package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The argument parser against random command lines: verbs, every option, and values chosen to hurt
 * (huge, negative, NaN, overflowing durations and sizes, control characters, long strings, missing
 * files, a real trace file). Every line exits 0, 1 or 2 and never throws; a failure is at most one
 * line per error on stderr and never a stack trace. {@code run} gets no guest that exists and
 * {@code export} no reachable endpoint, so no case runs a guest or touches the network.
 *
 * <p>CI runs {@value #DEFAULT_CASES} lines; {@code -Dguesttrace.fuzz.iterations=N} runs more,
 * {@code -Dguesttrace.fuzz.seed=S} starts elsewhere (docs/robustness.md).
 */
class CliArgsFuzzTest {
  static final int DEFAULT_CASES = 300;

  @TempDir static Path dir;
  static String trace;

  static final String[] VERBS = {
    "run",
    "tree",
    "stats",
    "info",
    "export",
    "perfetto",
    "flame",
    "compare",
    "guests",
    "help",
    "",
    "recover",
    "init",
    "nonsense"
  };

  static final String[] OPTIONS = {
    "--verbose",
    "--vs",
    "--per-vcpu",
    "--svg",
    "--exclude-tracing",
    "--otlp",
    "--format",
    "--protocol",
    "--otlp-timeout",
    "--otlp-header",
    "--traces",
    "--max-spans-per-trace",
    "--max-bytes-per-trace",
    "--min-span-duration",
    "--service-name",
    "--span-args",
    "--region",
    "--tsc-ghz",
    "--backend",
    "--call",
    "--vcpus",
    "--ring-bytes",
    "--mode",
    "--calls",
    "--tsc-offset",
    "--arg",
    "--timeout",
    "--memory",
    "--quiet",
    "--deterministic",
    "--sort",
    "--top",
    "--by",
    "--vcpu",
    "--compact",
    "--max-depth",
    "--min-duration",
    "--filter",
    "--fold",
    "--unit",
    "--max-lines",
    "-o",
    "--help",
    "--version",
    "-h",
    "--",
    "-"
  };

  static final String[] VALUES = {
    "0",
    "-1",
    "1",
    "7",
    "99999",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "1e30s",
    "1e30",
    "NaN",
    "Infinity",
    "-0s",
    "0ms",
    "500ms",
    "10s",
    "2m",
    "9223372036854775807m",
    "64k",
    "1g",
    "100000g",
    "9999999999999g",
    "12x",
    "",
    " ",
    "a=b",
    "=",
    "n=",
    "grpc",
    "http/protobuf",
    "json",
    "csv",
    "text",
    "per-call",
    "per-run",
    "stream",
    "flight",
    "off",
    "emulated",
    "kvm",
    "http://localhost:99999",
    "http://h:0",
    "ftp://x",
    "http://",
    "::",
    "Fib(10)",
    "Fib(",
    "main()",
    "x\u001b[2Jy",
    "line\nbreak",
    "\u0000",
    "\uD800",
    "é",
    "no-such-guest",
    "/nonexistent/x.gtrace",
    "TRACE",
    "OUT"
  };

  @BeforeAll
  static void aTrace() {
    trace = dir.resolve("hello.gtrace").toString();
    assertThat(CliTest.run("run", "hello", "--deterministic", "--quiet", "-o", trace).status())
        .isZero();
  }

  @Test
  void randomCommandLines_exit012_oneLineErrors_noStackTraces() {
    int cases = Integer.getInteger("guesttrace.fuzz.iterations", DEFAULT_CASES);
    long seed0 = Long.getLong("guesttrace.fuzz.seed", 0);
    for (long seed = seed0; seed < seed0 + cases; seed++) {
      String[] args = line(new Random(seed));
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      int status;
      try {
        status = Guesttrace.execute(args, new PrintWriter(out), new PrintWriter(err));
      } catch (RuntimeException | Error e) {
        fail("seed " + seed + " " + Arrays.toString(args) + " threw " + e, e);
        return;
      }
      String why =
          ("seed " + seed + " status " + status + " " + Arrays.toString(args) + "\n" + err)
              .replaceAll("x{20,}", "x...")
              .replaceAll("[\\p{Cntrl}&&[^\n]]", "?");
      if (Boolean.getBoolean("guesttrace.fuzz.debug")) {
        System.out.println(why.replace("\n", "\n  | "));
      }
      assertThat(status).as(why).isBetween(0, 2);
      // No stack trace, and no control character from an argument echoed raw to the terminal.
      assertThat(err.toString()).as(why).doesNotContain("\tat ").doesNotContain("\u001b");
      if (status != 0 && !Arrays.asList(args).contains("--verbose")) {
        // Usage errors may add picocli's usage text after the line; bad data is one line.
        String first = err.toString().lines().findFirst().orElse("");
        assertThat(first).as(why).startsWith("guesttrace");
      }
    }
  }

  private static String[] line(Random random) {
    List<String> args = new ArrayList<>();
    String verb = VERBS[random.nextInt(VERBS.length)];
    if (!verb.isEmpty()) {
      args.add(verb);
    }
    switch (verb) {
      case "run" -> args.add("no-such-guest");
      case "tree", "stats", "info", "perfetto", "flame", "export" ->
          args.add(random.nextInt(4) == 0 ? "/nonexistent/x.gtrace" : trace);
      case "compare" -> {
        args.add(trace);
        args.add("--vs");
        args.add(trace);
      }
      default -> {}
    }
    int n = random.nextInt(6);
    for (int i = 0; i < n; i++) {
      String option = OPTIONS[random.nextInt(OPTIONS.length)];
      args.add(option);
      // An output option always gets its value here: left without one, it would take the next
      // token (say "--arg") as a file name and write it beside the sources.
      boolean writes = option.equals("-o") || option.equals("--svg");
      if (writes || random.nextInt(4) != 0) {
        args.add(value(random, option));
      }
    }
    if (verb.equals("export")) {
      args.add("--otlp");
      args.add("http://localhost:99999"); // refused before any connection
    }
    return args.toArray(String[]::new);
  }

  private static String value(Random random, String option) {
    if (option.equals("-o") || option.equals("--svg")) {
      // Inside the test's directory or nowhere: never a file beside the sources.
      return random.nextBoolean()
          ? dir.resolve("out-" + random.nextInt(4)).toString()
          : "/nonexistent/out";
    }
    if (option.equals("--otlp")) {
      return "http://localhost:99999"; // never a reachable endpoint
    }
    if (random.nextInt(10) == 0) {
      return "x".repeat(random.nextInt(10_000));
    }
    return VALUES[random.nextInt(VALUES.length)];
  }
}
