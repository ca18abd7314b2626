package dev.guesttrace.guest;

import static dev.guesttrace.abi.NameTableDescriptor.ENTRY_LENGTH_PREFIX;
import static dev.guesttrace.abi.NameTableDescriptor.HEADER_LENGTH;
import static dev.guesttrace.abi.NameTableDescriptor.MAGIC;
import static dev.guesttrace.abi.NameTableDescriptor.NAME_MAX_BYTES;

import dev.guesttrace.abi.NameTableDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * Guest side of the name table: interns a name once, writing it to guest memory, and returns its
 * id. Shared by the vCPUs of a guest; interning is rare (once per name), so it simply synchronizes.
 */
public final class NameTableWriter {
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final MemorySegment memory;
  private final long tableAddress;
  private final int tableLength;
  private final Map<String, Integer> ids = new HashMap<>();
  private int nameCount;
  private int usedLength;
  private long namesRefused;

  /**
   * Formats an empty table of {@code tableLength} bytes at {@code tableAddress}.
   *
   * @throws IllegalArgumentException if the table does not fit guest memory or its header
   */
  public NameTableWriter(MemorySegment memory, long tableAddress, int tableLength) {
    if (tableLength < HEADER_LENGTH
        || tableLength > NameTableDescriptor.MAX_TABLE_LENGTH
        || tableAddress < 0
        || tableAddress + tableLength > memory.byteSize()) {
      throw new IllegalArgumentException(
          "name table does not fit: tableAddress=" + tableAddress + " tableLength=" + tableLength);
    }
    this.memory = memory;
    this.tableAddress = tableAddress;
    this.tableLength = tableLength;
    memory.asSlice(tableAddress, tableLength).fill((byte) 0);
    NameTableDescriptor.MAGIC_HANDLE.set(memory, tableAddress, MAGIC);
    NameTableDescriptor.TABLE_LENGTH_HANDLE.set(memory, tableAddress, tableLength);
  }

  /** Guest physical address of the table. */
  public long address() {
    return tableAddress;
  }

  /** Length of the table in bytes, header included. */
  public int length() {
    return tableLength;
  }

  /**
   * The id of {@code name}, writing it to the table the first time. A name longer than {@link
   * NameTableDescriptor#NAME_MAX_BYTES} bytes of UTF-8 is cut at a character boundary.
   *
   * @return the id, or 0 (no name) if the table is full
   */
  public synchronized int intern(String name) {
    Integer known = ids.get(name);
    if (known != null) {
      return known;
    }
    byte[] utf8 = Utf8.encode(name, NAME_MAX_BYTES);
    int entryLength = NameTableDescriptor.entryLength(utf8.length);
    if (nameCount >= NameTableDescriptor.MAX_NAMES
        || HEADER_LENGTH + (long) usedLength + entryLength > tableLength) {
      namesRefused++;
      return 0;
    }
    long entry = tableAddress + HEADER_LENGTH + usedLength;
    memory.set(U16, entry, (short) utf8.length);
    MemorySegment.copy(
        utf8, 0, memory, ValueLayout.JAVA_BYTE, entry + ENTRY_LENGTH_PREFIX, utf8.length);
    usedLength += entryLength;
    nameCount++;
    // Entry bytes first, then the used length, then the count that publishes them. Release
    // fences and plain stores: the descriptor handles are unaligned, which allows plain access
    // only.
    VarHandle.releaseFence();
    NameTableDescriptor.USED_LENGTH_HANDLE.set(memory, tableAddress, usedLength);
    VarHandle.releaseFence();
    NameTableDescriptor.NAME_COUNT_HANDLE.set(memory, tableAddress, nameCount);
    ids.put(name, nameCount);
    return nameCount;
  }

  /** Names that did not fit the table. */
  public synchronized long namesRefused() {
    return namesRefused;
  }
}
