package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.perfetto.proto.Trace;
import dev.guesttrace.perfetto.proto.TracePacket;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Inflater;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code guesttrace perfetto}: the format by extension or --format, and its options. */
class PerfettoCliTest {
  @TempDir static Path dir;
  static Path hello;

  @BeforeAll
  static void writeTrace() {
    hello = dir.resolve("hello.gtrace");
    assertThat(CliTest.run("run", "hello", "--deterministic", "-o", hello.toString()).status())
        .isZero();
  }

  @Test
  void pftraceExtension_writesCompressedPerfettoPackets() throws Exception {
    Path out = dir.resolve("hello.pftrace");

    CliTest.Outcome o = CliTest.run("perfetto", hello.toString(), "-o", out.toString());

    assertThat(o.status()).isZero();
    assertThat(o.err()).contains("guesttrace perfetto: wrote " + out + " (Perfetto protobuf, ");
    Trace trace = Trace.parseFrom(Files.readAllBytes(out));
    assertThat(trace.getPacketList()).allMatch(TracePacket::hasCompressedPackets);
    List<String> names = new ArrayList<>();
    List<String> threads = new ArrayList<>();
    for (TracePacket p : packets(trace)) {
      p.getInternedData().getEventNamesList().forEach(n -> names.add(n.getName()));
      if (p.hasTrackDescriptor() && p.getTrackDescriptor().hasThread()) {
        threads.add(p.getTrackDescriptor().getThread().getThreadName());
      }
    }
    assertThat(names).contains("run hello", "dispatch_function").doesNotHaveDuplicates();
    assertThat(threads).containsExactly("vcpu 0");
  }

  @Test
  void formatOption_winsOverTheExtension() throws Exception {
    Path proto = dir.resolve("plain.bin");
    Path json = dir.resolve("trace.pftrace.txt");

    assertThat(
            CliTest.run(
                    "perfetto",
                    hello.toString(),
                    "-o",
                    proto.toString(),
                    "--format",
                    "proto",
                    "--no-compress")
                .status())
        .isZero();
    assertThat(CliTest.run("perfetto", hello.toString(), "-o", json.toString()).status()).isZero();

    Trace plain = Trace.parseFrom(Files.readAllBytes(proto));
    assertThat(plain.getPacketList()).noneMatch(TracePacket::hasCompressedPackets);
    assertThat(plain.getPacket(0).getTrackDescriptor().getProcess().getProcessName())
        .startsWith("hello (emulated) on ");
    assertThat(Files.readString(json)).startsWith("{").contains("\"traceEvents\"");
  }

  @Test
  void optionsForTheOtherFormat_areUsageErrors() {
    CliTest.Outcome args =
        CliTest.run(
            "perfetto", hello.toString(), "-o", dir.resolve("x.pftrace").toString(), "--span-args");
    CliTest.Outcome compress =
        CliTest.run(
            "perfetto", hello.toString(), "-o", dir.resolve("x.json").toString(), "--no-compress");
    CliTest.Outcome format =
        CliTest.run(
            "perfetto",
            hello.toString(),
            "-o",
            dir.resolve("x.json").toString(),
            "--format",
            "xml");

    assertThat(args.status()).isEqualTo(2);
    assertThat(args.err()).contains("--span-args is for JSON output");
    assertThat(compress.status()).isEqualTo(2);
    assertThat(compress.err()).contains("--no-compress is for protobuf output");
    assertThat(format.status()).isEqualTo(2);
    assertThat(format.err()).contains("--format").contains("xml");
    assertThat(Files.exists(dir.resolve("x.pftrace"))).isFalse();
  }

  private static List<TracePacket> packets(Trace trace) throws Exception {
    List<TracePacket> all = new ArrayList<>();
    for (TracePacket p : trace.getPacketList()) {
      Inflater inflater = new Inflater();
      inflater.setInput(p.getCompressedPackets().toByteArray());
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      while (!inflater.finished()) {
        out.write(buffer, 0, inflater.inflate(buffer));
      }
      inflater.end();
      all.addAll(Trace.parseFrom(out.toByteArray()).getPacketList());
    }
    return all;
  }
}
