package dev.guesttrace.thirdparty;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.CodedInputStream;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.file.proto.Chunk;
import dev.guesttrace.file.proto.Clock;
import dev.guesttrace.file.proto.Records;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.TraceTree;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reader as a third party would write it from {@code gtrace.proto} and the docs alone, sharing no
 * code with the collector (only the classes protoc generates from the {@code .proto}): it decodes
 * the records, pairs span begins and ends, places them with the file's stored clock as the {@code
 * Clock} message's comment says, and must give the same span times as {@code tree} (the span-tree
 * builder over guesttrace's own reader) within 1 µs.
 */
class ThirdPartyReaderTest {
  /** A guest span as the third-party reader sees it: vCPU, name, ns since the run started. */
  record Span(int vcpu, String name, long startNanos, long endNanos) {}

  @Test
  void storedClock_placesEverySpanAsTreeDoesWithinOneMicrosecond(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("fib.gtrace");
    GuestProgram fib = SampleGuests.find("fib").orElseThrow();
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java("fib", GuestRuntime.image(fib)), new EmulatedBackend())
            .setVcpus(2)
            .setCalls(6)
            .setCall(fib.defaultCall())
            .setRingBytes(8192)
            .setArgs(Map.of("n", "9"))
            .setTsc(
                new VmConfig.TscConfig(
                    1.7e9, 1_000_000_000_000L, 55_555, VmConfig.TscSource.HARDWARE))
            .build();
    try (TraceFileWriter writer = TraceFileWriter.create(file, "guesttrace test")) {
      GuestRun.builder(config).setSink(writer).build().execute();
    }

    List<Span> theirs = readSpans(Files.readAllBytes(file));
    TraceTree tree = SpanTreeBuilder.build(TraceFileReader.read(file, w -> {}));
    List<Span> ours = new ArrayList<>();
    for (TraceTree.VcpuTree t : tree.vcpus()) {
      Deque<SpanNode> todo = new ArrayDeque<>(t.roots());
      while (!todo.isEmpty()) {
        SpanNode n = todo.pop();
        if (n.kind() == SpanKind.GUEST) {
          ours.add(new Span(n.vcpu(), n.name(), n.startNanos(), n.endNanos()));
        }
        n.children().forEach(todo::push);
      }
    }
    Comparator<Span> order =
        Comparator.comparingInt(Span::vcpu)
            .thenComparingLong(Span::startNanos)
            .thenComparing(Span::name)
            .thenComparingLong(Span::endNanos);
    theirs.sort(order);
    ours.sort(order);

    assertThat(theirs).hasSizeGreaterThan(100);
    assertThat(ours).hasSameSizeAs(theirs);
    for (int i = 0; i < theirs.size(); i++) {
      Span a = theirs.get(i);
      Span b = ours.get(i);
      assertThat(a.vcpu()).as("span %d", i).isEqualTo(b.vcpu());
      assertThat(a.name()).as("span %d", i).isEqualTo(b.name());
      assertThat(Math.abs(a.startNanos() - b.startNanos())).as("start of %s", a).isLessThan(1_000);
      assertThat(Math.abs(a.endNanos() - b.endNanos())).as("end of %s", a).isLessThan(1_000);
    }
  }

  /** The whole third-party reader: preamble, chunks, records, names, clock, spans. */
  static List<Span> readSpans(byte[] bytes) throws IOException {
    // Preamble: "GTRACE", major 1, any minor.
    assertThat(new String(bytes, 0, 6, StandardCharsets.US_ASCII)).isEqualTo("GTRACE");
    assertThat(bytes[6]).isEqualTo((byte) 1);
    InputStream in = new ByteArrayInputStream(bytes, 8, bytes.length - 8);
    long startMonotonic = 0;
    Map<Long, String> names = new HashMap<>(); // (vcpu << 32 | id) -> name
    Map<Integer, List<long[]>> records = new HashMap<>(); // vcpu -> [kind, nameId, tsc]
    Clock clock = null;
    while (true) {
      int first = in.read();
      if (first < 0) {
        break;
      }
      int length = CodedInputStream.readRawVarint32(first, in);
      Chunk chunk = Chunk.parseFrom(in.readNBytes(length));
      switch (chunk.getBodyCase()) {
        case HEADER -> startMonotonic = chunk.getHeader().getStartMonotonicNanos();
        case NAMES ->
            chunk
                .getNames()
                .getNamesList()
                .forEach(n -> names.put((long) n.getVcpu() << 32 | n.getId(), n.getName()));
        case RECORDS -> {
          Records r = chunk.getRecords();
          List<long[]> list = records.computeIfAbsent(r.getVcpu(), v -> new ArrayList<>());
          int nameIndex = 0;
          long tsc = r.getFirstTsc();
          byte[] flags = r.getFlags().toByteArray();
          for (int i = 0; i < flags.length; i++) {
            if (i > 0) {
              tsc += r.getTscDeltas(i - 1);
            }
            int kind = flags[i] & 0x0F;
            long nameId = (flags[i] & 0x10) != 0 ? r.getNameIds(nameIndex++) : 0;
            list.add(new long[] {kind, nameId, tsc});
          }
        }
        case CLOCK -> clock = chunk.getClock();
        default -> {}
      }
    }
    assertThat(clock).as("the file stores its fitted clock").isNotNull();
    Map<Integer, Clock.VcpuClock> clocks = new HashMap<>();
    clock.getVcpusList().forEach(c -> clocks.put(c.getVcpu(), c));
    int lowest =
        clock.getVcpusList().stream().mapToInt(Clock.VcpuClock::getVcpu).min().orElseThrow();
    List<Span> spans = new ArrayList<>();
    for (Map.Entry<Integer, List<long[]>> e : records.entrySet()) {
      int vcpu = e.getKey();
      Clock.VcpuClock c = clocks.getOrDefault(vcpu, clocks.get(lowest));
      Deque<long[]> open = new ArrayDeque<>();
      for (long[] r : e.getValue()) {
        // As the Clock message says: a signed 64-bit difference, then doubles, then round.
        long d = r[2] - c.getReferenceTsc();
        long hostNanos =
            c.getReferenceHostNanos() + Math.round(d * 1e9 / clock.getTicksPerSecond());
        long sinceStart = hostNanos - startMonotonic;
        if (r[0] == 1) { // span begin (docs/abi.md)
          open.push(new long[] {r[1], sinceStart});
        } else if (r[0] == 2 && !open.isEmpty()) { // span end
          long[] b = open.pop();
          spans.add(new Span(vcpu, names.get((long) vcpu << 32 | b[0]), b[1], sinceStart));
        }
      }
      assertThat(open).as("vCPU %d spans left open", vcpu).isEmpty();
    }
    return spans;
  }
}
