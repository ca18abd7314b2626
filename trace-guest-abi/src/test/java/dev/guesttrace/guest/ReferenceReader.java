package dev.guesttrace.guest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A deliberately independent reader of trace ABI 1.0, written from docs/abi.md alone: literal
 * offsets, a {@link ByteBuffer}, no code shared with the writer or the descriptor classes. If the
 * writer and the document drift apart, the golden tests that use this reader fail.
 *
 * <p>It plays the host as docs/abi.md, "The host's side", describes: it copies capacity and mode
 * once at registration and keeps its own cursor.
 */
final class ReferenceReader {
  // docs/abi.md, "Region header".
  static final int REGION_MAGIC = 0x43525447; // "GTRC"
  static final int REGION_HEADER_BYTES = 64;
  static final int SLOT_BYTES = 32;

  // docs/abi.md, "Record kinds".
  static final int KIND_SPAN_BEGIN = 1;
  static final int KIND_SPAN_END = 2;
  static final int KIND_MESSAGE = 3;
  static final int KIND_CONTINUATION = 4;
  static final int KIND_ALLOC = 5;
  static final int KIND_FREE = 6;
  static final int KIND_COUNTER = 7;

  // docs/abi.md, "Name table".
  static final int NAME_TABLE_MAGIC = 0x544E5447; // "GTNT"

  /** The header fields, as docs/abi.md lists them. */
  record Header(
      int magic,
      int abiVersion,
      int headerLength,
      int recordLength,
      int capacity,
      int mode,
      int vcpuId,
      long writeSequence,
      long droppedRecords,
      long overwrittenSlots,
      long nameTableAddress,
      int nameTableLength,
      int flushCount) {

    String describe() {
      return String.format(
          "header magic=0x%08x abiVersion=%d.%d.%d headerLength=%d recordLength=%d capacity=%d"
              + " mode=%s vcpuId=%d writeSequence=%d droppedRecords=%d overwrittenSlots=%d"
              + " nameTableAddress=0x%x nameTableLength=%d flushCount=%d",
          magic,
          abiVersion >>> 16,
          abiVersion >>> 8 & 0xFF,
          abiVersion & 0xFF,
          headerLength,
          recordLength,
          capacity,
          mode == 0 ? "stream" : mode == 1 ? "flight" : "unknown(" + mode + ")",
          vcpuId,
          writeSequence,
          droppedRecords,
          overwrittenSlots,
          nameTableAddress,
          nameTableLength,
          flushCount);
    }
  }

  /**
   * One decoded record. {@code text} is set for messages only; {@code slots} counts the slots the
   * record took (a message: 1 + its continuations).
   */
  record Record(
      long sequence,
      int kind,
      int flags,
      int nameId,
      long tscTicks,
      long arg0,
      long arg1,
      String text,
      int slots) {}

  private int capacity;
  private long cursor;
  private long lostSlots;
  private final List<Record> records = new ArrayList<>();

  static ByteBuffer le(ByteBuffer buffer) {
    return buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  static Header header(ByteBuffer region) {
    ByteBuffer b = le(region);
    return new Header(
        b.getInt(0),
        b.getInt(4),
        Short.toUnsignedInt(b.getShort(8)),
        Short.toUnsignedInt(b.getShort(10)),
        b.getInt(12),
        b.getInt(16),
        b.getInt(20),
        b.getLong(24),
        b.getLong(32),
        b.getLong(40),
        b.getLong(48),
        b.getInt(56),
        b.getInt(60));
  }

  /** Names by id; index 0 is unused ("no name"). */
  static List<String> names(ByteBuffer table) {
    ByteBuffer b = le(table);
    if (b.getInt(0) != NAME_TABLE_MAGIC) {
      throw new IllegalStateException(
          "name table magic: found 0x" + Integer.toHexString(b.getInt(0)));
    }
    int count = b.getInt(8);
    int used = b.getInt(12);
    List<String> names = new ArrayList<>();
    names.add(null);
    int at = 16;
    for (int id = 1; id <= count; id++) {
      int length = Short.toUnsignedInt(b.getShort(at));
      byte[] text = new byte[length];
      b.get(at + 2, text);
      names.add(new String(text, StandardCharsets.UTF_8));
      at += (2 + length + 3) & ~3;
    }
    if (at - 16 != used) {
      throw new IllegalStateException("usedLength=" + used + " but entries end at " + (at - 16));
    }
    return names;
  }

  /** Registration: copy what this reader will trust afterwards. */
  void register(ByteBuffer region) {
    Header h = header(region);
    if (h.magic() != REGION_MAGIC || h.recordLength() != SLOT_BYTES) {
      throw new IllegalStateException("not a trace region: " + h.describe());
    }
    capacity = h.capacity();
    cursor = 0;
  }

  /**
   * Reads every record from this reader's cursor up to the header's write sequence (stream mode, on
   * a flush or any other exit). Slots the guest overwrote before we read them are counted lost.
   */
  void drain(ByteBuffer region) {
    long end = header(region).writeSequence();
    if (end - cursor > capacity) {
      lostSlots += end - capacity - cursor;
      cursor = end - capacity;
    }
    records.addAll(decode(region, cursor, end, capacity));
    cursor = end;
  }

  /** The last {@code capacity} slots of a flight-mode ring (at halt, abort or fault). */
  static List<Record> recoverFlight(ByteBuffer region) {
    Header h = header(region);
    long end = h.writeSequence();
    long start = Math.max(0, end - h.capacity());
    return decode(region, start, end, h.capacity());
  }

  /**
   * Decodes slots {@code [start, end)}: a message's continuations are joined to it; continuation
   * slots with no message before them (the oldest slots after an overwrite) are skipped.
   */
  static List<Record> decode(ByteBuffer region, long start, long end, int capacity) {
    ByteBuffer b = le(region);
    List<Record> out = new ArrayList<>();
    long s = start;
    while (s < end) {
      int at = slot(s, capacity);
      int kind = b.get(at) & 0xFF;
      if (kind == KIND_CONTINUATION) {
        s++;
        continue;
      }
      int flags = b.get(at + 1) & 0xFF;
      int aux = Short.toUnsignedInt(b.getShort(at + 2));
      int nameId = b.getInt(at + 4);
      long tsc = b.getLong(at + 8);
      long arg0 = b.getLong(at + 16);
      long arg1 = b.getLong(at + 24);
      if (kind == KIND_MESSAGE) {
        int length = aux;
        int continuations = length <= 16 ? 0 : (length - 16 + 30) / 31;
        if (s + 1 + continuations > end) {
          break; // the rest is not published yet
        }
        byte[] text = new byte[length];
        for (int i = 0; i < length; i++) {
          int address;
          if (i < 16) {
            address = at + 16 + i;
          } else {
            int rest = i - 16;
            int cont = slot(s + 1 + rest / 31, capacity);
            if ((b.get(cont) & 0xFF) != KIND_CONTINUATION) {
              throw new IllegalStateException(
                  "slot " + (s + 1 + rest / 31) + " not a continuation");
            }
            address = cont + 1 + rest % 31;
          }
          text[i] = b.get(address);
        }
        out.add(
            new Record(
                s,
                kind,
                flags,
                nameId,
                tsc,
                0,
                0,
                new String(text, StandardCharsets.UTF_8),
                1 + continuations));
        s += 1 + continuations;
      } else {
        out.add(new Record(s, kind, flags, nameId, tsc, arg0, arg1, null, 1));
        s++;
      }
    }
    return out;
  }

  private static int slot(long sequence, int capacity) {
    return REGION_HEADER_BYTES + (int) (sequence & (capacity - 1)) * SLOT_BYTES;
  }

  /** One line per record, as in the golden .txt files. */
  static String format(Record r, List<String> names) {
    String name = r.nameId() == 0 ? "-" : r.nameId() + ":" + nameOf(r.nameId(), names);
    return switch (r.kind()) {
      case KIND_SPAN_BEGIN ->
          String.format(
              "seq=%d tsc=%d span_begin name=%s arg0=%d arg1=%d",
              r.sequence(), r.tscTicks(), name, r.arg0(), r.arg1());
      case KIND_SPAN_END ->
          String.format("seq=%d tsc=%d span_end name=%s", r.sequence(), r.tscTicks(), name);
      case KIND_MESSAGE ->
          String.format(
              "seq=%d tsc=%d message slots=%d bytes=%d hex=%s text=\"%s\"",
              r.sequence(),
              r.tscTicks(),
              r.slots(),
              r.text().getBytes(StandardCharsets.UTF_8).length,
              HexFormat.of().formatHex(r.text().getBytes(StandardCharsets.UTF_8)),
              r.text());
      case KIND_ALLOC ->
          String.format(
              "seq=%d tsc=%d alloc address=0x%x sizeBytes=%d",
              r.sequence(), r.tscTicks(), r.arg0(), r.arg1());
      case KIND_FREE ->
          String.format(
              "seq=%d tsc=%d free address=0x%x sizeBytes=%d",
              r.sequence(), r.tscTicks(), r.arg0(), r.arg1());
      case KIND_COUNTER ->
          String.format(
              "seq=%d tsc=%d counter name=%s value=%d", r.sequence(), r.tscTicks(), name, r.arg0());
      default -> String.format("seq=%d unknown kind=%d", r.sequence(), r.kind());
    };
  }

  private static String nameOf(int id, List<String> names) {
    return id < names.size() ? names.get(id) : "undefined";
  }

  List<Record> records() {
    return records;
  }

  long cursor() {
    return cursor;
  }

  long lostSlots() {
    return lostSlots;
  }
}
