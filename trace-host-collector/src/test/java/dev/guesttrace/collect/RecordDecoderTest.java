package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The decoder reads the usual records straight from the {@code long[]} the exit path copies into
 * ({@code decodePlain}); any other segment takes the general loop only. Both must keep the same
 * records and count the same diagnostics and losses, whatever the slots hold.
 */
class RecordDecoderTest {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** What one decoder produced: every record as text, the counters, the diagnostics. */
  private record Outcome(
      List<String> records,
      long kept,
      long undecodable,
      long overwritten,
      long quotaDropped,
      List<Diagnostic> diagnostics) {}

  private static Outcome decode(List<long[]> copies, int mode, long maxRecords, boolean asLongs) {
    List<String> records = new ArrayList<>();
    Reporter report = new Reporter(d -> {}, (kind, vcpu, detail) -> false);
    RecordDecoder decoder =
        new RecordDecoder(
            1,
            maxRecords,
            7, // a small batch: the fast path stops at every full batch
            report,
            batch -> {
              for (int i = 0; i < batch.size(); i++) {
                records.add(
                    batch.kind(i)
                        + " "
                        + batch.nameId(i)
                        + " "
                        + batch.tscTicks(i)
                        + " "
                        + batch.arg0(i)
                        + " "
                        + batch.arg1(i)
                        + " "
                        + batch.message(i));
              }
            });
    long sequence = 0;
    for (long[] words : copies) {
      MemorySegment buffer;
      long offsetBytes = 3 * 32; // inside a larger buffer, as in a copy area
      if (asLongs) {
        long[] area = new long[12 + words.length + 8];
        System.arraycopy(words, 0, area, (int) offsetBytes / 8, words.length);
        buffer = MemorySegment.ofArray(area);
      } else {
        buffer = MemorySegment.ofArray(new byte[(12 + words.length + 8) * Long.BYTES]);
        for (int w = 0; w < words.length; w++) {
          buffer.set(U64, offsetBytes + (long) w * Long.BYTES, words[w]);
        }
      }
      long count = words.length / 4;
      decoder.decode(
          new SlotCopy(
              0,
              mode,
              sequence,
              buffer,
              offsetBytes,
              count,
              5,
              sequence == 0 && mode == 1,
              null,
              0));
      sequence += count;
    }
    return new Outcome(
        records,
        decoder.kept(),
        decoder.undecodable(),
        decoder.overwritten(),
        decoder.quotaDropped(),
        report.diagnostics.snapshot());
  }

  private static long header(int kind, int aux, int nameId) {
    return TraceRecordDescriptor.header(kind, 0, aux, nameId);
  }

  /** Slots of a message with this ASCII text, the TSC given. */
  private static void message(List<Long> out, long tsc, String text) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    int slots = 1 + TraceRecordDescriptor.continuationSlots(utf8.length);
    byte[] ring = new byte[slots * 32];
    MemorySegment seg = MemorySegment.ofArray(ring);
    seg.set(U64, 0, header(RecordKind.MESSAGE, utf8.length, 0));
    seg.set(U64, 8, tsc);
    int inline = Math.min(16, utf8.length);
    System.arraycopy(utf8, 0, ring, 16, inline);
    for (int s = 1, at = inline; s < slots; s++) {
      ring[s * 32] = (byte) RecordKind.CONTINUATION;
      int n = Math.min(31, utf8.length - at);
      System.arraycopy(utf8, at, ring, s * 32 + 1, n);
      at += n;
    }
    for (int w = 0; w < slots * 4; w++) {
      out.add(seg.get(U64, w * 8L));
    }
  }

  /** Random slots: mostly good spans, with every kind of trouble mixed in. */
  private static List<long[]> randomCopies(long seed) {
    Random random = new Random(seed);
    List<long[]> copies = new ArrayList<>();
    long tsc = 1_000;
    for (int c = 0; c < 20; c++) {
      List<Long> words = new ArrayList<>();
      int records = random.nextInt(60);
      for (int r = 0; r < records; r++) {
        tsc += random.nextInt(50);
        int pick = random.nextInt(100);
        if (pick < 70) {
          int kind = random.nextBoolean() ? RecordKind.SPAN_BEGIN : RecordKind.SPAN_END;
          words.addAll(List.of(header(kind, 0, random.nextInt(6)), tsc, (long) r, (long) c));
        } else if (pick < 76) {
          int kind = new int[] {RecordKind.ALLOC, RecordKind.FREE, RecordKind.COUNTER}[r % 3];
          words.addAll(List.of(header(kind, 0, random.nextInt(9)), tsc, 4096L * r, 64L));
        } else if (pick < 82) {
          String text =
              switch (random.nextInt(5)) {
                case 0 -> "Start converting buffer";
                case 1 -> "caf\u00e9"; // not ASCII: never cached
                case 2 -> "bad \uFFFF"; // made invalid UTF-8 below
                default -> "m" + random.nextInt(3) + "x".repeat(random.nextInt(70));
              };
          int at = words.size();
          message(words, tsc, text);
          if (text.startsWith("bad")) {
            words.set(at + 2, words.get(at + 2) | 0xFFL << 40); // byte 5 of the text: 0xFF
          }
          if (random.nextInt(8) == 0 && words.size() - at > 4) {
            words.set(at + 4, (long) RecordKind.SPAN_BEGIN); // a continuation that is not one
          }
        } else if (pick < 85) {
          words.addAll(List.of(header(RecordKind.SPAN_BEGIN, 0, 1), tsc - 500, 0L, 0L)); // back
        } else if (pick < 88) {
          words.addAll(List.of(header(RecordKind.SPAN_END, 0, 99), tsc, 0L, 0L)); // unknown name
        } else if (pick < 91) {
          words.addAll(List.of((long) RecordKind.CONTINUATION, 0L, 0L, 0L)); // dangling
        } else if (pick < 94) {
          words.addAll(List.of(0L, 0L, 0L, 0L)); // empty
        } else if (pick < 97) {
          words.addAll(List.of(header(200, 0, 1), tsc, 0L, 0L)); // unknown kind
        } else {
          words.addAll(List.of(header(RecordKind.SPAN_BEGIN + 64, 0, 1), tsc, 0L, 0L));
        }
      }
      copies.add(words.stream().mapToLong(Long::longValue).toArray());
    }
    return copies;
  }

  @Test
  void longArrayCopies_decodeExactlyAsAnyOtherSegment() {
    for (long seed = 0; seed < 40; seed++) {
      for (int mode :
          new int[] {TraceRegionDescriptor.MODE_STREAM, TraceRegionDescriptor.MODE_FLIGHT}) {
        for (long quota : new long[] {Long.MAX_VALUE, 300}) {
          List<long[]> copies = randomCopies(seed);

          Outcome fast = decode(copies, mode, quota, true);
          Outcome general = decode(copies, mode, quota, false);

          assertThat(fast).as("seed %d mode %d quota %d", seed, mode, quota).isEqualTo(general);
          assertThat(fast.records()).isNotEmpty();
        }
      }
    }
  }

  @Test
  void recordBatch_reusedAfterMessages_holdsNoStaleText() {
    RecordBatch batch = new RecordBatch(4);
    batch.reset(0);
    batch.addMessage(1, "one");
    batch.add(RecordKind.SPAN_BEGIN, 1, 2, 0, 0);
    batch.addMessage(3, "three");

    batch.reset(0);
    batch.add(RecordKind.SPAN_BEGIN, 1, 4, 0, 0);
    batch.add(RecordKind.SPAN_END, 1, 5, 0, 0);
    batch.add(RecordKind.COUNTER, 1, 6, 0, 0);
    batch.reset(0);
    batch.add(RecordKind.SPAN_BEGIN, 1, 7, 0, 0);
    batch.add(RecordKind.SPAN_END, 1, 8, 0, 0);
    batch.add(RecordKind.SPAN_END, 1, 9, 0, 0);

    assertThat(batch.message(0)).isNull();
    assertThat(batch.message(1)).isNull();
    assertThat(batch.message(2)).isNull();
  }

  @Test
  void repeatedMessages_decodeToTheSameText() {
    List<Long> words = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      message(words, 100 + 3 * i, "Finish copy of data");
      message(words, 101 + 3 * i, "Finish copy of dat4"); // same length, other bytes
      message(words, 102 + 3 * i, "caf\u00e9 " + i);
    }
    List<long[]> copies = List.of(words.stream().mapToLong(Long::longValue).toArray());

    Outcome out = decode(copies, TraceRegionDescriptor.MODE_STREAM, Long.MAX_VALUE, true);

    assertThat(out.records()).hasSize(15);
    assertThat(out.records().get(0)).isEqualTo("3 0 100 0 0 Finish copy of data");
    assertThat(out.records().get(1)).isEqualTo("3 0 101 0 0 Finish copy of dat4");
    assertThat(out.records().get(2)).isEqualTo("3 0 102 0 0 caf\u00e9 0");
    assertThat(out.records().get(12)).isEqualTo("3 0 112 0 0 Finish copy of data");
    assertThat(out.records().get(13)).isEqualTo("3 0 113 0 0 Finish copy of dat4");
    assertThat(out.records().get(14)).isEqualTo("3 0 114 0 0 caf\u00e9 4");
    assertThat(out.diagnostics()).isEmpty();
  }
}
