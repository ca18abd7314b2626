package dev.guesttrace.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class GuestHeapTest {
  @Test
  void malloc_bumpsAlignedBlocksWithHeaders() {
    try (Arena arena = Arena.ofConfined()) {
      GuestHeap heap = new GuestHeap(arena.allocate(4096), 0x100, 1024);

      long a = heap.malloc(10);
      long b = heap.malloc(17);

      assertThat(a).isEqualTo(0x100 + 16);
      assertThat(b).isEqualTo(a + 16 + 16);
      assertThat(heap.sizeOf(a)).isEqualTo(16);
      assertThat(heap.sizeOf(b)).isEqualTo(32);
    }
  }

  @Test
  void malloc_afterFree_reusesFirstFitAndSplitsLargeBlocks() {
    try (Arena arena = Arena.ofConfined()) {
      GuestHeap heap = new GuestHeap(arena.allocate(8192), 0, 8192);
      long big = heap.malloc(1024);
      heap.malloc(16); // keeps the big block from being the end of the heap

      assertThat(heap.free(big)).isEqualTo(1024);
      long small = heap.malloc(100);
      long rest = heap.malloc(800);

      assertThat(small).isEqualTo(big);
      assertThat(heap.sizeOf(small)).isEqualTo(112);
      // The split-off tail starts right after the 112-byte block and its header.
      assertThat(rest).isEqualTo(big + 112 + 16);
      // The 896-byte tail is split again: 800 for this block, 80 left over (64 + header).
      assertThat(heap.sizeOf(rest)).isEqualTo(800);
      assertThat(heap.malloc(64)).isEqualTo(rest + 800 + 16);
    }
  }

  @Test
  void malloc_heapExhausted_returnsZero() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment memory = arena.allocate(256);
      GuestHeap heap = new GuestHeap(memory, 0, 256);

      assertThat(heap.malloc(200)).isEqualTo(32); // no block at address 0: it means "none"
      assertThat(heap.malloc(64)).isZero();
    }
  }
}
