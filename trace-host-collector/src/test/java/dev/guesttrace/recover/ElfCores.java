package dev.guesttrace.recover;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** Builds small ELF64 core files the way QEMU's dump-guest-memory lays them out. */
final class ElfCores {
  private ElfCores() {}

  /** Guest physical {@code [paddr, paddr + length)}. */
  record Segment(long paddr, long length) {}

  /**
   * An ELF64 core: the header, a PT_NOTE, one PT_LOAD per segment (in the order given), the note,
   * then each segment's bytes from {@code ram} laid end to end (unaligned, as QEMU writes them). A
   * segment whose range lies outside {@code ram} gets zeros.
   */
  static byte[] core(byte[] ram, List<Segment> segments) {
    int phnum = 1 + segments.size();
    long noteOffset = 64 + 56L * phnum;
    byte[] note = noteBytes();
    long data = noteOffset + note.length;
    long total = data;
    for (Segment s : segments) {
      total += s.paddr() < ram.length ? Math.min(s.length(), ram.length - s.paddr()) : s.length();
    }
    ByteBuffer b = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
    b.position(16);
    b.putShort((short) 4); // ET_CORE
    b.putShort((short) 62); // EM_X86_64
    b.putInt(1);
    b.putLong(0); // e_entry
    b.putLong(64); // e_phoff
    b.putLong(0); // e_shoff
    b.putInt(0); // e_flags
    b.putShort((short) 64);
    b.putShort((short) 56);
    b.putShort((short) phnum);
    b.putShort((short) 64);
    b.putShort((short) 0);
    b.putShort((short) 0);
    phdr(b, 4, noteOffset, 0, note.length, note.length); // PT_NOTE
    long offset = data;
    for (Segment s : segments) {
      long bytes =
          s.paddr() < ram.length ? Math.min(s.length(), ram.length - s.paddr()) : s.length();
      phdr(b, 1, offset, s.paddr(), bytes, s.length());
      offset += bytes;
    }
    b.position((int) noteOffset);
    b.put(note);
    for (Segment s : segments) {
      if (s.paddr() < ram.length) {
        b.put(ram, (int) s.paddr(), (int) Math.min(s.length(), ram.length - s.paddr()));
      } else {
        b.position(b.position() + (int) s.length());
      }
    }
    return b.array();
  }

  private static void phdr(
      ByteBuffer b, int type, long offset, long paddr, long filesz, long memsz) {
    b.putInt(type);
    b.putInt(type == 1 ? 7 : 0);
    b.putLong(offset);
    b.putLong(paddr); // p_vaddr: QEMU writes the guest physical address when paging is off
    b.putLong(paddr);
    b.putLong(filesz);
    b.putLong(memsz);
    b.putLong(0);
  }

  /** A core's NT_PRSTATUS-shaped note (name "CORE"), contents irrelevant to recovery. */
  private static byte[] noteBytes() {
    ByteBuffer n = ByteBuffer.allocate(12 + 8 + 16).order(ByteOrder.LITTLE_ENDIAN);
    n.putInt(5).putInt(16).putInt(1);
    n.put(new byte[] {'C', 'O', 'R', 'E', 0, 0, 0, 0});
    return n.array();
  }
}
