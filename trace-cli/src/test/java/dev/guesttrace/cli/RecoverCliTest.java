package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code run --dump-memory} then {@code recover}, as docs/recover.md shows them, and every view on
 * the recovered file; bad input is one line with exit 1 (data) or 2 (usage).
 */
class RecoverCliTest {
  @TempDir static Path dir;
  static Path dump;
  static Path recovered;
  static CliTest.Outcome run;
  static CliTest.Outcome recover;

  @BeforeAll
  static void dumpAndRecover() {
    dump = dir.resolve("hello.mem");
    recovered = dir.resolve("hello-recovered.gtrace");
    run =
        CliTest.run(
            "run",
            "hello",
            "--mode",
            "flight",
            "--quiet",
            "--dump-memory",
            dump.toString(),
            "-o",
            dir.resolve("hello.gtrace").toString());
    recover = CliTest.run("recover", dump.toString(), "-o", recovered.toString());
  }

  @Test
  void runDumpsMemory_recoverWritesTheTrace() throws IOException {
    assertThat(run.status()).as(run.err()).isZero();
    assertThat(Files.size(dump)).isEqualTo(64L << 20);
    assertThat(recover.status()).as(recover.err()).isZero();
    assertThat(recover.out()).matches("region 0x[0-9a-f]+  vCPU 0  flight mode  2048 slots\n");
    assertThat(recover.err())
        .matches(
            "guesttrace recover: wrote "
                + java.util.regex.Pattern.quote(recovered.toString())
                + " \\(\\d+ records from 1 of 1 candidate regions, raw dump, clock uncalibrated:"
                + " 1 GHz assumed\\)\n");
  }

  @Test
  void wrappedFlightRing_recoversTheTailAndCountsTheRest() {
    Path fib = dir.resolve("fib.mem");
    CliTest.Outcome fibRun =
        CliTest.run("run", "fib", "--mode", "flight", "--quiet", "--dump-memory", fib.toString());
    assertThat(fibRun.status()).as(fibRun.err()).isZero();
    Path out = dir.resolve("fib-recovered.gtrace");
    CliTest.Outcome r = CliTest.run("recover", fib.toString(), "-o", out.toString());
    assertThat(r.status()).isZero();
    assertThat(r.err().lines())
        .containsExactly(
            "guesttrace recover: lost 41768 records: 41768 overwritten in flight mode (see"
                + " 'guesttrace info "
                + out
                + "')",
            "guesttrace recover: wrote "
                + out
                + " (2046 records from 1 of 1 candidate regions, raw dump, clock uncalibrated:"
                + " 1 GHz assumed)");
  }

  @Test
  void info_saysWhereTheTraceCameFrom() {
    CliTest.Outcome info = CliTest.run("info", recovered.toString());
    assertThat(info.status()).isZero();
    assertThat(info.out())
        .contains("guest        hello.mem\n")
        .contains(
            "run          recovered from "
                + dump
                + " (raw), 1 vCPU, flight mode, ring 65536 B, args none\n")
        .contains("outcome      recovered 1 trace region from " + dump + "\n")
        .contains("tsc          host unknown (a dump does not say)\n")
        .contains("calibration  1.000000 GHz (ASSUMED: 1 tick per ns, nothing known)")
        .contains("warning: TSC RATE UNKNOWN: no calibration pairs and no hypervisor figure")
        .contains("lost         none\n")
        .contains("diagnostics  none\n")
        .contains("vm exits     none recorded\n");
  }

  @Test
  void tscGhz_isShownAsTheGivenRate() {
    Path out = dir.resolve("ghz.gtrace");
    CliTest.Outcome r =
        CliTest.run(
            "recover",
            dump.toString(),
            "--format",
            "raw",
            "--tsc-ghz",
            "2.5",
            "-o",
            out.toString());
    assertThat(r.status()).isZero();
    assertThat(r.err()).contains("clock at the given 2.5 GHz");
    assertThat(CliTest.run("info", out.toString()).out())
        .contains(
            "tsc          host unknown (a dump does not say), guest rate given (--tsc-ghz) 2500000 kHz")
        .contains("calibration  2.500000 GHz");
  }

  @Test
  void everyView_worksOnTheRecoveredFile() throws IOException {
    String file = recovered.toString();
    CliTest.Outcome tree = CliTest.run("tree", file, "--compact");
    assertThat(tree.status()).isZero();
    // The guest's spans, nested as the guest wrote them (no host spans: a dump has none).
    assertThat(
            tree.out().lines().map(l -> l.substring(l.indexOf(']') + 2).replaceAll(" \\S+$", "")))
        .containsExactly(
            "entrypoint",
            "  load_gdt",
            "  load_idt",
            "    init_idt",
            "  hyperlight_main",
            "halt",
            "dispatch_function",
            "  internal_dispatch_function",
            "    try_pop_shared_input_data_into",
            "    call_guest_function",
            "      call_host_function",
            "        call_host_function_without_returning_result",
            "          push_shared_output_data",
            "          out32",
            "        get_host_return_value",
            "          try_pop_shared_input_data_into",
            "    push_shared_output_data",
            "halt");

    CliTest.Outcome stats = CliTest.run("stats", file);
    assertThat(stats.status()).isZero();
    assertThat(stats.out().lines().filter(l -> l.startsWith("try_pop_shared_input_data_into")))
        .singleElement()
        .satisfies(l -> assertThat(l.split("\\s+")[1]).isEqualTo("2"));

    Path json = dir.resolve("rec.json");
    assertThat(CliTest.run("perfetto", file, "-o", json.toString()).status()).isZero();
    assertThat(Files.readString(json)).startsWith("{").contains("dispatch_function");

    CliTest.Outcome folded = CliTest.run("flame", file);
    assertThat(folded.status()).isZero();
    assertThat(folded.out().lines()).anyMatch(l -> l.matches("dispatch_function;.* \\d+"));

    CopyOnWriteArrayList<byte[]> posted = new CopyOnWriteArrayList<>();
    HttpServer otlp = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    otlp.createContext(
        "/v1/traces",
        exchange -> {
          try (InputStream in = exchange.getRequestBody()) {
            posted.add(in.readAllBytes());
          }
          exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
          exchange.sendResponseHeaders(200, -1);
          exchange.close();
        });
    otlp.start();
    try {
      CliTest.Outcome export =
          CliTest.run(
              "export",
              file,
              "--otlp",
              "http://127.0.0.1:" + otlp.getAddress().getPort() + "/v1/traces",
              "--protocol",
              "http/protobuf");
      assertThat(export.status()).as(export.err()).isZero();
    } finally {
      otlp.stop(0);
    }
    assertThat(posted).isNotEmpty();
    assertThat(new String(posted.get(0), StandardCharsets.ISO_8859_1))
        .contains("dispatch_function");
  }

  @Test
  void badInput_isOneLine() throws IOException {
    Path out = dir.resolve("bad.gtrace");
    CliTest.Outcome noOutput = CliTest.run("recover", dump.toString());
    assertThat(noOutput.status()).isEqualTo(2);
    assertThat(noOutput.err().lines())
        .singleElement()
        .asString()
        .startsWith("guesttrace recover: ");

    CliTest.Outcome format =
        CliTest.run("recover", dump.toString(), "--format", "vmdk", "-o", out.toString());
    assertThat(format.status()).isEqualTo(2);
    assertThat(format.err())
        .isEqualTo("guesttrace recover: --format: expected raw or elf-core, found 'vmdk'\n");
    assertThat(out).doesNotExist();

    CliTest.Outcome unaligned =
        CliTest.run("recover", dump.toString(), "--region", "0x28004", "-o", out.toString());
    assertThat(unaligned.status()).isEqualTo(2);
    assertThat(unaligned.err())
        .isEqualTo(
            "guesttrace recover: region address must be 8-byte aligned and >= 0:"
                + " address=0x28004\n");

    CliTest.Outcome notAnAddress =
        CliTest.run("recover", dump.toString(), "--region", "here", "-o", out.toString());
    assertThat(notAnAddress.status()).isEqualTo(2);
    assertThat(notAnAddress.err().lines()).singleElement().asString().contains("found 'here'");

    long dumpBytes = Files.size(dump);
    CliTest.Outcome onto = CliTest.run("recover", dump.toString(), "-o", dump.toString());
    assertThat(onto.status()).isEqualTo(2);
    assertThat(onto.err())
        .isEqualTo(
            "guesttrace recover: -o: " + dump + " is the dump itself; write the trace elsewhere\n");
    assertThat(Files.size(dump)).isEqualTo(dumpBytes);

    Path missing = dir.resolve("missing.mem");
    CliTest.Outcome none = CliTest.run("recover", missing.toString(), "-o", out.toString());
    assertThat(none.status()).isEqualTo(1);
    assertThat(none.err()).isEqualTo("guesttrace recover: no such file: " + missing + "\n");

    byte[] noise = new byte[256 * 1024];
    new Random(7).nextBytes(noise);
    Path random = dir.resolve("random.mem");
    Files.write(random, noise);
    CliTest.Outcome nothing = CliTest.run("recover", random.toString(), "-o", out.toString());
    assertThat(nothing.status()).isEqualTo(1);
    assertThat(nothing.err().lines())
        .last()
        .isEqualTo(
            "guesttrace recover: no trace region recovered from "
                + random
                + ": no region magic at any 8-byte aligned address");

    byte[] elf = new byte[40];
    ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN).putInt(0x464C457F).put((byte) 2);
    Path cutElf = dir.resolve("cut.core");
    Files.write(cutElf, elf);
    CliTest.Outcome cut = CliTest.run("recover", cutElf.toString(), "-o", out.toString());
    assertThat(cut.status()).isEqualTo(1);
    assertThat(cut.err())
        .isEqualTo(
            "guesttrace recover: ELF core cut short: expected a 64-byte ELF64 header, found 40"
                + " bytes\n");
  }
}
