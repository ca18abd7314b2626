package dev.guesttrace.vm.calls;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class GuestTextTest {
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  @Test
  void read_wellFormed_returnsTextWithoutProblem() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment memory = arena.allocate(256);
      put(memory, 16, "héllo".getBytes(StandardCharsets.UTF_8));

      assertThat(GuestText.read(memory, 16, 64)).isEqualTo(new GuestText("héllo", ""));
    }
  }

  @Test
  void read_lengthBeyondBuffer_isCutAndReported() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment memory = arena.allocate(256);
      put(memory, 0, "abcdefghij".getBytes(StandardCharsets.UTF_8));
      memory.set(U32, 0, 1_000_000);

      assertThat(GuestText.read(memory, 0, 8))
          .isEqualTo(
              new GuestText(
                  "abcd", "text longer than its buffer: expected at most 4 bytes, found 1000000"));
    }
  }

  @Test
  void read_badUtf8_isReplacedAndReported() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment memory = arena.allocate(64);
      put(memory, 0, new byte[] {'o', 'k', (byte) 0xC3});

      assertThat(GuestText.read(memory, 0, 64))
          .isEqualTo(new GuestText("ok\uFFFD", "text is not valid UTF-8"));
    }
  }

  @Test
  void read_bufferOutsideMemory_readsNothing() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment memory = arena.allocate(64);

      assertThat(GuestText.read(memory, 60, 16))
          .isEqualTo(new GuestText("", "text buffer outside guest memory: address=60"));
      assertThat(GuestText.read(memory, -8, 16).problem())
          .isEqualTo("text buffer outside guest memory: address=-8");
    }
  }

  private static void put(MemorySegment memory, long address, byte[] bytes) {
    memory.set(U32, address, bytes.length);
    MemorySegment.copy(bytes, 0, memory, ValueLayout.JAVA_BYTE, address + 4, bytes.length);
  }
}
