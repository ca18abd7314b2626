package dev.guesttrace.collect;

import static dev.guesttrace.abi.TraceRecordDescriptor.RECORD_SHIFT;

import java.lang.foreign.MemorySegment;

/**
 * A ring's copy area: heap memory allocated (and so zeroed, every page touched) by the collector
 * thread, not by an exit, into which the ring's exits copy the new slots; a circular buffer that
 * the collector thread frees in order as it decodes. A fresh 64 KiB array per flush cost a cold
 * exit 26 to 50 µs of first-touch page faults and zeroing on this project's VM
 * (docs/performance.md, "Trace exit host time"); a copy into the area costs only the copy.
 *
 * <p>Single producer (the ring's exit path, one thread at a time), single consumer (whoever applies
 * the vCPU's queued copies, in queue order). A copy that does not fit in one piece (the area holds
 * other copies not yet decoded, or the copy is larger than the area) returns -1 and the caller
 * copies into a fresh array as before: the area never makes an exit wait, and the back-pressure
 * (queued slots, {@link SinkSide}) counts copies wherever they live.
 *
 * <p>Memory: one area of {@link #MAX_SLOTS} slots (2 MiB) per vCPU, made when the collector thread
 * starts and taken by the vCPU's first ring at its REGISTER exit; a later ring of the vCPU (or one
 * registered without an exit and copied before its end) gets {@link #slotsFor} slots, at most 2
 * MiB, for as long as it is registered. A ring read only by a final drain gets none; {@code
 * TraceCollector.Builder.setCopyAreas(false)} turns areas off (a memory dump's reader does).
 */
final class CopyArea {
  /** Area slots at most: 2 MiB, 32 flushes of the default 2,048-slot ring. */
  static final int MAX_SLOTS = 1 << 16;

  /** Ring-fulls an area holds when that stays within {@link #MAX_SLOTS}. */
  static final int RINGS = 32;

  /** The whole area; a copy is a range of it. */
  final MemorySegment segment;

  private final long areaSlots;

  /** Slots handed out so far (a position, not an offset): producer only. */
  private long allocated;

  /**
   * Slots freed so far: everything before this position may be written again. Written by whoever
   * applies the vCPU's queued events, which {@link SinkSide} serializes (its lock).
   */
  private volatile long released;

  /** Copies that went into the area and copies that did not fit (a fresh array): producer only. */
  private long inArea;

  private long outside;

  /** An area for a ring of {@code capacity} slots ({@link #slotsFor}). */
  CopyArea(int capacity) {
    this.areaSlots = slotsFor(capacity);
    // The JVM zeroes a new array: every page is touched here, at registration, not at a flush.
    this.segment = MemorySegment.ofArray(new long[(int) (areaSlots << (RECORD_SHIFT - 3))]);
  }

  /**
   * An area for a ring of {@code capacity} slots, or null if the heap has no room for it. An area
   * only spares an exit the page faults of a fresh array: without one, copies go to arrays of their
   * own, and the collector thread (which makes areas) must not die of it, or the guests waiting on
   * a full queue would wait forever.
   */
  static CopyArea createOrNull(int capacity) {
    try {
      return new CopyArea(capacity);
    } catch (OutOfMemoryError e) {
      return null;
    }
  }

  /** The area's size in slots for a ring of {@code capacity} slots. */
  static int slotsFor(int capacity) {
    return (int) Math.min(MAX_SLOTS, (long) capacity * RINGS);
  }

  /**
   * Room for {@code count} slots in one piece: its byte offset in {@link #segment}, or -1 if the
   * area has none now (the caller copies into a fresh array). Once the copy is decoded or dropped,
   * {@link #release} with the {@link #end()} read right after this call frees it.
   */
  long take(int count) {
    long start = allocated;
    long offset = start % areaSlots;
    if (offset + count > areaSlots) {
      start += areaSlots - offset; // no room before the end: start again at the area's beginning
      offset = 0;
    }
    if (start + count - released > areaSlots) {
      outside++; // also a copy larger than the whole area
      return -1;
    }
    allocated = start + count;
    inArea++;
    return offset << RECORD_SHIFT;
  }

  /** The position after the last range {@link #take} handed out: what releasing it takes. */
  long end() {
    return allocated;
  }

  /**
   * Frees everything before {@code end} (an {@link #end()} read right after a {@link #take}).
   * Copies are released in the order they were taken, except dropped ones, whose later release is
   * then a no-op (a later copy's release freed them already).
   */
  void release(long end) {
    if (end > released) {
      released = end;
    }
  }

  /** Slots taken and not yet released (including the gaps left at the area's end). */
  long waiting() {
    return allocated - released;
  }

  /** Whether more than half the area waits to be decoded: worth waking the collector for. */
  boolean pressed() {
    return allocated - released > areaSlots / 2;
  }

  /** The area's size in slots. */
  long slots() {
    return areaSlots;
  }

  /** Copies taken into the area so far (producer thread, or after the run). */
  long copiesInArea() {
    return inArea;
  }

  /** Copies that did not fit and went to a fresh array (producer thread, or after the run). */
  long copiesOutside() {
    return outside;
  }
}
