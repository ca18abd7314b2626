package dev.guesttrace.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.guest.BootInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GuestMemoryLayoutTest {
  @Test
  void standard_fourVcpus_placesBuffersThenPageAlignedHeap() {
    GuestMemoryLayout layout = GuestMemoryLayout.standard(64 << 20, 4, 10_000);

    assertThat(layout.callBuffersAddress()).isEqualTo(0x10000);
    assertThat(layout.inputBuffer(3)).isEqualTo(0x10000 + 6 * 10_000);
    assertThat(layout.outputBuffer(3)).isEqualTo(0x10000 + 7 * 10_000);
    // 0x10000 + 80000 = 145536, rounded up to the next page: 147456.
    assertThat(layout.heapAddress()).isEqualTo(147_456);
    assertThat(layout.heapLength()).isEqualTo((64 << 20) - 147_456);
  }

  @Test
  void standard_memoryTooSmall_isRefused() {
    assertThatThrownBy(() -> GuestMemoryLayout.standard(1 << 20, 64, 16 * 1024))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "guest memory too small: expected at least 2424832 bytes, found memoryBytes=1048576");
  }

  @Test
  void bootInfo_writtenAndReadBack_agreesWithLayout() {
    GuestMemoryLayout layout = GuestMemoryLayout.standard(4 << 20, 2, 4096);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment memory = arena.allocate(4 << 20);
      layout.bootInfo(65536, BootInfo.MODE_FLIGHT, Map.of("n", "20")).write(memory);

      BootInfo read = BootInfo.read(memory);

      assertThat(read.inputBuffer(1)).isEqualTo(layout.inputBuffer(1));
      assertThat(read.outputBuffer(1)).isEqualTo(layout.outputBuffer(1));
      assertThat(read.heapAddress()).isEqualTo(layout.heapAddress());
      assertThat(read.heapLength()).isEqualTo(layout.heapLength());
      assertThat(read.args()).containsExactly(Map.entry("n", "20"));
    }
  }
}
