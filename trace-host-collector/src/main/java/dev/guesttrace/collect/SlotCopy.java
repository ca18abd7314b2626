package dev.guesttrace.collect;

import java.lang.foreign.MemorySegment;

/**
 * Ring slots copied out of guest memory at an exit, in sequence order, for the decoder: what the
 * guest may overwrite as soon as it resumes is the host's own from here on.
 *
 * @param vcpu the ring's vCPU
 * @param mode the ring's mode ({@code TraceRegionDescriptor.MODE_*})
 * @param firstSequence the sequence number of the first slot
 * @param slots the slots, 32 bytes each, {@code slots.byteSize() / 32} of them
 * @param knownNames names of the ring's table known when the slots were copied (ids 1 to this)
 * @param headLost whether slots before {@code firstSequence} were lost (overwritten or lapped), so
 *     continuation slots at the head belong to a message the host never saw
 */
record SlotCopy(
    int vcpu, int mode, long firstSequence, MemorySegment slots, int knownNames, boolean headLost) {

  /** Slots in the copy. */
  long count() {
    return slots.byteSize() >>> dev.guesttrace.abi.TraceRecordDescriptor.RECORD_SHIFT;
  }
}
