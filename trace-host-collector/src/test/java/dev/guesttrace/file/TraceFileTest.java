package dev.guesttrace.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.ExitProfileRow;
import dev.guesttrace.collect.FakeGuestAccess;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.collect.TraceSinks;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.SpanTreeBuilderTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TraceFileTest {
  private static final long START = SpanTreeBuilderTest.START;

  /** A small run through the real tracer and collector, written to a file as it goes. */
  private static byte[] smallRun(List<TraceData> memoryCopy) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TraceFileWriter file = new TraceFileWriter(bytes, "guesttrace test");
    TraceHeader header = SpanTreeBuilderTest.header(2);
    FakeGuestAccess g = new FakeGuestAccess(header, file);
    g.linearHostClock(true);
    g.tscStep(0, 2_000);
    g.tscStep(1, 3_000);
    Tracer t0 = g.tracer(0, 256, TraceRegionDescriptor.MODE_STREAM);
    Tracer t1 = g.tracer(1, 256, TraceRegionDescriptor.MODE_FLIGHT);
    int main = t0.name("main");
    int work = t0.name("work \u00e9");
    t0.begin(main, 42, -1);
    t0.message("a message long enough to need two continuation slots, \u20ac included");
    g.register(0, Register.RCX, g.rdtsc(0));
    g.out(0, ExitPorts.HOST_CALL, 0);
    g.collector().hostSpan(new HostSpan(0, SpanKind.HOST_CALL, "print", START + 100, START + 200));
    t1.begin(work);
    t1.counter(work, 7);
    t1.alloc(0x1000, 16);
    t1.end(work);
    t0.free(0x1000, 16);
    t0.end(work); // mismatched on purpose: the tree builder repairs it, the file keeps it raw
    t0.flush();
    g.collector().hostSpan(new HostSpan(1, SpanKind.HOST_RUN, "run", START, START + 90_000));
    TraceData data =
        g.finish(
            START + 100_000,
            List.of(new ExitProfileRow("out", 0x70, "trace", 3, 0, 900, 200, 300, 400, 400, 2, 0)));
    memoryCopy.add(data);
    try {
      file.close();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    return bytes.toByteArray();
  }

  /**
   * A batch bigger than a chunk a reader accepts (an embedder's collector with a large {@code
   * setBatchRecords}, messages of 4,096 bytes the decoder turned into U+FFFD, 3 bytes each in
   * UTF-8): the writer made one 69 MB chunk, and the reader refused the whole file as corrupt.
   */
  @Test
  void batchTooBigForOneChunk_writtenAsSeveral_everyRecordReadBack() throws Exception {
    int n = 5_600;
    String text = "\uFFFD".repeat(4096);
    RecordBatch batch = new RecordBatch(n);
    batch.reset(0);
    for (int i = 0; i < n; i++) {
      batch.addMessage(1_000 + i, text);
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TraceFileWriter file = new TraceFileWriter(bytes, "guesttrace test");
    file.onHeader(SpanTreeBuilderTest.header(1));
    file.onRecords(batch);
    file.onFinish(
        new TraceEnd(
            "halted", false, START + 1, new LossCounters(0, 0, 0, 0, 0), List.of(), List.of()));
    file.close();
    assertThat(bytes.size()).isGreaterThan(TraceFileFormat.MAX_CHUNK_BYTES);

    List<String> warnings = new ArrayList<>();
    TraceData data = read(bytes.toByteArray(), warnings);

    assertThat(warnings).isEmpty();
    assertThat(data.losses().total()).isZero();
    VcpuRecords r = data.records(0);
    assertThat(r.size()).isEqualTo(n);
    for (int i = 0; i < n; i += 1_111) {
      assertThat(r.tscTicks(i)).isEqualTo(1_000 + i);
      assertThat(r.message(i)).isEqualTo(text);
    }
    assertThat(r.tscTicks(n - 1)).isEqualTo(1_000 + n - 1);
  }

  private static TraceData read(byte[] bytes, List<String> warnings)
      throws IOException, TraceFileException {
    return TraceFileReader.read(new ByteArrayInputStream(bytes), warnings::add, 1_000_000);
  }

  static List<String> dump(TraceData d) {
    List<String> out = new ArrayList<>();
    out.add(d.header().toString());
    for (int v = 0; v < d.vcpuCount(); v++) {
      VcpuRecords r = d.records(v);
      for (int id = 1; id < r.nameLimit(); id++) {
        out.add("name " + v + " " + id + " " + r.name(id));
      }
      for (int i = 0; i < r.size(); i++) {
        out.add(
            v
                + " "
                + r.kind(i)
                + " "
                + r.nameId(i)
                + " "
                + r.tscTicks(i)
                + " "
                + r.arg0(i)
                + " "
                + r.arg1(i)
                + " "
                + r.message(i));
      }
    }
    d.calibrationPairs().forEach(p -> out.add(p.toString()));
    d.hostSpans().forEach(s -> out.add(s.toString()));
    d.diagnostics().forEach(x -> out.add(x.toString()));
    out.add(String.valueOf(d.end()));
    return out;
  }

  @Test
  void roundTrip_fileHoldsEverythingTheCollectorProduced() throws Exception {
    List<TraceData> memory = new ArrayList<>();
    byte[] bytes = smallRun(memory);
    List<String> warnings = new ArrayList<>();
    TraceData fromFile = read(bytes, warnings);

    assertThat(warnings).isEmpty();
    assertThat(dump(fromFile)).isEqualTo(dump(memory.get(0)));
    assertThat(fromFile.recordCount()).isEqualTo(8);
    assertThat(fromFile.end()).isPresent();
    assertThat(SpanTreeBuilderTest.lines(SpanTreeBuilder.build(fromFile)))
        .isEqualTo(SpanTreeBuilderTest.lines(SpanTreeBuilder.build(memory.get(0))));
  }

  @Test
  void storedClock_isTheFitOfThePairsWithTheirSources() throws Exception {
    List<TraceData> memory = new ArrayList<>();
    byte[] bytes = smallRun(memory);
    TraceData fromFile = read(bytes, new ArrayList<>());

    assertThat(memory.get(0).storedClock()).isEmpty();
    assertThat(fromFile.storedClock()).isPresent();
    assertThat(fromFile.storedClock().get().values())
        .isEqualTo(SpanTreeBuilder.calibrate(memory.get(0)).values());
    assertThat(fromFile.calibrationPairs()).isEqualTo(memory.get(0).calibrationPairs());
    assertThat(SpanTreeBuilder.calibrate(fromFile)).isSameAs(fromFile.storedClock().get());
  }

  @Test
  void formatOneZeroFile_noSourceColumnNoClock_readsPairsAsTheGuests() throws Exception {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.write(new byte[] {'G', 'T', 'R', 'A', 'C', 'E', 1, 0});
    dev.guesttrace.file.proto.Chunk.newBuilder()
        .setHeader(
            dev.guesttrace.file.proto.Header.newBuilder().setVcpuCount(1).setInvariantTsc(true))
        .build()
        .writeDelimitedTo(out);
    dev.guesttrace.file.proto.Chunk.newBuilder()
        .setCalibration(
            dev.guesttrace.file.proto.Calibration.newBuilder()
                .addVcpu(0)
                .addGuestTsc(1_000)
                .addHostNanos(10)
                .addVcpu(0)
                .addGuestTsc(3_000)
                .addHostNanos(1_010))
        .build()
        .writeDelimitedTo(out);
    TraceData d = read(out.toByteArray(), new ArrayList<>());

    assertThat(d.storedClock()).isEmpty();
    assertThat(d.calibrationPairs())
        .containsExactly(
            new dev.guesttrace.collect.CalibrationPair(0, 1_000, 10),
            new dev.guesttrace.collect.CalibrationPair(0, 3_000, 1_010));
    assertThat(SpanTreeBuilder.calibrate(d).ticksPerSecond()).isEqualTo(2e9);
  }

  @Test
  void writeOfTraceData_readsBackTheSame() throws Exception {
    List<TraceData> memory = new ArrayList<>();
    smallRun(memory);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TraceFileWriter.write(memory.get(0), out, "guesttrace test");
    assertThat(dump(read(out.toByteArray(), new ArrayList<>()))).isEqualTo(dump(memory.get(0)));
  }

  @Test
  void cutAtEveryByte_readsUpToLastCompleteChunkOrSaysOneLine() throws Exception {
    byte[] bytes = smallRun(new ArrayList<>());
    long previousRecords = 0;
    int cutsWithData = 0;
    for (int length = 0; length < bytes.length; length++) {
      byte[] cut = Arrays.copyOf(bytes, length);
      List<String> warnings = new ArrayList<>();
      try {
        TraceData d = read(cut, warnings);
        cutsWithData++;
        assertThat(warnings).as("cut at %d", length).hasSize(1);
        assertThat(warnings.get(0)).doesNotContain("\n");
        assertThat(warnings.get(0))
            .matches(
                "trace file (cut short at byte \\d+: read up to the last complete chunk .*"
                    + "|has no end: .*)");
        assertThat(d.end()).isEmpty();
        assertThat(d.recordCount()).isGreaterThanOrEqualTo(previousRecords);
        previousRecords = d.recordCount();
      } catch (TraceFileException e) {
        assertThat(cutsWithData).as("cut at %d after readable cuts", length).isZero();
        assertThat(e.getMessage())
            .isEqualTo("trace file cut short before its header: " + length + " bytes");
      }
    }
    assertThat(cutsWithData).isGreaterThan(bytes.length / 2);
    assertThat(previousRecords).isEqualTo(8);
  }

  @Test
  void badMagic_isOneLineError() {
    assertThatThrownBy(() -> read("PK\u0003\u0004 hello".getBytes(), new ArrayList<>()))
        .isInstanceOf(TraceFileException.class)
        .hasMessage("not a guesttrace trace file: expected magic GTRACE, found 0x504b03042068");
  }

  @Test
  void newerMajorVersion_isRefusedNamingBoth() {
    byte[] bytes = smallRun(new ArrayList<>());
    bytes[6] = 2;
    bytes[7] = 5;
    assertThatThrownBy(() -> read(bytes, new ArrayList<>()))
        .isInstanceOf(TraceFileException.class)
        .hasMessage("trace file format 2.5 not supported: this guesttrace reads format 1.x");
  }

  @Test
  void hugeChunkLength_isRefusedBeforeAllocating() {
    byte[] bytes = {
      'G', 'T', 'R', 'A', 'C', 'E', 1, 0, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x7F
    };
    assertThatThrownBy(() -> read(bytes, new ArrayList<>()))
        .isInstanceOf(TraceFileException.class)
        .hasMessage(
            "corrupt trace file: chunk at byte 8 claims 268435455 bytes, more than the limit of"
                + " 67108864");
  }

  @Test
  void everyFlippedByte_givesDataOrOneLineErrorNeverAnotherException() throws Exception {
    byte[] bytes = smallRun(new ArrayList<>());
    Random random = new Random(1);
    for (int i = 8; i < bytes.length; i++) {
      byte[] bad = bytes.clone();
      bad[i] ^= (byte) (1 + random.nextInt(255));
      try {
        read(bad, new ArrayList<>());
      } catch (TraceFileException e) {
        assertThat(e.getMessage()).as("flip at %d", i).doesNotContain("\n").isNotBlank();
      }
    }
  }

  @Test
  void recordsBeyondTheReaderLimit_areRefused() throws Exception {
    byte[] bytes = smallRun(new ArrayList<>());
    assertThatThrownBy(() -> TraceFileReader.read(new ByteArrayInputStream(bytes), w -> {}, 5))
        .isInstanceOf(TraceFileException.class)
        .hasMessage("trace file holds more records than this reader's limit: limit=5");
  }

  /**
   * The size target: at most 8 bytes per record on disk for a span-heavy stream. A recursive fib
   * guest (one begin and one end per call) through the real tracer, with 20 to 80 TSC ticks between
   * records as a 2.6 GHz TSC gives at 8 to 30 ns per record.
   */
  @Test
  void fibSpans_takeAtMostEightBytesPerRecordOnDisk() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TraceFileWriter file = new TraceFileWriter(bytes, "guesttrace test");
    FakeGuestAccess g = new FakeGuestAccess(SpanTreeBuilderTest.header(1), TraceSinks.tee(file));
    Random random = new Random(3);
    g.tscStepper(0, () -> 20 + random.nextInt(61));
    Tracer t = g.tracer(0, 4096, TraceRegionDescriptor.MODE_STREAM);
    int fib = t.name("fib");
    fib(t, fib, 20);
    t.flush();
    g.finish(START + 1_000_000, List.of());
    file.close();
    long records = file.recordsWritten();
    double perRecord = (double) bytes.size() / records;
    System.out.printf(
        "gtrace size: %d bytes, %d records, %.3f bytes/record%n", bytes.size(), records, perRecord);
    assertThat(records).isEqualTo(2 * 21_891);
    assertThat(perRecord).isLessThanOrEqualTo(8.0);
    // Measured 3.58 (zero args omitted, 1-byte ids), 3.86 with format 1.2's 14 bytes per chunk
    // of sync mark and CRC-32C (a chunk per flush of a 4 KiB ring here, about 50 records).
    assertThat(perRecord).isLessThanOrEqualTo(3.9);
  }

  private static int fib(Tracer t, int id, int n) {
    t.begin(id);
    int r = n < 2 ? n : fib(t, id, n - 1) + fib(t, id, n - 2);
    t.end(id);
    return r;
  }
}
