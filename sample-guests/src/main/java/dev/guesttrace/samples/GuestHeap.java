package dev.guesttrace.samples;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A small allocator a guest runs inside its own heap: a bump pointer plus a first-fit free list,
 * block headers in guest memory, 16-byte alignment. Freed blocks are reused (split when much larger
 * than asked), never coalesced: enough to make an allocation trace look like a real one.
 *
 * <pre>
 *   block:  u64 payloadBytes | u64 nextFree (0 while allocated) | payload ...
 * </pre>
 */
final class GuestHeap {
  static final int HEADER = 16;
  private static final int ALIGN = 16;
  private static final int MIN_SPLIT = 64;
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final MemorySegment memory;
  private final long end;
  private long bump;
  private long freeHead;

  GuestHeap(MemorySegment memory, long start, long length) {
    this.memory = memory;
    // Address 0 means "no block" in the free list, so no block starts there.
    this.bump = (Math.max(start, ALIGN) + ALIGN - 1) & -ALIGN;
    this.end = start + length;
  }

  /** Allocates {@code bytes}; returns the payload address, or 0 when the heap is exhausted. */
  long malloc(long bytes) {
    long size = (Math.max(bytes, 1) + ALIGN - 1) & -ALIGN;
    long previous = 0;
    for (long block = freeHead; block != 0; block = next(block)) {
      long blockSize = memory.get(U64, block);
      if (blockSize >= size) {
        long rest = next(block);
        if (blockSize - size >= MIN_SPLIT + HEADER) {
          long tail = block + HEADER + size;
          memory.set(U64, tail, blockSize - size - HEADER);
          memory.set(U64, tail + 8, rest);
          rest = tail;
          memory.set(U64, block, size);
        }
        if (previous == 0) {
          freeHead = rest;
        } else {
          memory.set(U64, previous + 8, rest);
        }
        memory.set(U64, block + 8, 0L);
        return block + HEADER;
      }
      previous = block;
    }
    if (end - bump < HEADER + size) {
      return 0;
    }
    long block = bump;
    bump += HEADER + size;
    memory.set(U64, block, size);
    memory.set(U64, block + 8, 0L);
    return block + HEADER;
  }

  /** The usable size of the block at {@code address}, as {@link #malloc} returned it. */
  long sizeOf(long address) {
    return memory.get(U64, address - HEADER);
  }

  /** Frees the block at {@code address}; returns its usable size. */
  long free(long address) {
    long block = address - HEADER;
    long size = memory.get(U64, block);
    memory.set(U64, block + 8, freeHead);
    freeHead = block;
    return size;
  }

  private long next(long block) {
    return memory.get(U64, block + 8);
  }
}
