package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.file.proto.Chunk;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Usage errors before the guest runs, lost output, one-cause errors, escapes from files. */
class HardeningCliTest {
  @TempDir Path dir;

  @Test
  void runOptionsOutOfRange_exit2BeforeTheGuestRuns() {
    assertUsage(
        CliTest.run("run", "hello", "--timeout", "1e30s"),
        "guesttrace run: Invalid value for option '--timeout': expected a duration of at most 30"
            + " days, found '1e30s'");
    assertUsage(
        CliTest.run("run", "hello", "--timeout", "9223372036854775807m"),
        "guesttrace run: Invalid value for option '--timeout': expected a duration of at most 30"
            + " days, found '9223372036854775807m'");
    CliTest.Outcome huge = CliTest.run("run", "hello", "--memory", "100000g");
    assertThat(huge.status()).isEqualTo(2);
    assertThat(huge.err()).startsWith("guesttrace run: guest memory must fit in this machine's ");
    assertUsage(
        CliTest.run("run", "hello", "--memory", "400k"),
        "guesttrace run: guest memory must be at least 1 MiB: memoryBytes=409600");
    assertUsage(
        CliTest.run("run", "hello", "--memory", "1m", "--vcpus", "64"),
        "guesttrace run: guest memory too small: expected at least 2424832 bytes, found"
            + " memoryBytes=1048576");
    // Guest args: the boot info's key=value lines, 4032 bytes at most (was exit 1 in the run).
    assertUsage(
        CliTest.run("run", "hostile-unknown-kind", "--arg", "k=" + "x".repeat(5000)),
        "guesttrace run: --arg: the guest's arguments take at most 4032 bytes as key=value lines,"
            + " found 5003");
    assertUsage(
        CliTest.run("run", "hostile-unknown-kind", "--arg", "a=1\nb=2"),
        "guesttrace run: --arg a: expected a value without line breaks or control characters,"
            + " found '1\\nb=2'");
    // View and OTLP options: checked before the run too, with or without --otlp.
    assertUsage(
        CliTest.run("run", "hello", "--max-lines", "-1"),
        "guesttrace run: --max-lines: expected 0 (no limit) or more, found -1");
    assertUsage(
        CliTest.run("run", "hello", "--unit", "parsecs"),
        "guesttrace run: --unit: expected auto, ns, us, ms or s, found 'parsecs'");
    assertUsage(
        CliTest.run("run", "hello", "--filter", "("),
        "guesttrace run: --filter: not a regular expression: Unclosed group near index 1");
    assertUsage(
        CliTest.run("run", "hello", "--protocol", "foo"),
        "guesttrace run: --protocol: expected grpc or http/protobuf, found 'foo'");
    assertUsage(
        CliTest.run("run", "hello", "--traces", "all"),
        "guesttrace run: --traces: expected per-run or per-call, found 'all'");
    assertUsage(
        CliTest.run("run", "hello", "--max-spans-per-trace", "-1"),
        "guesttrace run: --max-spans-per-trace: expected 0 or more, found -1");
    assertUsage(
        CliTest.run("run", "hello", "--otlp-header", "=b"),
        "guesttrace run: --otlp-header: expected a header name of letters, digits and"
            + " !#$%&'*+-.^_`|~, found ''");
    assertUsage(
        CliTest.run(
            "run", "hello", "--otlp", "http://localhost:4318", "--otlp-header", "a=b\r\nc: d"),
        "guesttrace run: --otlp-header: the value of a has a control character:"
            + " 'b\\r\\nc: d'");
    assertUsage(
        CliTest.run("run", "hello", "--otlp-header", "Host=x"),
        "guesttrace run: --otlp-header: Host is set by the exporter itself and cannot be given");
    // A dump that cannot be written fails as -o does: before the guest, not after it.
    CliTest.Outcome dump =
        CliTest.run("run", "hello", "--dump-memory", dir.resolve("no/such/dir/d.bin").toString());
    assertThat(dump.status()).isEqualTo(1);
    assertThat(dump.err())
        .isEqualTo(
            "guesttrace run: cannot write "
                + dir.resolve("no/such/dir/d.bin")
                + ": No such file or directory\n")
        .doesNotContain("Hello");
    assertUsage(
        CliTest.run("run", "hello", "--ring-bytes", "64m"),
        "guesttrace run: trace rings must fit in half of guest memory: ringBytes=67108864 x"
            + " vcpus=1 > memoryBytes/2=33554432");
    assertUsage(
        CliTest.run("run", "hello", "--otlp", "http://localhost:99999"),
        "guesttrace run: --otlp: expected a port in 1..65535, found 99999 in"
            + " 'http://localhost:99999'");
    assertUsage(
        CliTest.run("run", "hello", "--otlp", "ftp://h:4317"),
        "guesttrace run: --otlp: expected an http:// or https:// URL, found 'ftp://h:4317'");
  }

  private static void assertUsage(CliTest.Outcome o, String line) {
    assertThat(o.status()).isEqualTo(2);
    // One line, and nothing from the guest: it never started.
    assertThat(o.err()).startsWith(line).doesNotContain("Hello");
    assertThat(o.out()).isEmpty();
  }

  @Test
  void standardOutputThatFails_exit1WithTheCause() {
    Guesttrace.CheckedOutput failing =
        new Guesttrace.CheckedOutput(
            new OutputStream() {
              @Override
              public void write(int b) throws IOException {
                throw new IOException("No space left on device");
              }
            });
    StringWriter err = new StringWriter();
    int status =
        Guesttrace.execute(
            new String[] {"guests"},
            new PrintWriter(new OutputStreamWriter(failing, StandardCharsets.UTF_8), true),
            new PrintWriter(err, true),
            failing::error);
    assertThat(status).isEqualTo(1);
    assertThat(err.toString())
        .isEqualTo("guesttrace guests: cannot write standard output: No space left on device\n");
  }

  @Test
  void fileErrors_nameTheCauseOnce() {
    Path missing = dir.resolve("no-such-dir").resolve("f.gtrace");
    CliTest.Outcome o = CliTest.run("run", "hello", "--quiet", "-o", missing.toString());
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.err())
        .isEqualTo("guesttrace run: cannot write " + missing + ": No such file or directory\n");

    Path dump = dir.resolve("dump.bin");
    assertThat(CliTest.run("run", "hello", "--quiet", "--dump-memory", dump.toString()).status())
        .isZero();
    CliTest.Outcome recover = CliTest.run("recover", dump.toString(), "-o", missing.toString());
    assertThat(recover.status()).isEqualTo(1);
    assertThat(recover.err())
        .isEqualTo("guesttrace recover: cannot write " + missing + ": No such file or directory\n");

    Path underAFile = dump.resolve("guest");
    CliTest.Outcome init = CliTest.run("init", "java", underAFile.toString());
    assertThat(init.status()).isEqualTo(1);
    assertThat(init.err())
        .isEqualTo("guesttrace init: cannot write " + underAFile + ": Not a directory\n");
  }

  @Test
  void damagedFile_infoJsonAndCsvCountTheFilesLossLikeTheText() throws IOException {
    Path trace = dir.resolve("fib.gtrace");
    // Deterministic: a real-clock file's layout moves from run to run, and now and then its middle
    // byte fell in a small chunk of pairs or host spans, which holds no records (lost: none).
    assertThat(
            CliTest.run("run", "fib", "--deterministic", "--quiet", "-o", trace.toString())
                .status())
        .isZero();
    byte[] bytes = Files.readAllBytes(trace);
    bytes[bytes.length / 2] ^= 0x40; // inside a records chunk of fib's 43,811 records
    Files.write(trace, bytes);

    String text = CliTest.run("info", trace.toString()).out();
    String lostLine =
        text.lines().filter(l -> l.startsWith("lost ")).findFirst().orElseThrow().substring(13);
    assertThat(lostLine).matches("\\d+ records in damaged or missing chunks of the file");
    long inFile = Long.parseLong(lostLine.substring(0, lostLine.indexOf(' ')));

    // Was: "total": 0, "text": "none" in JSON and CSV while the text said records were lost.
    String json = CliTest.run("info", trace.toString(), "--format", "json").out();
    assertThat(json)
        .contains("\"in_file\":" + inFile + ",")
        .contains("\"text\":\"" + lostLine + "\"");
    String csv = CliTest.run("info", trace.toString(), "--format", "csv").out();
    assertThat(csv).contains("lost.in_file," + inFile + "\n").contains("lost.text," + lostLine);
    assertThat(json).contains("\"in_file_estimated\":false");

    // Damage in the end chunk: nothing after it counts the file's records, the loss is an
    // estimate from the bytes, and every view says so with a ~ (the lost line once did not).
    bytes[bytes.length / 2] ^= 0x40;
    bytes[bytes.length - 20] ^= 0x40;
    Files.write(trace, bytes);
    String atTheEnd = CliTest.run("info", trace.toString()).out();
    assertThat(atTheEnd).containsPattern("(?m)^lost         ~\\d+ records in damaged or missing");
    assertThat(CliTest.run("info", trace.toString(), "--format", "json").out())
        .contains("\"in_file_estimated\":true")
        .containsPattern("\"text\":\"~\\d+ records in damaged");
  }

  @Test
  void damagedChunkOfPairsOrHostSpans_theLostLineSaysSo() throws IOException {
    // Was: "lost none" (the line counted records only) while a warning named the skipped chunk.
    Path trace = dir.resolve("fib.gtrace");
    assertThat(
            CliTest.run("run", "fib", "--deterministic", "--quiet", "-o", trace.toString())
                .status())
        .isZero();
    byte[] file = Files.readAllBytes(trace);
    long records = 0;
    int[] pairsChunk = null; // {offset of the body, length, pairs}
    int[] spansChunk = null;
    int at = 8; // after the magic and the version
    while (at < file.length) {
      int length = 0;
      int shift = 0;
      int b;
      do {
        b = file[at++] & 0xFF;
        length |= (b & 0x7F) << shift;
        shift += 7;
      } while (b >= 0x80);
      Chunk c = Chunk.parseFrom(java.util.Arrays.copyOfRange(file, at, at + length));
      records += c.getRecords().getFlags().size();
      if (c.hasCalibration() && pairsChunk == null) {
        pairsChunk = new int[] {at, length, c.getCalibration().getVcpuCount()};
      }
      if (c.hasHostSpans() && spansChunk == null) {
        spansChunk = new int[] {at, length, c.getHostSpans().getSpansCount()};
      }
      at += length;
    }
    assertThat(pairsChunk).isNotNull();
    assertThat(spansChunk).isNotNull();

    byte[] damaged = file.clone();
    damaged[pairsChunk[0] + pairsChunk[1] / 2] ^= 0x40; // past the tag byte: the CRC fails
    Files.write(trace, damaged);
    CliTest.Outcome info = CliTest.run("info", trace.toString());
    assertThat(info.out())
        .contains(
            "\nlost         none of "
                + records
                + " records; unreadable in the file: 1 chunk of calibration pairs ("
                + pairsChunk[2]
                + " pairs)\n");
    assertThat(CliTest.run("info", trace.toString(), "--format", "json").out())
        .contains(
            "\"in_file\":0,\"in_file_estimated\":false,\"in_file_unreadable\":[{\"kind\":"
                + "\"calibration_pairs\",\"chunks\":1,\"items\":"
                + pairsChunk[2]
                + "}]");
    assertThat(CliTest.run("info", trace.toString(), "--format", "csv").out())
        .contains(
            "lost.in_file_unreadable.calibration_pairs.chunks,1\n"
                + "lost.in_file_unreadable.calibration_pairs.items,"
                + pairsChunk[2]
                + "\n");

    damaged = file.clone();
    damaged[spansChunk[0] + spansChunk[1] / 2] ^= 0x40;
    Files.write(trace, damaged);
    assertThat(CliTest.run("info", trace.toString()).out())
        .contains(
            "\nlost         none of "
                + records
                + " records; unreadable in the file: 1 chunk of host spans\n");
  }

  @Test
  void compareSvgThatCannotBeWritten_namesTheFileAndTheCause() {
    Path trace = dir.resolve("h.gtrace");
    assertThat(CliTest.run("run", "hello", "--quiet", "-o", trace.toString()).status()).isZero();
    Path full = Path.of("/dev/full");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isWritable(full), "no /dev/full here");

    CliTest.Outcome o =
        CliTest.run("compare", trace.toString(), "--vs", trace.toString(), "--svg", "/dev/full");

    assertThat(o.status()).isEqualTo(1);
    assertThat(o.err())
        .isEqualTo("guesttrace compare: cannot write /dev/full: No space left on device\n");
  }

  @Test
  void escapesInAFilesHeader_areShownNotObeyed() throws IOException {
    String forged = "host\nlost         none\u001b[2J";
    TraceData.Builder b = TraceData.builder();
    b.onHeader(
        new TraceHeader(
            "g",
            "emulated",
            1,
            "stream\r",
            0,
            List.of(),
            0,
            1_000,
            forged,
            "cpu\u001b]0;title\u0007",
            "Linux\u009b",
            "amd64",
            "jvm\u2028",
            true,
            0,
            "1.0.0"));
    b.onFinish(
        new TraceEnd(
            "halted",
            false,
            2_000,
            new LossCounters(0, 0, 3, 0, 0),
            List.of(new dev.guesttrace.collect.Diagnostic("kind\u001b[1A", 0, 3, "x")),
            List.of()));
    Path file = dir.resolve("escapes.gtrace");
    try (OutputStream out = Files.newOutputStream(file)) {
      TraceFileWriter.write(b.build(), out, "test");
    }
    CliTest.Outcome info = CliTest.run("info", file.toString());
    assertThat(info.status()).isZero();
    assertThat(info.out())
        .contains("host         host\\nlost         none\\u001b[2J (Linux\\u009b, amd64)\n")
        .contains("cpu          cpu\\u001b]0;title\\u0007\n")
        .contains("jvm          jvm\\u2028, trace ABI 1.0.0\n")
        .contains(", stream\\r mode,")
        .contains("  kind\\u001b[1A ")
        .doesNotContain("\u001b")
        .doesNotContain("\r");
    assertThat(info.out().lines().filter(l -> l.startsWith("lost"))).hasSize(1);
  }
}
