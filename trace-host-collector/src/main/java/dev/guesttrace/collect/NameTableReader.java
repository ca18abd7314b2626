package dev.guesttrace.collect;

import dev.guesttrace.abi.NameTableDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The host's reader of one name table in guest memory: reads entries once each, from its own count
 * and its own offset, with every length checked against the table's bounds fixed at registration.
 */
final class NameTableReader {
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  final long address;
  final int length;
  final List<Integer> vcpus = new ArrayList<>();
  private final List<String> names = new ArrayList<>();
  private long walkOffset = NameTableDescriptor.HEADER_LENGTH;
  private boolean broken;
  private boolean countCapped;

  /** Names the run may still read, shared by all its tables. */
  private final AtomicInteger namesLeft;

  /** {@link #knownCount()}, published after each refresh for the lock-free {@link #nothingNew}. */
  private volatile int knownVolatile;

  NameTableReader(long address, int length, AtomicInteger namesLeft) {
    this.address = address;
    this.length = length;
    this.namesLeft = namesLeft;
  }

  /** Names read so far: ids 1 to this. */
  int knownCount() {
    return names.size();
  }

  /**
   * Whether the guest's published name count is the count already read, judged without the lock
   * every exit would otherwise take: names are rare, exits are not. The caller has checked the
   * table's bounds. Any other count (new names, a count beyond the limit, a count that went back)
   * takes the locked {@link #refresh}, which judges it as before.
   *
   * @return true if there is nothing to refresh; {@link #knownCountNow()} is then exact
   */
  boolean nothingNew(MemorySegment memory) {
    long published =
        Integer.toUnsignedLong(memory.get(U32, address + NameTableDescriptor.NAME_COUNT_OFFSET));
    return published == knownVolatile;
  }

  /** {@link #knownCount()} as last published, readable without the lock. */
  int knownCountNow() {
    return knownVolatile;
  }

  /** The name with id {@code id} (1-based), which must be known. */
  String name(int id) {
    return names.get(id - 1);
  }

  /**
   * Reads entries published since the last call. The caller has checked that {@code [address,
   * address + length)} lies inside {@code memory}.
   *
   * @return the id of the first new name; {@code knownCount() + 1} if none
   */
  int refresh(MemorySegment memory, Reporter report, int vcpu) {
    int first = names.size() + 1;
    if (broken) {
      return first;
    }
    long published =
        Integer.toUnsignedLong(memory.get(U32, address + NameTableDescriptor.NAME_COUNT_OFFSET));
    if (published > NameTableDescriptor.MAX_NAMES) {
      if (!countCapped) {
        countCapped = true;
        report.report(
            Diagnostics.BAD_NAME_TABLE,
            vcpu,
            "name table count above the limit: nameCount="
                + published
                + " max="
                + NameTableDescriptor.MAX_NAMES);
      }
      published = NameTableDescriptor.MAX_NAMES;
    }
    while (names.size() < published) {
      if (walkOffset + NameTableDescriptor.ENTRY_LENGTH_PREFIX > length) {
        brokenAt(report, vcpu, "name table entry " + (names.size() + 1) + " past its end");
        break;
      }
      int bytes = Short.toUnsignedInt(memory.get(U16, address + walkOffset));
      if (bytes > NameTableDescriptor.NAME_MAX_BYTES) {
        broken = true;
        report.report(
            Diagnostics.NAME_TOO_LONG,
            vcpu,
            "name "
                + (names.size() + 1)
                + " too long: byteLength="
                + bytes
                + " max="
                + NameTableDescriptor.NAME_MAX_BYTES);
        break;
      }
      long text = walkOffset + NameTableDescriptor.ENTRY_LENGTH_PREFIX;
      if (text + bytes > length) {
        brokenAt(report, vcpu, "name table entry " + (names.size() + 1) + " past its end");
        break;
      }
      if (namesLeft.getAndUpdate(n -> n > 0 ? n - 1 : 0) == 0) {
        broken = true;
        report.report(
            Diagnostics.NAMES_CAPPED,
            vcpu,
            "names beyond the run's limit of "
                + RegionRegistrar.MAX_NAMES_PER_RUN
                + " not read: name table at "
                + Reporter.hex(address)
                + " from id "
                + (names.size() + 1));
        break;
      }
      byte[] utf8 = new byte[bytes];
      MemorySegment.copy(memory, ValueLayout.JAVA_BYTE, address + text, utf8, 0, bytes);
      names.add(report.utf8(utf8, bytes, vcpu, "name " + (names.size() + 1)));
      walkOffset += NameTableDescriptor.entryLength(bytes);
    }
    knownVolatile = names.size();
    return first;
  }

  private void brokenAt(Reporter report, int vcpu, String what) {
    broken = true;
    report.report(
        Diagnostics.BAD_NAME_TABLE,
        vcpu,
        what + ": tableLength=" + length + " offset=" + walkOffset);
  }
}
