package dev.guesttrace.collect;

import static dev.guesttrace.abi.TraceRecordDescriptor.CONTINUATION_PAYLOAD_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.CONTINUATION_PAYLOAD_OFFSET;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_INLINE_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_INLINE_OFFSET;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_MAX_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.RECORD_SHIFT;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Turns copied ring slots ({@link SlotCopy}) into records: span begins and ends, counters, allocs
 * and frees as they are, messages reassembled from their continuation slots. Checks what it can
 * (name ids against the names known at copy time, kinds, empty slots, time order, UTF-8), counts
 * every slot it cannot use, and keeps at most {@code maxRecords} slots' worth of records per run.
 *
 * <p>Reads only the copy, never guest memory. Single-threaded: the sink side calls it.
 */
final class RecordDecoder {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private static final boolean LITTLE_ENDIAN_HOST =
      ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

  /** Kinds {@link #decodePlain} takes: one slot each, nothing to reassemble. */
  private static final long PLAIN_KINDS =
      1L << RecordKind.SPAN_BEGIN
          | 1L << RecordKind.SPAN_END
          | 1L << RecordKind.ALLOC
          | 1L << RecordKind.FREE
          | 1L << RecordKind.COUNTER;

  /**
   * Longest message text {@link #messageTexts} keeps (3 slots): the constant lines of a runtime.
   */
  private static final int CACHED_MESSAGE_BYTES = 64;

  /** Entries of {@link #messageTexts} (a power of two). */
  private static final int CACHED_MESSAGES = 256;

  private final Reporter report;
  private final long maxRecords;
  private final RecordBatch batch;
  private final Consumer<RecordBatch> out;
  private final long[] lastTsc;
  private final boolean[] skipContinuations;
  private final long[] kept;
  private long keptRecords;
  private long chargedSlots;
  private long overwritten;
  private long overrun;
  private long undecodable;
  private long quotaDropped;

  /** A message's text bytes while it is reassembled: the decoder is single-threaded. */
  private final byte[] messageBytes = new byte[MESSAGE_MAX_BYTES];

  /**
   * Recent short ASCII messages: their slots' words, the TSC word zeroed ({@link #knownMessage}),
   * direct-mapped by {@link #messageEntry}, and their text.
   */
  private final long[][] messageKeys = new long[CACHED_MESSAGES][];

  private final String[] messageTexts = new String[CACHED_MESSAGES];

  RecordDecoder(
      int vcpuCount,
      long maxRecords,
      int batchRecords,
      Reporter report,
      Consumer<RecordBatch> out) {
    this.report = report;
    this.maxRecords = maxRecords;
    this.batch = new RecordBatch(batchRecords);
    this.out = out;
    this.lastTsc = new long[vcpuCount];
    Arrays.fill(lastTsc, Long.MIN_VALUE);
    this.skipContinuations = new boolean[vcpuCount];
    this.kept = new long[vcpuCount];
  }

  /** A new ring for {@code vcpu}: time order and message state start over. */
  void newRing(int vcpu) {
    lastTsc[vcpu] = Long.MIN_VALUE;
    skipContinuations[vcpu] = false;
  }

  /** Records of {@code vcpu} kept so far: the index its next record will have. */
  long kept(int vcpu) {
    return vcpu >= 0 && vcpu < kept.length ? kept[vcpu] : 0;
  }

  /** Records kept so far, all vCPUs. */
  long kept() {
    return keptRecords;
  }

  /** Flight mode: continuation slots whose message head was overwritten. */
  long overwritten() {
    return overwritten;
  }

  /** Stream mode: continuation slots whose message head was lapped. */
  long overrun() {
    return overrun;
  }

  long undecodable() {
    return undecodable;
  }

  long quotaDropped() {
    return quotaDropped;
  }

  /** Counts {@code slots} dropped before decoding (the collector fell behind, lossy mode). */
  void dropped(long slots) {
    quotaDropped = Reporter.saturatedAdd(quotaDropped, slots);
  }

  /** Decodes every slot of {@code copy} and hands the records to the sink in batches. */
  void decode(SlotCopy copy) {
    int vcpu = copy.vcpu();
    MemorySegment slots = copy.slots();
    long count = copy.count();
    long first = copy.firstSequence();
    int knownNames = copy.knownNames();
    boolean flight = copy.mode() == TraceRegionDescriptor.MODE_FLIGHT;
    if (copy.headLost()) {
      skipContinuations[vcpu] = true;
    }
    batch.reset(vcpu);
    long[] words = (copy.offsetBytes() & 7) == 0 ? littleEndianWords(copy.buffer()) : null;
    int firstWord = (int) (copy.offsetBytes() >>> 3);
    long i = 0;
    while (i < count) {
      if (words != null) {
        i = decodePlain(words, firstWord, vcpu, i, count, knownNames);
        if (i >= count) {
          break;
        }
      }
      long slot = i << RECORD_SHIFT;
      long s = first + i;
      long word = slots.get(U64, slot);
      int kind = (int) (word & 0xFF);
      long tsc = slots.get(U64, slot + TraceRecordDescriptor.TSC_OFFSET);
      if (kind == RecordKind.CONTINUATION && skipContinuations[vcpu]) {
        // The head of this message was overwritten (flight mode) or lapped (stream overrun).
        if (flight) {
          overwritten++;
        } else {
          overrun++;
        }
        i++;
        continue;
      }
      skipContinuations[vcpu] = false;
      switch (kind) {
        case RecordKind.SPAN_BEGIN,
            RecordKind.SPAN_END,
            RecordKind.ALLOC,
            RecordKind.FREE,
            RecordKind.COUNTER -> {
          int nameId = (int) (word >>> 32);
          if (nameId != 0
              && kind != RecordKind.ALLOC
              && kind != RecordKind.FREE
              && Integer.compareUnsigned(nameId, knownNames) > 0
              && !report.countIfSeen(Diagnostics.UNDEFINED_NAME)) {
            report.report(
                Diagnostics.UNDEFINED_NAME,
                vcpu,
                RecordKind.name(kind)
                    + " names an undefined id: nameId="
                    + Integer.toUnsignedString(nameId)
                    + " sequence="
                    + s
                    + " defined="
                    + knownNames);
          }
          checkTime(vcpu, tsc, s);
          keep(
              kind,
              nameId,
              tsc,
              slots.get(U64, slot + TraceRecordDescriptor.ARG0_OFFSET),
              slots.get(U64, slot + TraceRecordDescriptor.ARG1_OFFSET),
              null,
              1);
          i++;
        }
        case RecordKind.MESSAGE -> {
          checkTime(vcpu, tsc, s);
          long known = words == null ? -1 : knownMessage(words, firstWord, i, count, word, tsc);
          i =
              known >= 0
                  ? known
                  : message(vcpu, slots, words, firstWord, count, first, i, word, tsc);
        }
        case RecordKind.EMPTY -> {
          undecodable++;
          if (!report.countIfSeen(Diagnostics.EMPTY_SLOT)) {
            report.report(
                Diagnostics.EMPTY_SLOT, vcpu, "empty slot in the written range: sequence=" + s);
          }
          i++;
        }
        case RecordKind.CONTINUATION -> {
          undecodable++;
          if (!report.countIfSeen(Diagnostics.CONTINUATION_DANGLING)) {
            report.report(
                Diagnostics.CONTINUATION_DANGLING,
                vcpu,
                "continuation slot without a message: sequence=" + s);
          }
          i++;
        }
        default -> {
          undecodable++;
          if (!report.countIfSeen(Diagnostics.UNKNOWN_KIND)) {
            report.report(
                Diagnostics.UNKNOWN_KIND,
                vcpu,
                "unknown record kind: kind=" + kind + " sequence=" + s);
          }
          i++;
        }
      }
    }
    flushBatch();
  }

  /**
   * A copy's buffer as the {@code long[]} it wraps whole, whose elements are the slots'
   * little-endian words (the copy area or array the exit path copies into, on a little-endian
   * host), else null: then every slot takes the general path.
   */
  private static long[] littleEndianWords(MemorySegment buffer) {
    if (!LITTLE_ENDIAN_HOST || buffer.address() != 0) {
      return null;
    }
    if (buffer.heapBase().orElse(null) instanceof long[] words
        && (long) words.length * Long.BYTES == buffer.byteSize()) {
      return words;
    }
    return null;
  }

  /**
   * The usual records at once: from index {@code i} (slot {@code i} at {@code words[firstWord + 4 *
   * i]}), spans, counters, allocs and frees in time order with a known name (what the general loop
   * keeps without a word to say), straight from the copy's words into the batch, the per-record
   * counters summed once. Stops at the first record that is anything else (a message, a bad slot,
   * time going back, an unknown name, the batch full, the quota reached), which the general loop
   * then takes; returns its index.
   */
  private long decodePlain(
      long[] words, int firstWord, int vcpu, long i, long count, int knownNames) {
    long room = Math.min(count - i, maxRecords - chargedSlots);
    if (room <= 0) {
      return i;
    }
    int n =
        batch.addPlain(
            words,
            firstWord + (int) (i << 2),
            (int) Math.min(room, Integer.MAX_VALUE),
            lastTsc[vcpu],
            knownNames,
            PLAIN_KINDS);
    if (n > 0) {
      lastTsc[vcpu] = batch.tscTicks(batch.size() - 1);
      skipContinuations[vcpu] = false;
      kept[vcpu] += n;
      keptRecords += n;
      chargedSlots += n;
    }
    return i + n;
  }

  /** Decodes the message at index {@code i} of the copy; returns the index after it. */
  private long message(
      int vcpu,
      MemorySegment slots,
      long[] words,
      int firstWord,
      long count,
      long first,
      long i,
      long word,
      long tsc) {
    long s = first + i;
    int length = (int) ((word >>> 16) & 0xFFFF);
    if (length > MESSAGE_MAX_BYTES) {
      report.report(
          Diagnostics.MESSAGE_TOO_LONG,
          vcpu,
          "message longer than the limit: length="
              + length
              + " max="
              + MESSAGE_MAX_BYTES
              + " sequence="
              + s);
      length = MESSAGE_MAX_BYTES;
    }
    int continuations = TraceRecordDescriptor.continuationSlots(length);
    byte[] text = messageBytes;
    int inline = Math.min(length, MESSAGE_INLINE_BYTES);
    MemorySegment.copy(
        slots, ValueLayout.JAVA_BYTE, (i << RECORD_SHIFT) + MESSAGE_INLINE_OFFSET, text, 0, inline);
    int have = inline;
    long next = i + 1;
    for (int c = 0; c < continuations; c++, next++) {
      if (next >= count) {
        report.report(
            Diagnostics.CONTINUATION_MISSING,
            vcpu,
            "message continues past the written range: sequence=" + s + " length=" + length);
        break;
      }
      long cont = next << RECORD_SHIFT;
      int contKind = slots.get(ValueLayout.JAVA_BYTE, cont) & 0xFF;
      if (contKind != RecordKind.CONTINUATION) {
        report.report(
            Diagnostics.CONTINUATION_MISSING,
            vcpu,
            "message continuation missing: sequence="
                + (first + next)
                + " holds "
                + RecordKind.name(contKind)
                + ", message at "
                + s);
        break;
      }
      int n = Math.min(CONTINUATION_PAYLOAD_BYTES, length - have);
      MemorySegment.copy(
          slots, ValueLayout.JAVA_BYTE, cont + CONTINUATION_PAYLOAD_OFFSET, text, have, n);
      have += n;
    }
    boolean ascii = true;
    for (int b = 0; b < have; b++) {
      ascii &= text[b] >= 0;
    }
    String decoded =
        ascii
            ? new String(text, 0, have, StandardCharsets.ISO_8859_1)
            : report.utf8(text, have, vcpu, "message at sequence " + s);
    if (ascii && have == length && words != null && length <= CACHED_MESSAGE_BYTES) {
      // Whole, within its limit, ASCII: decoding these words again gives this text and no
      // diagnostic, so the next message with the same words takes it from here.
      int base = firstWord + (int) (i << 2);
      int n = (int) (next - i) << 2;
      int entry = messageEntry(words, base, n);
      long[] key = Arrays.copyOfRange(words, base, base + n);
      key[1] = 0; // the TSC word: not part of the text
      messageKeys[entry] = key;
      messageTexts[entry] = decoded;
    }
    keep(RecordKind.MESSAGE, 0, tsc, 0, 0, decoded, next - i);
    return next;
  }

  /**
   * A message whose slots (the TSC word aside) are those of a message decoded before, cleanly: kept
   * with that message's {@code String}, no copy, no decoding. Returns the index after it, or -1
   * (not seen, or not the kind the cache keeps) for {@link #message} to decode it.
   */
  private long knownMessage(long[] words, int firstWord, long i, long count, long word, long tsc) {
    int length = (int) ((word >>> 16) & 0xFFFF);
    if (length > CACHED_MESSAGE_BYTES) {
      return -1;
    }
    int slots = 1 + TraceRecordDescriptor.continuationSlots(length);
    if (i + slots > count) {
      return -1;
    }
    int base = firstWord + (int) (i << 2);
    int n = slots << 2;
    int entry = messageEntry(words, base, n);
    long[] key = messageKeys[entry];
    if (key == null || key.length != n || key[0] != word) {
      return -1;
    }
    for (int w = 2; w < n; w++) {
      if (key[w] != words[base + w]) {
        return -1;
      }
    }
    keep(RecordKind.MESSAGE, 0, tsc, 0, 0, messageTexts[entry], slots);
    return i + slots;
  }

  /** The cache entry of the message in {@code words[base, base + n)}: a hash of all but its TSC. */
  private static int messageEntry(long[] words, int base, int n) {
    long hash = words[base];
    for (int w = 2; w < n; w++) {
      hash = hash * 31 + words[base + w];
    }
    int h = (int) (hash ^ hash >>> 32);
    return (h ^ h >>> 16) & (CACHED_MESSAGES - 1);
  }

  /**
   * Keeps a record that took {@code slots} ring slots. The quota counts slots, not records: a
   * message costs the slots its text took, so long messages cannot grow memory past the quota.
   */
  private void keep(
      int kind, int nameId, long tsc, long arg0, long arg1, String message, long slots) {
    int vcpu = batch.vcpu();
    if (chargedSlots + slots > maxRecords) {
      quotaDropped++;
      if (!report.countIfSeen(Diagnostics.QUOTA_EXCEEDED)) {
        report.report(
            Diagnostics.QUOTA_EXCEEDED,
            vcpu,
            "record quota reached, further records dropped: maxRecords=" + maxRecords);
      }
      return;
    }
    keptRecords++;
    kept[vcpu]++;
    chargedSlots += slots;
    if (batch.isFull()) {
      flushBatch();
    }
    if (message != null) {
      batch.addMessage(tsc, message);
    } else {
      batch.add(kind, nameId, tsc, arg0, arg1);
    }
  }

  private void flushBatch() {
    if (batch.size() > 0) {
      out.accept(batch);
    }
    batch.reset(batch.vcpu());
  }

  private void checkTime(int vcpu, long tsc, long sequence) {
    if (tsc < lastTsc[vcpu] && !report.countIfSeen(Diagnostics.TIMESTAMP_BACKWARDS)) {
      report.report(
          Diagnostics.TIMESTAMP_BACKWARDS,
          vcpu,
          "guest TSC went back: sequence="
              + sequence
              + " tscTicks="
              + tsc
              + " before="
              + lastTsc[vcpu]);
    }
    lastTsc[vcpu] = tsc;
  }
}
