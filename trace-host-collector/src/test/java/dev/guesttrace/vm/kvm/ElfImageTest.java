package dev.guesttrace.vm.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The ELF loader refuses what it cannot load safely, with one-line reasons. */
class ElfImageTest {
  private static final long LOW = KvmVm.IMAGE_BASE;
  private static final long HIGH = KvmVm.IMAGE_BASE + KvmVm.MAX_IMAGE_BYTES;

  private static byte[] valid() {
    return TestElf.of(TestElf.code(0xF4));
  }

  private static byte[] patched(int offset, long value, int bytes) {
    byte[] elf = valid();
    ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
    switch (bytes) {
      case 2 -> b.putShort(offset, (short) value);
      case 4 -> b.putInt(offset, (int) value);
      default -> b.putLong(offset, value);
    }
    return elf;
  }

  @Test
  void parse_valid_findsEntryAndSegment() throws Exception {
    ElfImage image = ElfImage.parse(valid(), LOW, HIGH);
    assertThat(image.entry()).isEqualTo(LOW + 120);
    assertThat(image.segments())
        .containsExactly(new ElfImage.Segment(LOW, 0, 121, 121 + 4096, true));
    assertThat(image.end()).isEqualTo(LOW + 121 + 4096);
  }

  @Test
  void parse_wrongMachine_refused() {
    assertThatThrownBy(() -> ElfImage.parse(patched(18, 183, 2), LOW, HIGH))
        .hasMessage("not an x86-64 binary: expected machine 62, found 183");
  }

  @Test
  void parse_sharedObject_refused() {
    assertThatThrownBy(() -> ElfImage.parse(patched(16, 3, 2), LOW, HIGH))
        .hasMessage(
            "not a static executable: expected ELF type 2 (EXEC), found 3 (link with -static"
                + " -fno-pic at a fixed address)");
  }

  @Test
  void parse_programHeadersPastEnd_refused() {
    assertThatThrownBy(() -> ElfImage.parse(patched(32, 1 << 20, 8), LOW, HIGH))
        .hasMessage("program headers outside the file: phoff=1048576 fileBytes=121");
  }

  @Test
  void parse_segmentPastFile_refused() {
    assertThatThrownBy(() -> ElfImage.parse(patched(64 + 32, 1 << 20, 8), LOW, HIGH))
        .hasMessage("segment 0 outside the file: offset=0 filesz=1048576");
  }

  @Test
  void parse_segmentOutsideLoadRange_refused() {
    assertThatThrownBy(() -> ElfImage.parse(patched(64 + 16, 0x1000, 8), LOW, HIGH))
        .hasMessage(
            "segment 0 outside the guest's load range: address=0x1000 memsz=4217, expected within"
                + " [0x70000000, 0x74000000) (link with the SDK's guest.ld)");
  }

  @Test
  void parse_hugeMemsz_refusedWithoutOverflow() {
    assertThatThrownBy(() -> ElfImage.parse(patched(64 + 40, Long.MAX_VALUE, 8), LOW, HIGH))
        .hasMessageStartingWith("image too large for the image window: segment 0 at 0x70000000");
  }

  @Test
  void parse_imageLargerThanTheWindow_saysSo() {
    assertThatThrownBy(() -> ElfImage.parse(patched(64 + 40, 65L << 20, 8), LOW, HIGH))
        .hasMessage(
            "image too large for the image window: segment 0 at 0x70000000 needs 68157440 bytes,"
                + " the window [0x70000000, 0x74000000) has 67108864 from there (largest image 64"
                + " MiB)");
  }

  @Test
  void parse_entryOutsideCode_refused() {
    assertThatThrownBy(() -> ElfImage.parse(patched(24, 0x1234, 8), LOW, HIGH))
        .hasMessage("entry point 0x1234 is not inside an executable segment");
  }

  @Test
  void parse_truncated_refused() {
    assertThatThrownBy(() -> ElfImage.parse(new byte[10], LOW, HIGH))
        .hasMessage("not an ELF file: expected magic 7f 45 4c 46");
  }
}
