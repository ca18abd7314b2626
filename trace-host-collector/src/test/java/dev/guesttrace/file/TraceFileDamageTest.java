package dev.guesttrace.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.FakeGuestAccess;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceSinks;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.file.proto.Chunk;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.span.SpanTreeBuilderTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Format 1.2's checked chunks: damage loses the chunk it hit, exactly counted; the reader finds the
 * next chunk by its sync mark. Older files (golden 1.0 and 1.1 files written by earlier builds)
 * stay readable.
 */
class TraceFileDamageTest {
  static byte[] fib;
  static List<long[]> chunks; // {offset of the length prefix, chunk bytes, records in it}
  static long totalRecords;

  @BeforeAll
  static void fibTrace() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TraceFileWriter file = new TraceFileWriter(bytes, "guesttrace test");
    FakeGuestAccess g = new FakeGuestAccess(SpanTreeBuilderTest.header(1), TraceSinks.tee(file));
    Random random = new Random(3);
    g.tscStepper(0, () -> 20 + random.nextInt(61));
    Tracer t = g.tracer(0, 4096, TraceRegionDescriptor.MODE_STREAM);
    int id = t.name("fib");
    fib(t, id, 16);
    t.flush();
    g.finish(SpanTreeBuilderTest.START + 1_000_000, List.of());
    file.close();
    fib = bytes.toByteArray();
    chunks = layout(fib);
    totalRecords = file.recordsWritten();
  }

  @Test
  void undamaged_readsEverythingWithNoNote() throws Exception {
    TraceFileReader.Result r = read(fib);
    assertThat(r.data().recordCount()).isEqualTo(totalRecords).isEqualTo(2 * 3_193);
    assertThat(r.report().notes()).isEmpty();
    assertThat(fib[7]).isEqualTo((byte) TraceFileFormat.MINOR);
  }

  @Test
  void flippedByteInsideARecordsChunk_losesThatChunkOnlyExactly() throws Exception {
    long[] c = recordsChunk(chunks.size() / 2);
    byte[] damaged = fib.clone();
    damaged[(int) (c[0] + c[1] / 2)] ^= 0x40;

    TraceFileReader.Result r = read(damaged);

    assertThat(r.data().recordCount()).isEqualTo(totalRecords - c[2]);
    assertThat(r.report().recordsLostToDamage()).isEqualTo(c[2]);
    assertThat(r.data().outcome()).isEqualTo("halted");
    assertThat(r.report().notes())
        .containsExactly(
            "1 damaged chunk at byte "
                + c[0]
                + " skipped ("
                + (c[1] + varintLength(c[1]))
                + " bytes), "
                + c[2]
                + " records lost");
  }

  @Test
  void twoDamagedChunks_eachChunksRecordsCountedOnce() throws Exception {
    // Was: the second damage counted the first one's records again (6144 lost of 4096 in fib).
    long[] a = recordsChunk(2);
    long[] b = recordsChunk(chunks.indexOf(recordsChunk(chunks.indexOf(a) + 1)) + 1);
    byte[] damaged = fib.clone();
    damaged[(int) (a[0] + a[1] / 2)] ^= 0x40;
    damaged[(int) (b[0] + b[1] / 2)] ^= 0x40;

    TraceFileReader.Result r = read(damaged);

    assertThat(r.data().recordCount()).isEqualTo(totalRecords - a[2] - b[2]);
    assertThat(r.report().recordsLostToDamage()).isEqualTo(a[2] + b[2]);
    assertThat(r.report().notes())
        .singleElement()
        .asString()
        .startsWith("2 damaged chunks skipped (first at byte " + a[0] + ")")
        .endsWith(", " + (a[2] + b[2]) + " records lost");
  }

  @Test
  void aRecordsChunkCutOutWhole_isCountedMissing() throws Exception {
    // Every byte that is left checks: only the file's own counts show the records are gone.
    long[] c = recordsChunk(chunks.size() / 2);
    int from = (int) c[0];
    int to = (int) (c[0] + varintLength(c[1]) + c[1]);
    byte[] cut = new byte[fib.length - (to - from)];
    System.arraycopy(fib, 0, cut, 0, from);
    System.arraycopy(fib, to, cut, from, fib.length - to);

    TraceFileReader.Result r = read(cut);

    assertThat(r.data().recordCount()).isEqualTo(totalRecords - c[2]);
    assertThat(r.report().recordsLostToDamage()).isEqualTo(c[2]);
    assertThat(r.report().notes())
        .containsExactly(
            c[2]
                + " records missing before byte "
                + from
                + " though no chunk there is damaged: the file's own counts say so (a chunk was"
                + " cut out of it)");
  }

  @Test
  void aRecordsChunkTwice_isNamed() throws Exception {
    long[] c = recordsChunk(chunks.size() / 2);
    int from = (int) c[0];
    int to = (int) (c[0] + varintLength(c[1]) + c[1]);
    byte[] twice = new byte[fib.length + (to - from)];
    System.arraycopy(fib, 0, twice, 0, to);
    System.arraycopy(fib, from, twice, to, fib.length - from);

    TraceFileReader.Result r = read(twice);

    // The second copy says fewer records came before it than were read: named, not a loss.
    assertThat(r.data().recordCount()).isEqualTo(totalRecords + c[2]);
    assertThat(r.report().recordsLostToDamage()).isZero();
    assertThat(r.report().notes())
        .containsExactly(
            c[2]
                + " records more than the file's own counts before byte "
                + to
                + ": some chunks appear twice");
  }

  @Test
  void damagedLengthPrefix_theScanFindsTheNextChunk() throws Exception {
    long[] c = recordsChunk(3);
    for (int flip : new int[] {0x01, 0x7F, 0x80}) {
      byte[] damaged = fib.clone();
      damaged[(int) c[0]] ^= (byte) flip;

      TraceFileReader.Result r = read(damaged);

      assertThat(r.data().recordCount()).as("flip %x", flip).isEqualTo(totalRecords - c[2]);
      assertThat(r.report().notes())
          .singleElement()
          .asString()
          .startsWith("1 damaged chunk at byte " + c[0] + " skipped")
          .endsWith(", " + c[2] + " records lost");
    }
  }

  @Test
  void damagedFinalChunk_keepsEveryRecord() throws Exception {
    // Was: "corrupt trace file ... does not parse", all records lost.
    long[] last = chunks.getLast();
    byte[] damaged = fib.clone();
    damaged[(int) (last[0] + last[1] / 2)] ^= 0x01;

    TraceFileReader.Result r = read(damaged);

    assertThat(r.data().recordCount()).isEqualTo(totalRecords);
    assertThat(r.data().outcome()).isEqualTo("incomplete");
    assertThat(r.report().notes().getFirst())
        .startsWith("1 damaged chunk at byte " + last[0] + " skipped");
  }

  @Test
  void damagedHeader_isOneLineError() {
    byte[] damaged = fib.clone();
    damaged[12] ^= 0x01;
    assertThatThrownBy(() -> read(damaged))
        .isInstanceOf(TraceFileException.class)
        .hasMessage(
            "corrupt trace file: the header chunk at byte 8 is damaged (its checksum does not"
                + " match)");
  }

  @Test
  void everyByteFlipped_losesAtMostTheChunksItTouches() throws Exception {
    long maxChunkRecords = chunks.stream().mapToLong(c -> c[2]).max().orElseThrow();
    long headerEnd = chunks.get(1)[0];
    Random random = new Random(7);
    for (int i = (int) headerEnd; i < fib.length; i += 1 + random.nextInt(15)) {
      byte[] damaged = fib.clone();
      damaged[i] ^= (byte) (1 << random.nextInt(8));
      TraceFileReader.Result r = read(damaged);
      // A flipped length can make the chunk before look longer: at most two chunks' records.
      assertThat(r.data().recordCount())
          .as("byte %d", i)
          .isGreaterThanOrEqualTo(totalRecords - 2 * maxChunkRecords);
      assertThat(r.report().notes()).as("byte %d", i).isNotEmpty();
    }
  }

  @Test
  void goldenFilesOfFormats10And11_readAsBefore() throws Exception {
    TraceData v10 = golden("hello-format-1.0.gtrace");
    TraceData v11 = golden("hello-format-1.1.gtrace");
    for (TraceData d : List.of(v10, v11)) {
      assertThat(d.header().guest()).isEqualTo("hello");
      assertThat(d.recordCount()).isEqualTo(45);
      assertThat(d.outcome()).isEqualTo("halted");
      assertThat(d.calibrationPairs()).hasSize(4);
      assertThat(d.records(0).name(1)).isNotNull();
    }
    VcpuRecords a = v10.records(0);
    VcpuRecords b = v11.records(0);
    for (int i = 0; i < a.size(); i++) {
      assertThat(b.kind(i)).isEqualTo(a.kind(i));
      assertThat(b.tscTicks(i)).isEqualTo(a.tscTicks(i));
      assertThat(b.name(b.nameId(i))).isEqualTo(a.name(a.nameId(i)));
    }
  }

  private static TraceData golden(String name) throws Exception {
    try (InputStream in = TraceFileDamageTest.class.getResourceAsStream("/golden/" + name)) {
      List<String> warnings = new ArrayList<>();
      TraceData d = TraceFileReader.read(in, warnings::add, TraceFileReader.Limits.DEFAULT).data();
      assertThat(warnings).isEmpty();
      return d;
    }
  }

  /**
   * Damage packed with fake chunk starts (a sync mark after a length claiming ~60 MB, every 13
   * bytes): each is a candidate that rereads the rest of the file, so without a bound the scan
   * costs the square of the file. It stops at its budget, says so, and the read ends.
   */
  @Test
  @org.junit.jupiter.api.Timeout(120)
  void fakeSyncMarksEverywhere_scanStopsAtItsBudgetAndSaysSo() throws Exception {
    int headerEnd = (int) chunks.get(1)[0];
    int units = 200_000;
    byte[] file = java.util.Arrays.copyOf(fib, headerEnd + units * 13);
    long claimed = 60_000_000;
    for (int u = 0, at = headerEnd; u < units; u++, at += 13) {
      for (int i = 0; i < 4; i++) {
        file[at + i] = (byte) (((claimed >>> (7 * i)) & 0x7F) | (i < 3 ? 0x80 : 0));
      }
      file[at + 4] = (byte) TraceFileFormat.SYNC_TAG;
      for (int i = 0; i < 8; i++) {
        file[at + 5 + i] = (byte) (TraceFileFormat.SYNC >>> (8 * i));
      }
    }

    TraceFileReader.Result r = read(file);

    assertThat(r.data().recordCount()).isZero();
    assertThat(r.report().notes())
        .anyMatch(n -> n.startsWith("stopped looking for chunks after byte "));
  }

  private static TraceFileReader.Result read(byte[] file) throws Exception {
    return TraceFileReader.read(
        new ByteArrayInputStream(file), w -> {}, TraceFileReader.Limits.DEFAULT);
  }

  /** The {@code n}th records chunk at or after chunk index {@code from}. */
  private static long[] recordsChunk(int from) {
    for (int i = from; i < chunks.size(); i++) {
      if (chunks.get(i)[2] > 0) {
        return chunks.get(i);
      }
    }
    throw new AssertionError("no records chunk after " + from);
  }

  /** Each chunk's offset, length and record count, read with the .proto alone. */
  private static List<long[]> layout(byte[] file) throws Exception {
    List<long[]> out = new ArrayList<>();
    int at = TraceFileFormat.PREAMBLE_LENGTH;
    while (at < file.length) {
      long length = 0;
      int start = at;
      for (int shift = 0; ; shift += 7) {
        int b = file[at++] & 0xFF;
        length |= (long) (b & 0x7F) << shift;
        if (b < 0x80) {
          break;
        }
      }
      Chunk c = Chunk.parseFrom(java.util.Arrays.copyOfRange(file, at, at + (int) length));
      out.add(new long[] {start, length, c.hasRecords() ? c.getRecords().getFlags().size() : 0});
      at += (int) length;
    }
    return out;
  }

  private static int varintLength(long v) {
    int n = 1;
    while (v >= 0x80) {
      v >>>= 7;
      n++;
    }
    return n;
  }

  private static int fib(Tracer t, int id, int n) {
    t.begin(id);
    int r = n < 2 ? n : fib(t, id, n - 1) + fib(t, id, n - 2);
    t.end(id);
    return r;
  }
}
