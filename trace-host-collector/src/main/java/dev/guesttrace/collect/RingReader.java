package dev.guesttrace.collect;

import static dev.guesttrace.abi.TraceRecordDescriptor.RECORD_SHIFT;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The host's copy of one vCPU's registered region and its own read cursor: at every exit it copies
 * the slots the guest published since the last copy out of guest memory, and nothing else: into the
 * ring's {@link CopyArea} while it has room, else into a fresh array. Decoding happens elsewhere
 * ({@link RecordDecoder}), so the guest waits only for the copy.
 *
 * <p>Only the place, capacity and mode taken at registration are trusted; the header's write
 * sequence and drop counter are read (acquire) and judged against the cursor. Confined to the
 * vCPU's exit path (one thread at a time).
 */
final class RingReader {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  final int vcpu;
  final long address;
  final int capacity;
  final int mode;
  final NameTableReader table;

  /**
   * Where this ring's copies go while there is room; null until it is given one ({@link
   * #wantArea}): at the REGISTER exit of a live guest the one the collector thread made for the
   * vCPU when the run started, else (a vCPU's second ring, or a ring registered without an exit)
   * one the collector thread allocates at its next round. No exit pays for touching it, and a ring
   * read only by a final drain (a recovered dump) never gets one.
   */
  private volatile CopyArea area;

  private boolean areaWanted;

  private volatile boolean retired;

  private long cursor;
  private long guestDropped;
  private long overwritten;
  private long overrun;

  /** Stream mode: the cursor before a jump seen at the last copy, else -1. */
  private long beforeJump = -1;

  RingReader(int vcpu, long address, int capacity, int mode, NameTableReader table) {
    this.vcpu = vcpu;
    this.address = address;
    this.capacity = capacity;
    this.mode = mode;
    this.table = table;
  }

  /** Asks for the ring's copy area, once; {@code atRegister}: at the REGISTER exit. */
  void wantArea(Output out, boolean atRegister) {
    if (!areaWanted) {
      areaWanted = true;
      out.areaWanted(this, atRegister);
    }
  }

  /**
   * Allocates (and so touches) the ring's copy area; copies go there from then on. Not for a ring
   * that has one or was retired meanwhile: a guest that registers again and again costs no areas.
   */
  void allocateArea() {
    if (area == null && !retired) {
      area = CopyArea.createOrNull(capacity);
    }
  }

  /** The guest registered another ring for this vCPU: no copy area for this one any more. */
  void retire() {
    retired = true;
  }

  /** Copies go to {@code ready} from now on (unless the ring has an area already). */
  void useArea(CopyArea ready) {
    if (area == null) {
      area = ready;
    }
  }

  /** The ring's copy area, null until it is given one ({@link #useArea}, {@link #allocateArea}). */
  CopyArea area() {
    return area;
  }

  /** Receives what a copy produced, in order: new names, then the slots. */
  interface Output {
    /** A new ring for {@link RingReader#vcpu}: what follows starts from a clean decoder state. */
    void newRing(int vcpu);

    /**
     * The ring wants a copy area: one made in advance ({@link RingReader#useArea}), or one
     * allocated ({@link RingReader#allocateArea()}) before the copies queued after this are
     * decoded; {@code atRegister}: asked at the ring's REGISTER exit.
     */
    void areaWanted(RingReader ring, boolean atRegister);

    /** A name read by {@code fromVcpu}'s exit, for every vCPU that reads its table. */
    void name(int fromVcpu, int[] vcpus, int nameId, String name);

    void slots(SlotCopy copy);
  }

  /**
   * Copies every slot the guest published since the last copy, up to the header's write sequence
   * (the cursor starts at 0: records written before registration are the guest's too). A no-op if
   * guest memory no longer holds the region.
   */
  void copy(MemorySegment memory, Reporter report, Output out) {
    copy(memory, report, out, false);
  }

  /**
   * Same as {@link #copy(MemorySegment, Reporter, Output)}; with {@code guestStopped} this is the
   * last copy of a vCPU whose guest may have stopped inside a record (a fault, a timeout, an abort,
   * an abandoned vCPU, a memory dump). In a wrapped flight ring that record's slots are the oldest
   * ones the copy would read, partly written over and never published: they are dropped and counted
   * as overwritten ({@link #tornSlots}), every record fully written before them is kept.
   */
  void copy(MemorySegment memory, Reporter report, Output out, boolean guestStopped) {
    long regionLength = TraceRegionDescriptor.regionLength(capacity);
    if (!Reporter.fits(address, regionLength, memory.byteSize())) {
      return; // memory shrank under us: nothing is safe to read
    }
    long written = memory.get(U64, address + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
    // Pairs with the guest's release fence before its store of the write sequence.
    VarHandle.acquireFence();
    long dropped = memory.get(U64, address + TraceRegionDescriptor.DROPPED_RECORDS_OFFSET);
    if (dropped > guestDropped) {
      guestDropped = dropped;
    }
    int knownNames = refreshNames(memory, report, out);
    if (written == cursor) {
      return;
    }
    long jumpedFrom = beforeJump;
    beforeJump = -1;
    if (Long.compareUnsigned(written, cursor) < 0) {
      report.report(
          Diagnostics.SEQUENCE_BACKWARDS,
          vcpu,
          "write sequence went back: from=" + cursor + " to=" + written);
      if (jumpedFrom >= 0
          && Long.compareUnsigned(written, jumpedFrom) > 0
          && Long.compareUnsigned(written - jumpedFrom, capacity) <= 0) {
        // Back from a jump to within a ring of where the guest was before it: the jump was the
        // lie, and what the guest wrote since is real. Skipping it would lose it uncounted.
        out.slots(slice(memory, jumpedFrom, written, knownNames, false));
      }
      cursor = written;
      return;
    }
    long from = cursor;
    long pending = written - from;
    boolean headLost = false;
    if (Long.compareUnsigned(pending, capacity) > 0) {
      long lost = written - capacity - from;
      if (lost < 0) {
        lost = Long.MAX_VALUE; // a sequence beyond 2^63: nothing sane was written
      }
      if (mode == TraceRegionDescriptor.MODE_FLIGHT) {
        overwritten = Reporter.saturatedAdd(overwritten, lost);
      } else {
        beforeJump = from;
        overrun = Reporter.saturatedAdd(overrun, lost);
        report.report(
            Diagnostics.SEQUENCE_JUMP,
            vcpu,
            "write sequence ran more than a ring ahead: cursor="
                + from
                + " writeSequence="
                + written
                + " capacity="
                + capacity
                + " lost="
                + lost);
      }
      from = written - capacity;
      headLost = true;
    }
    if (guestStopped && mode == TraceRegionDescriptor.MODE_FLIGHT && from < written) {
      long torn = tornSlots(memory, from, written);
      if (torn > 0) {
        overwritten = Reporter.saturatedAdd(overwritten, torn);
        report.report(
            Diagnostics.FLIGHT_RECORD_TORN,
            vcpu,
            "the guest stopped while writing a record over the oldest slots of its flight ring: "
                + torn
                + (torn == 1 ? " slot" : " slots")
                + " dropped, from sequence "
                + from);
        from += torn;
        // Continuations after the dropped slots belong to a message whose head is gone.
        headLost = true;
      }
    }
    if (from < written) {
      if (!guestStopped) {
        // A ring registered without an exit. Before the slots: the collector allocates the area
        // before it decodes them (a cold first decode takes milliseconds, in which the guest may
        // flush again and again). Not woken for it: woken now, it would often run on this vCPU's
        // core and make this exit wait while it touches the area; its next round is soon enough.
        wantArea(out, false);
      }
      out.slots(slice(memory, from, written, knownNames, headLost));
    }
    // else: a window that straddles 2^63 holds nothing the guest published honestly; read none.
    cursor = written;
  }

  /**
   * Slots at the start of {@code [from, written)} that the record the guest was writing when it
   * stopped had already written over (docs/abi.md, "Writing a record"). That record starts at
   * sequence {@code written}, whose slot is the one of {@code head = written - capacity}; a message
   * goes on over the next slots. Both runtimes store a slot's TSC word first, so the head slot was
   * touched exactly when its TSC is later than that of the next record in the ring (time runs
   * forward in a ring; the record there is of the earlier lap). If it was, the head slot is dropped
   * and, for a message, the continuation slots it had written (kind CONTINUATION, or EMPTY while a
   * slot was being cleared) up to the message's length; an older record in between is kept. A guest
   * stopped between records has touched nothing: nothing is dropped.
   */
  private long tornSlots(MemorySegment memory, long from, long written) {
    long head = written - capacity;
    if (head < 0 || Long.compareUnsigned(from, head) < 0) {
      return 0; // the ring has not wrapped, or the window lies before the unfinished record
    }
    long maxEnd = head + 1 + TraceRecordDescriptor.MESSAGE_MAX_CONTINUATIONS;
    if (from >= maxEnd) {
      return 0; // no record reaches this far
    }
    long headWord = slotWord(memory, head, 0);
    long headTsc = slotWord(memory, head, TraceRecordDescriptor.TSC_OFFSET);
    // The first record after the head slot, skipping continuations and empty slots (which carry no
    // TSC): at most one ring, once per vCPU at the end of a run.
    for (long s = head + 1; s < written; s++) {
      int kind = (int) (slotWord(memory, s, 0) & 0xFF);
      if (kind != RecordKind.CONTINUATION && kind != RecordKind.EMPTY) {
        long nextTsc = slotWord(memory, s, TraceRecordDescriptor.TSC_OFFSET);
        if (Long.compareUnsigned(headTsc, nextTsc) <= 0) {
          // The head slot still holds the oldest record: the guest stopped between records.
          return 0;
        }
        break;
      }
    }
    long end = head + 1;
    if ((headWord & 0xFF) == RecordKind.MESSAGE) {
      int length =
          (int) Math.min(headWord >>> 16 & 0xFFFF, TraceRecordDescriptor.MESSAGE_MAX_BYTES);
      end += TraceRecordDescriptor.continuationSlots(length);
    }
    long s = from;
    if (from == head) {
      s++;
    }
    for (; s < end && s < written; s++) {
      int kind = (int) (slotWord(memory, s, 0) & 0xFF);
      if (kind != RecordKind.CONTINUATION && kind != RecordKind.EMPTY) {
        break;
      }
    }
    return s - from;
  }

  private long slotWord(MemorySegment memory, long sequence, long offset) {
    return memory.get(
        U64,
        address
            + TraceRegionDescriptor.HEADER_LENGTH
            + ((sequence & (capacity - 1L)) << RECORD_SHIFT)
            + offset);
  }

  /** Copies slots {@code [from, to)} (at most one ring) in sequence order. */
  private SlotCopy slice(
      MemorySegment memory, long from, long to, int knownNames, boolean headLost) {
    long slots = address + TraceRegionDescriptor.HEADER_LENGTH;
    long mask = capacity - 1L;
    int count = (int) (to - from);
    CopyArea in = area;
    long offset = in == null ? -1 : in.take(count);
    MemorySegment buffer;
    if (offset >= 0) {
      buffer = in.segment;
    } else {
      in = null;
      buffer = MemorySegment.ofArray(new long[count << (RECORD_SHIFT - 3)]);
      offset = 0;
    }
    int first = (int) (from & mask);
    int run = Math.min(count, capacity - first);
    MemorySegment.copy(
        memory, slots + ((long) first << RECORD_SHIFT), buffer, offset, (long) run << RECORD_SHIFT);
    if (run < count) {
      // The range wraps: the rest starts at slot 0.
      MemorySegment.copy(
          memory,
          slots,
          buffer,
          offset + ((long) run << RECORD_SHIFT),
          (long) (count - run) << RECORD_SHIFT);
    }
    return new SlotCopy(
        vcpu,
        mode,
        from,
        buffer,
        offset,
        count,
        knownNames,
        headLost,
        in,
        in == null ? 0 : in.end());
  }

  /** Reads names published since the last look, without touching the ring. */
  void copyNames(MemorySegment memory, Reporter report, Output out) {
    refreshNames(memory, report, out);
  }

  private int refreshNames(MemorySegment memory, Reporter report, Output out) {
    if (table == null) {
      return 0;
    }
    boolean inside = Reporter.fits(table.address, table.length, memory.byteSize());
    if (inside && table.nothingNew(memory)) {
      return table.knownCountNow(); // the usual exit: no lock
    }
    // One table may serve several vCPUs (Java guests share one): its reader is shared, so the
    // refresh is serialized per table, not globally.
    synchronized (table) {
      if (inside) {
        int first = table.refresh(memory, report, vcpu);
        if (first <= table.knownCount()) {
          int[] readers = table.vcpus.stream().mapToInt(Integer::intValue).toArray();
          for (int id = first; id <= table.knownCount(); id++) {
            out.name(vcpu, readers, id, table.name(id));
          }
        }
      }
      return table.knownCount();
    }
  }

  /** The guest's own drop counter, as last read. */
  long guestDropped() {
    return guestDropped;
  }

  /** Flight mode: slots overwritten before the host copied them. */
  long overwritten() {
    return overwritten;
  }

  /** Stream mode: slots the guest lapped before the host copied them. */
  long overrun() {
    return overrun;
  }
}
