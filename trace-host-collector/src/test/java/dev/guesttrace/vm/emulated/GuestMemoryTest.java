package dev.guesttrace.vm.emulated;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class GuestMemoryTest {
  private static final long BYTES = 64L << 20;
  private static final Path MAPS = Path.of("/proc/self/maps");

  @Test
  void allocate_isZeroedPageAlignedAndWritableToItsLastByte() {
    try (Arena arena = Arena.ofShared()) {
      MemorySegment memory = GuestMemory.allocate(arena, BYTES);

      assertThat(memory.byteSize()).isEqualTo(BYTES);
      assertThat(memory.isNative()).isTrue();
      assertThat(memory.address() % 4096).isZero();
      for (long offset = 0; offset < BYTES; offset += 1 << 20) {
        assertThat(memory.get(ValueLayout.JAVA_LONG, offset)).as("offset %d", offset).isZero();
      }
      memory.set(ValueLayout.JAVA_BYTE, BYTES - 1, (byte) 7);
      assertThat(memory.get(ValueLayout.JAVA_BYTE, BYTES - 1)).isEqualTo((byte) 7);
      assertThatThrownBy(() -> memory.get(ValueLayout.JAVA_BYTE, BYTES))
          .isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Test
  void closingTheArena_failsEveryLaterAccess() {
    Arena arena = Arena.ofShared();
    MemorySegment memory = GuestMemory.allocate(arena, BYTES);
    memory.set(ValueLayout.JAVA_LONG, 4096, 42L);

    arena.close();

    assertThatThrownBy(() -> memory.get(ValueLayout.JAVA_LONG, 4096))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void closingTheArena_unmapsTheMemory() throws Exception {
    Assumptions.assumeTrue(Files.isReadable(MAPS), "needs /proc/self/maps");
    Arena arena = Arena.ofShared();
    MemorySegment memory = GuestMemory.allocate(arena, BYTES);
    String start = Long.toHexString(memory.address()) + "-";
    assertThat(Files.readAllLines(MAPS)).anyMatch(l -> l.startsWith(start));

    arena.close();

    assertThat(Files.readAllLines(MAPS)).noneMatch(l -> l.startsWith(start));
  }
}
