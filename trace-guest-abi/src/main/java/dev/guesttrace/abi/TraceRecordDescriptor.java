package dev.guesttrace.abi;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Layout of one 32-byte record slot. All fields little-endian.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------+---------------+-------------------------------+
 *  |     kind      |  flags (0)    |   aux (MESSAGE: text bytes)   |  0
 *  +---------------+---------------+-------------------------------+
 *  |              nameId (index into the name table, 0 = none)     |  4
 *  +---------------------------------------------------------------+
 *  |                     tscTicks (u64, guest TSC)                 |  8
 *  +---------------------------------------------------------------+
 *  |          arg0 (u64; ALLOC/FREE: address; MESSAGE: text)       | 16
 *  +---------------------------------------------------------------+
 *  |          arg1 (u64; ALLOC/FREE: size;    MESSAGE: text)       | 24
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * <p>The first 8 bytes read as one little-endian {@code u64} are {@code kind | flags << 8 | aux <<
 * 16 | nameId << 32}, which is how the Java guest writes them in one store ({@link #header}).
 *
 * <p>A MESSAGE holds its first {@link #MESSAGE_INLINE_BYTES} bytes of UTF-8 at offset 16; the rest
 * follows in {@code ceil((length - 16) / 31)} CONTINUATION slots, each with the kind in byte 0 and
 * {@link #CONTINUATION_PAYLOAD_BYTES} bytes of text in bytes 1 to 31.
 */
public final class TraceRecordDescriptor {
  public static final int KIND_OFFSET = 0;
  public static final int FLAGS_OFFSET = 1;
  public static final int AUX_OFFSET = 2;
  public static final int NAME_ID_OFFSET = 4;
  public static final int TSC_OFFSET = 8;
  public static final int ARG0_OFFSET = 16;
  public static final int ARG1_OFFSET = 24;

  /** Bytes per slot. */
  public static final int RECORD_LENGTH = 32;

  /** {@code log2(RECORD_LENGTH)}: slot index to byte offset. */
  public static final int RECORD_SHIFT = 5;

  /** Text bytes carried by a MESSAGE slot itself (offsets 16 to 31). */
  public static final int MESSAGE_INLINE_OFFSET = ARG0_OFFSET;

  public static final int MESSAGE_INLINE_BYTES = 16;

  /** Text bytes carried by each CONTINUATION slot (offsets 1 to 31). */
  public static final int CONTINUATION_PAYLOAD_OFFSET = 1;

  public static final int CONTINUATION_PAYLOAD_BYTES = 31;

  /** Longest message in bytes of UTF-8; longer text is cut by the guest at a character boundary. */
  public static final int MESSAGE_MAX_BYTES = 4096;

  /** Continuation slots of the longest message: {@code ceil((4096 - 16) / 31) = 132}. */
  public static final int MESSAGE_MAX_CONTINUATIONS = continuationSlots(MESSAGE_MAX_BYTES);

  /** The slot as a foreign-memory layout; a test proves it agrees with the offsets above. */
  public static final StructLayout LAYOUT =
      MemoryLayout.structLayout(
          JAVA_BYTE.withName("kind"),
          JAVA_BYTE.withName("flags"),
          JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("aux"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("nameId"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("tscTicks"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("arg0"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("arg1"));

  /** Field handles, each taking {@code (MemorySegment, long slotOffset)}. */
  public static final VarHandle KIND_HANDLE = handle("kind");

  public static final VarHandle FLAGS_HANDLE = handle("flags");
  public static final VarHandle AUX_HANDLE = handle("aux");
  public static final VarHandle NAME_ID_HANDLE = handle("nameId");
  public static final VarHandle TSC_HANDLE = handle("tscTicks");
  public static final VarHandle ARG0_HANDLE = handle("arg0");
  public static final VarHandle ARG1_HANDLE = handle("arg1");

  private TraceRecordDescriptor() {}

  /** The first 8 bytes of a slot as one little-endian {@code u64}. */
  public static long header(int kind, int flags, int aux, int nameId) {
    return (kind & 0xFFL)
        | (flags & 0xFFL) << 8
        | (aux & 0xFFFFL) << 16
        | (nameId & 0xFFFF_FFFFL) << 32;
  }

  /** Continuation slots that follow a MESSAGE of {@code textBytes} bytes. */
  public static int continuationSlots(int textBytes) {
    int rest = textBytes - MESSAGE_INLINE_BYTES;
    return rest <= 0 ? 0 : (rest + CONTINUATION_PAYLOAD_BYTES - 1) / CONTINUATION_PAYLOAD_BYTES;
  }

  private static VarHandle handle(String name) {
    return LAYOUT.varHandle(groupElement(name));
  }
}
