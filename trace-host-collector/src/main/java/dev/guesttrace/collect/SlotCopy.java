package dev.guesttrace.collect;

import dev.guesttrace.abi.TraceRecordDescriptor;
import java.lang.foreign.MemorySegment;

/**
 * Ring slots copied out of guest memory at an exit, in sequence order, for the decoder: what the
 * guest may overwrite as soon as it resumes is the host's own from here on.
 *
 * @param vcpu the ring's vCPU
 * @param mode the ring's mode ({@code TraceRegionDescriptor.MODE_*})
 * @param firstSequence the sequence number of the first slot
 * @param buffer where the slots were copied to: the ring's copy area, or an array of their own
 * @param offsetBytes where in {@code buffer} they start
 * @param count how many slots (32 bytes each)
 * @param knownNames names of the ring's table known when the slots were copied (ids 1 to this)
 * @param headLost whether slots before {@code firstSequence} were lost (overwritten or lapped), so
 *     continuation slots at the head belong to a message the host never saw
 * @param area the ring's copy area if {@code buffer} is its segment (the slots are released from it
 *     once decoded or dropped), else null
 * @param areaEnd what releasing the slots from {@code area} takes ({@link CopyArea#end()})
 */
record SlotCopy(
    int vcpu,
    int mode,
    long firstSequence,
    MemorySegment buffer,
    long offsetBytes,
    long count,
    int knownNames,
    boolean headLost,
    CopyArea area,
    long areaEnd) {

  /**
   * The slots, {@code count * 32} bytes: sliced here, on the collector's side, not on the exit
   * path.
   */
  MemorySegment slots() {
    return buffer.asSlice(offsetBytes, count << TraceRecordDescriptor.RECORD_SHIFT);
  }

  /** Frees the copy's place in its area (decoded or dropped): a no-op for a copy of its own. */
  void release() {
    if (area != null) {
      area.release(areaEnd);
    }
  }

  /** Whether the copy's area is more than half full: worth waking the collector for. */
  boolean areaPressed() {
    return area != null && area.pressed();
  }
}
