package dev.guesttrace.abi;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Layout of the append-only name table in guest memory. Records carry a name id; the text lives
 * here, written once per name (as Tracy and LTTng intern, where the seed copied 64 bytes of text
 * into every record). One table may serve every vCPU of a guest.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                    magic 'GTNT' (0x544E5447)                  |  0
 *  +---------------------------------------------------------------+
 *  |                 tableLength (bytes, incl. header)             |  4
 *  +---------------------------------------------------------------+
 *  |          nameCount (names published; ids 1..nameCount)        |  8
 *  +---------------------------------------------------------------+
 *  |               usedLength (entry bytes after header)           | 12
 *  +-------------------------------+-------------------------------+
 *  | entry 1: byteLength (u16)     |  UTF-8 bytes ... padded to 4  | 16
 *  +-------------------------------+-------------------------------+
 *  | entry 2 ...                                                   |
 * </pre>
 *
 * <p>Entries are laid end to end in id order, each {@code 2 + byteLength} bytes rounded up to a
 * multiple of 4. The guest writes an entry, then {@code usedLength}, then {@code nameCount}
 * (release order). The host reads new entries from its own count up to {@code nameCount}, walking
 * from its own offset, so each entry is read once and a guest that rewrites old entries changes
 * nothing.
 */
public final class NameTableDescriptor {
  /** {@code "GTNT"} read as a little-endian {@code u32}. */
  public static final int MAGIC = 0x544E5447;

  public static final int MAGIC_OFFSET = 0;
  public static final int TABLE_LENGTH_OFFSET = 4;
  public static final int NAME_COUNT_OFFSET = 8;
  public static final int USED_LENGTH_OFFSET = 12;

  public static final int HEADER_LENGTH = 16;

  /** Bytes of an entry's length prefix. */
  public static final int ENTRY_LENGTH_PREFIX = 2;

  /** Entries start on this alignment. */
  public static final int ENTRY_ALIGNMENT = 4;

  /** Longest name in bytes of UTF-8. */
  public static final int NAME_MAX_BYTES = 256;

  /** Most names one table may hold; the host stops reading beyond it. */
  public static final int MAX_NAMES = 65_536;

  /** Largest table the host accepts: 4 MiB. */
  public static final int MAX_TABLE_LENGTH = 4 << 20;

  /** The header as a foreign-memory layout; a test proves it agrees with the offsets above. */
  public static final StructLayout LAYOUT =
      MemoryLayout.structLayout(
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("magic"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("tableLength"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("nameCount"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("usedLength"));

  /** Field handles, each taking {@code (MemorySegment, long tableOffset)}. */
  public static final VarHandle MAGIC_HANDLE = LAYOUT.varHandle(groupElement("magic"));

  public static final VarHandle TABLE_LENGTH_HANDLE = LAYOUT.varHandle(groupElement("tableLength"));
  public static final VarHandle NAME_COUNT_HANDLE = LAYOUT.varHandle(groupElement("nameCount"));
  public static final VarHandle USED_LENGTH_HANDLE = LAYOUT.varHandle(groupElement("usedLength"));

  private NameTableDescriptor() {}

  /** Bytes an entry of {@code nameBytes} bytes of text occupies, padding included. */
  public static int entryLength(int nameBytes) {
    int raw = ENTRY_LENGTH_PREFIX + nameBytes;
    return (raw + ENTRY_ALIGNMENT - 1) & -ENTRY_ALIGNMENT;
  }
}
