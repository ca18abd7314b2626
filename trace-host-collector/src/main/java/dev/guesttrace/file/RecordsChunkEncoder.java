package dev.guesttrace.file;

import static dev.guesttrace.file.TraceFileFormat.HAS_ARG0;
import static dev.guesttrace.file.TraceFileFormat.HAS_ARG1;
import static dev.guesttrace.file.TraceFileFormat.HAS_NAME;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.RecordBatch;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Encodes a {@link RecordBatch} as one framed {@code Chunk { records }} of the .gtrace format, byte
 * for byte what {@link TraceFileFormat#frame} makes of the protobuf-built message, without building
 * it: the columns are written as protobuf wire format straight from the batch into buffers this
 * encoder keeps and reuses, so that writing a batch allocates nothing but its messages' UTF-8
 * bytes. Records are most of a big trace file; through the generated builders (a boxed-free but
 * growing list per column, a size pass, a serialize pass and two copies) encoding cost about six
 * times the decode, and a stream-mode guest whose trace goes to a file waited for it.
 *
 * <p>Field order and presence follow protobuf's own encoder for the proto3 {@code Records} message
 * (fields in number order, zero scalars and empty repeated fields left out, repeated scalars
 * packed); {@code RecordsChunkEncoderTest} compares the two on random batches.
 *
 * <p>Memory: each buffer grows to the largest batch seen (a batch is bounded by its capacity, and a
 * message by the ABI's 4,096 bytes), and is kept for the next batch. Not thread-safe.
 */
final class RecordsChunkEncoder {
  /** Chunk field 3 ({@code records}), wire type LEN. */
  private static final int CHUNK_RECORDS_TAG = (3 << 3) | 2;

  private static final int VCPU_TAG = (1 << 3);
  private static final int FLAGS_TAG = (2 << 3) | 2;
  private static final int NAME_IDS_TAG = (3 << 3) | 2;
  private static final int FIRST_TSC_TAG = (4 << 3) | 1;
  private static final int TSC_DELTAS_TAG = (5 << 3) | 2;
  private static final int ARGS_TAG = (6 << 3) | 2;
  private static final int MESSAGES_TAG = (7 << 3) | 2;
  private static final int RECORDS_BEFORE_TAG = (8 << 3);

  private final Buffer flags = new Buffer(1024);
  private final Buffer nameIds = new Buffer(1024);
  private final Buffer tscDeltas = new Buffer(1024);
  private final Buffer args = new Buffer(1024);
  private final Buffer messages = new Buffer(256);
  private final Buffer frame = new Buffer(4096);

  /**
   * Encodes {@code batch} (at least one record) with {@code recordsBefore} as its {@code
   * records_before}; the framed chunk (sync mark, body, CRC-32C; no length prefix) is then {@link
   * #frameBytes()}{@code [0, }{@link #frameLength()}{@code )}, valid until the next call.
   */
  void encode(RecordBatch batch, long recordsBefore) {
    encode(batch, 0, batch.size(), recordsBefore);
  }

  /**
   * Most bytes the records {@code [from, to)} of {@code batch} may take in a chunk's body, framing
   * aside: an upper bound computed without encoding (a varint at its longest, a message's text at 3
   * bytes per UTF-16 unit).
   */
  static long boundBytes(RecordBatch batch, int from, int to) {
    long bytes = 0;
    for (int i = from; i < to; i++) {
      bytes += batch.kind(i) == RecordKind.MESSAGE ? 17 + 3L * batch.message(i).length() : 36;
    }
    return bytes;
  }

  /**
   * How many records of {@code batch} from {@code from} on (at least one) one chunk holds without
   * its body passing {@code limitBytes} by {@link #boundBytes}: a writer's batch can be larger than
   * the chunk size a reader accepts ({@link TraceFileFormat#MAX_CHUNK_BYTES}), e.g. a collector
   * with a large {@code setBatchRecords} and long non-ASCII messages.
   */
  static int recordsFitting(RecordBatch batch, int from, long limitBytes) {
    long bytes = CHUNK_OVERHEAD_BYTES;
    int i = from;
    while (i < batch.size()) {
      bytes += boundBytes(batch, i, i + 1);
      if (bytes > limitBytes && i > from) {
        break;
      }
      i++;
    }
    return i - from;
  }

  /**
   * Most bytes of a records chunk's body that are not its records' own: tags and lengths of its
   * fields, the vCPU, the first TSC, {@code records_before}, the framing.
   */
  static final int CHUNK_OVERHEAD_BYTES = 128;

  /**
   * As {@link #encode(RecordBatch, long)}, for the records {@code [from, to)} of {@code batch}
   * only.
   */
  void encode(RecordBatch batch, int from, int to, long recordsBefore) {
    java.util.Objects.checkFromToIndex(from, to, batch.size());
    int n = to - from;
    if (n == 0) {
      throw new IllegalArgumentException("an empty batch has no chunk");
    }
    flags.clear();
    nameIds.clear();
    tscDeltas.clear();
    args.clear();
    messages.clear();
    flags.ensure(n);
    // Room for every varint of the batch up front (at most 10 bytes each; a name id 5), so the
    // loop's varints need no capacity check of their own.
    nameIds.ensure(5 * n);
    tscDeltas.ensure(10 * n);
    args.ensure(20 * n);
    byte[] flagBytes = flags.bytes;
    long previous = batch.tscTicks(from);
    for (int i = from; i < to; i++) {
      int kind = batch.kind(i);
      int f = kind;
      if (i > from) {
        long tsc = batch.tscTicks(i);
        tscDeltas.varintUnchecked(zigZag(tsc - previous));
        previous = tsc;
      }
      if (kind == RecordKind.MESSAGE) {
        byte[] text = batch.message(i).getBytes(StandardCharsets.UTF_8);
        messages.varint(MESSAGES_TAG);
        messages.varint(text.length);
        messages.put(text);
      } else {
        int nameId = batch.nameId(i);
        if (nameId != 0) {
          f |= HAS_NAME;
          nameIds.varintUnchecked(Integer.toUnsignedLong(nameId));
        }
        long arg0 = batch.arg0(i);
        if (arg0 != 0) {
          f |= HAS_ARG0;
          args.varintUnchecked(zigZag(arg0));
        }
        long arg1 = batch.arg1(i);
        if (arg1 != 0) {
          f |= HAS_ARG1;
          args.varintUnchecked(zigZag(arg1));
        }
      }
      flagBytes[i - from] = (byte) f;
    }
    flags.length = n;
    long firstTsc = batch.tscTicks(from);
    int vcpu = batch.vcpu();

    int recordsLength =
        (vcpu != 0 ? 1 + varintLength(Integer.toUnsignedLong(vcpu)) : 0)
            + lengthDelimited(flags.length)
            + packed(nameIds)
            + (firstTsc != 0 ? 1 + 8 : 0)
            + packed(tscDeltas)
            + packed(args)
            + messages.length
            + (recordsBefore != 0 ? 1 + varintLength(recordsBefore) : 0);

    frame.clear();
    frame.ensure(
        TraceFileFormat.SYNC_LENGTH
            + 1
            + varintLength(recordsLength)
            + recordsLength
            + TraceFileFormat.CRC_LENGTH);
    frame.put((byte) TraceFileFormat.SYNC_TAG);
    frame.littleEndian(TraceFileFormat.SYNC, 8);
    frame.varint(CHUNK_RECORDS_TAG);
    frame.varint(recordsLength);
    if (vcpu != 0) {
      frame.varint(VCPU_TAG);
      frame.varint(Integer.toUnsignedLong(vcpu));
    }
    frame.lengthDelimited(FLAGS_TAG, flags);
    if (nameIds.length > 0) {
      frame.lengthDelimited(NAME_IDS_TAG, nameIds);
    }
    if (firstTsc != 0) {
      frame.varint(FIRST_TSC_TAG);
      frame.littleEndian(firstTsc, 8);
    }
    if (tscDeltas.length > 0) {
      frame.lengthDelimited(TSC_DELTAS_TAG, tscDeltas);
    }
    if (args.length > 0) {
      frame.lengthDelimited(ARGS_TAG, args);
    }
    frame.put(messages.bytes, 0, messages.length);
    if (recordsBefore != 0) {
      frame.varint(RECORDS_BEFORE_TAG);
      frame.varint(recordsBefore);
    }
    int crcAt = frame.length;
    frame.put((byte) TraceFileFormat.CRC_TAG);
    frame.littleEndian(TraceFileFormat.crc(frame.bytes, 0, crcAt), 4);
  }

  /** The framed chunk's bytes; only the first {@link #frameLength()} are the chunk. */
  byte[] frameBytes() {
    return frame.bytes;
  }

  /** The framed chunk's length in bytes. */
  int frameLength() {
    return frame.length;
  }

  private static long zigZag(long v) {
    return (v << 1) ^ (v >> 63);
  }

  static int varintLength(long v) {
    // 1 byte per 7 significant bits, at least one: 64 - nlz rounded up to sevens.
    int bits = 64 - Long.numberOfLeadingZeros(v | 1);
    return (bits + 6) / 7;
  }

  private static int lengthDelimited(int payloadLength) {
    return 1 + varintLength(payloadLength) + payloadLength;
  }

  private static int packed(Buffer b) {
    return b.length == 0 ? 0 : lengthDelimited(b.length);
  }

  /** A growable byte array written at its end; grows by doubling, never shrinks. */
  private static final class Buffer {
    byte[] bytes;
    int length;

    Buffer(int initialBytes) {
      bytes = new byte[initialBytes];
    }

    void clear() {
      length = 0;
    }

    /** Makes room for {@code more} bytes past {@link #length}. */
    void ensure(int more) {
      int needed = length + more;
      if (needed > bytes.length) {
        bytes = Arrays.copyOf(bytes, Math.max(needed, bytes.length * 2));
      }
    }

    void put(byte b) {
      ensure(1);
      bytes[length++] = b;
    }

    void put(byte[] b) {
      put(b, 0, b.length);
    }

    void put(byte[] b, int from, int count) {
      ensure(count);
      System.arraycopy(b, from, bytes, length, count);
      length += count;
    }

    /** An unsigned base-128 varint, as protobuf writes every varint field. */
    void varint(long v) {
      ensure(10);
      varintUnchecked(v);
    }

    /** {@link #varint} where the caller made room for it (10 bytes) already. */
    void varintUnchecked(long v) {
      byte[] b = bytes;
      int at = length;
      while ((v & ~0x7FL) != 0) {
        b[at++] = (byte) ((v & 0x7F) | 0x80);
        v >>>= 7;
      }
      b[at++] = (byte) v;
      length = at;
    }

    void littleEndian(long value, int count) {
      ensure(count);
      for (int i = 0; i < count; i++) {
        bytes[length++] = (byte) (value >>> (8 * i));
      }
    }

    void lengthDelimited(int tag, Buffer payload) {
      varint(tag);
      varint(payload.length);
      put(payload.bytes, 0, payload.length);
    }
  }
}
