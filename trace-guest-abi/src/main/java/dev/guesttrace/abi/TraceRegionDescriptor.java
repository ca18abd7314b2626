package dev.guesttrace.abi;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Layout of a per-vCPU trace region in guest memory: a 64-byte header followed by a power-of-two
 * ring of {@link TraceRecordDescriptor#RECORD_LENGTH}-byte record slots. All fields little-endian.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                    magic 'GTRC' (0x43525447)                  |  0
 *  +---------------------------------------------------------------+
 *  |            abiVersion (major << 16 | minor << 8 | patch)      |  4
 *  +-------------------------------+-------------------------------+
 *  |       headerLength (64)       |       recordLength (32)       |  8
 *  +-------------------------------+-------------------------------+
 *  |                capacity (slots, a power of two)               | 12
 *  +---------------------------------------------------------------+
 *  |                  mode (0 stream, 1 flight)                    | 16
 *  +---------------------------------------------------------------+
 *  |                            vcpuId                             | 20
 *  +---------------------------------------------------------------+
 *  |              writeSequence (u64, slots ever written)          | 24
 *  +---------------------------------------------------------------+
 *  |           droppedRecords (u64, records never written)         | 32
 *  +---------------------------------------------------------------+
 *  |       overwrittenSlots (u64, flight mode: slots reused)       | 40
 *  +---------------------------------------------------------------+
 *  |              nameTableAddress (u64, guest physical)           | 48
 *  +---------------------------------------------------------------+
 *  |                nameTableLength (bytes, incl. header)          | 56
 *  +---------------------------------------------------------------+
 *  |                          flushCount                           | 60
 *  +---------------------------------------------------------------+
 *  |             record slots: capacity x recordLength             | 64
 *  |                              ...                              |
 * </pre>
 *
 * <p>The guest writes a slot first and then publishes it by storing {@code writeSequence + 1}
 * (release order). The slot of sequence {@code s} sits at {@code HEADER_LENGTH + (s & (capacity -
 * 1)) * RECORD_LENGTH}. The host reads the header at registration, copies what it needs (capacity,
 * mode, the name table's place) and afterwards trusts only its own copy and its own read cursor.
 */
public final class TraceRegionDescriptor {
  /** {@code "GTRC"} read as a little-endian {@code u32}. */
  public static final int MAGIC = 0x43525447;

  public static final int MAGIC_OFFSET = 0;
  public static final int ABI_VERSION_OFFSET = 4;
  public static final int HEADER_LENGTH_OFFSET = 8;
  public static final int RECORD_LENGTH_OFFSET = 10;
  public static final int CAPACITY_OFFSET = 12;
  public static final int MODE_OFFSET = 16;
  public static final int VCPU_ID_OFFSET = 20;
  public static final int WRITE_SEQUENCE_OFFSET = 24;
  public static final int DROPPED_RECORDS_OFFSET = 32;
  public static final int OVERWRITTEN_SLOTS_OFFSET = 40;
  public static final int NAME_TABLE_ADDRESS_OFFSET = 48;
  public static final int NAME_TABLE_LENGTH_OFFSET = 56;
  public static final int FLUSH_COUNT_OFFSET = 60;

  /** Bytes before the first slot; a cache line, so the ring starts aligned. */
  public static final int HEADER_LENGTH = 64;

  /** Stream mode: the guest flushes (one OUT) when the ring is full; nothing is overwritten. */
  public static final int MODE_STREAM = 0;

  /** Flight-recorder mode: the ring overwrites its oldest slots and never exits. */
  public static final int MODE_FLIGHT = 1;

  /** Smallest ring: a full-length message (1 + 132 continuation slots) must fit with room left. */
  public static final int MIN_CAPACITY = 256;

  /** Largest ring the host accepts: 2^24 slots, 512 MiB. */
  public static final int MAX_CAPACITY = 1 << 24;

  /** The header as a foreign-memory layout; a test proves it agrees with the offsets above. */
  public static final StructLayout LAYOUT =
      MemoryLayout.structLayout(
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("magic"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("abiVersion"),
          JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("headerLength"),
          JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("recordLength"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("capacity"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("mode"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("vcpuId"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("writeSequence"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("droppedRecords"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("overwrittenSlots"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("nameTableAddress"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("nameTableLength"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("flushCount"));

  /** Field handles, each taking {@code (MemorySegment, long baseOffset)}. */
  public static final VarHandle MAGIC_HANDLE = handle("magic");

  public static final VarHandle ABI_VERSION_HANDLE = handle("abiVersion");
  public static final VarHandle HEADER_LENGTH_HANDLE = handle("headerLength");
  public static final VarHandle RECORD_LENGTH_HANDLE = handle("recordLength");
  public static final VarHandle CAPACITY_HANDLE = handle("capacity");
  public static final VarHandle MODE_HANDLE = handle("mode");
  public static final VarHandle VCPU_ID_HANDLE = handle("vcpuId");
  public static final VarHandle WRITE_SEQUENCE_HANDLE = handle("writeSequence");
  public static final VarHandle DROPPED_RECORDS_HANDLE = handle("droppedRecords");
  public static final VarHandle OVERWRITTEN_SLOTS_HANDLE = handle("overwrittenSlots");
  public static final VarHandle NAME_TABLE_ADDRESS_HANDLE = handle("nameTableAddress");
  public static final VarHandle NAME_TABLE_LENGTH_HANDLE = handle("nameTableLength");
  public static final VarHandle FLUSH_COUNT_HANDLE = handle("flushCount");

  private TraceRegionDescriptor() {}

  /** Bytes of a region with {@code capacity} slots. */
  public static long regionLength(int capacity) {
    return HEADER_LENGTH + (long) capacity * TraceRecordDescriptor.RECORD_LENGTH;
  }

  /** Offset of sequence {@code sequence}'s slot from the region start. */
  public static long slotOffset(long sequence, int capacity) {
    return HEADER_LENGTH + ((sequence & (capacity - 1)) << TraceRecordDescriptor.RECORD_SHIFT);
  }

  /**
   * Whether {@code capacity} is a power of two within [{@link #MIN_CAPACITY}, {@link
   * #MAX_CAPACITY}].
   */
  public static boolean isValidCapacity(long capacity) {
    return capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY && Long.bitCount(capacity) == 1;
  }

  /**
   * The capacity for a ring of {@code ringBytes} bytes of slots (the header not counted): the
   * largest power of two of slots that fits, or 0 if fewer than {@link #MIN_CAPACITY} fit. How a
   * {@code --ring-bytes} setting becomes a capacity.
   */
  public static int capacityForRingBytes(long ringBytes) {
    long slots = ringBytes / TraceRecordDescriptor.RECORD_LENGTH;
    if (slots < MIN_CAPACITY) {
      return 0;
    }
    return (int) Math.min(MAX_CAPACITY, Long.highestOneBit(slots));
  }

  private static VarHandle handle(String name) {
    return LAYOUT.varHandle(groupElement(name));
  }
}
