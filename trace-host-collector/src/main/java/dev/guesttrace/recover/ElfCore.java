package dev.guesttrace.recover;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Reads the {@code PT_LOAD} program headers of an ELF64 core file (QEMU's {@code
 * dump-guest-memory}): each maps a range of guest physical addresses ({@code p_paddr}) to bytes of
 * the file ({@code p_offset}, {@code p_filesz}). The file is untrusted: every header field is
 * checked against the file's real size before it is used, reads are bounded fixed-size buffers, and
 * a segment that is cut off, overlaps another or lies beyond {@link #MAX_GUEST_PHYSICAL_BYTES} is a
 * counted diagnostic, not an error.
 *
 * <pre>
 * Elf64_Ehdr (64 bytes): e_ident[16] (7f 'E' 'L' 'F', class 2 = 64-bit, data 1 = little-endian),
 *   e_type u16 @16 (4 = ET_CORE), e_machine u16 @18, e_phoff u64 @32, e_shoff u64 @40,
 *   e_phentsize u16 @54 (56), e_phnum u16 @56 (0xffff = PN_XNUM: the count is in section 0's
 *   sh_info, u32 @44 of the 64-byte Elf64_Shdr at e_shoff)
 * Elf64_Phdr (56 bytes): p_type u32 @0 (1 = PT_LOAD), p_offset u64 @8, p_paddr u64 @24,
 *   p_filesz u64 @32, p_memsz u64 @40
 * </pre>
 */
final class ElfCore {
  /** Guest physical addresses beyond this (1 TiB) are not recovered from an ELF core. */
  static final long MAX_GUEST_PHYSICAL_BYTES = 1L << 40;

  /** Program headers read at most; more are counted and skipped. */
  static final int MAX_PROGRAM_HEADERS = 1 << 16;

  static final int EHDR_LENGTH = 64;
  static final int PHDR_LENGTH = 56;
  static final int SHDR_LENGTH = 64;
  static final int ET_CORE = 4;
  static final int PT_LOAD = 1;
  static final int PN_XNUM = 0xFFFF;

  /** ELF magic bytes {@code 7f 45 4c 46} read as a little-endian u32. */
  static final int MAGIC = 0x464C457F;

  /**
   * One kept {@code PT_LOAD} segment: guest physical {@code [paddr, paddr + fileBytes)} is at file
   * offset {@code offset}; the rest up to {@code memBytes} reads as zeros.
   */
  record Load(long paddr, long offset, long fileBytes) {
    long end() {
      return paddr + fileBytes;
    }
  }

  /** Receives counted problems with single segments. */
  interface Problems {
    void report(String kind, String detail);
  }

  private ElfCore() {}

  /** Whether the file starts with the ELF magic. */
  static boolean looksLikeElf(FileChannel file) throws IOException {
    ByteBuffer b = read(file, 0, 4);
    return b.remaining() == 4 && b.getInt(0) == MAGIC;
  }

  /**
   * The kept {@code PT_LOAD} segments, sorted by guest physical address, none overlapping.
   *
   * @throws DumpException if the ELF header is not a little-endian ELF64 core's
   */
  static List<Load> loads(FileChannel file, Problems problems) throws IOException {
    long fileBytes = file.size();
    ByteBuffer h = read(file, 0, EHDR_LENGTH);
    if (h.remaining() < EHDR_LENGTH) {
      throw new DumpException(
          "ELF core cut short: expected a 64-byte ELF64 header, found " + h.remaining() + " bytes");
    }
    if (h.getInt(0) != MAGIC) {
      throw new DumpException(
          String.format(
              "not an ELF file: expected magic 7f 45 4c 46, found %08x",
              Integer.reverseBytes(h.getInt(0))));
    }
    int elfClass = h.get(4);
    int data = h.get(5);
    if (elfClass != 2 || data != 1) {
      throw new DumpException(
          "ELF core must be 64-bit little-endian: class=" + elfClass + " data=" + data);
    }
    int type = Short.toUnsignedInt(h.getShort(16));
    if (type != ET_CORE) {
      throw new DumpException("not an ELF core file: e_type=" + type + " (a core has 4)");
    }
    long phoff = h.getLong(32);
    long shoff = h.getLong(40);
    int phentsize = Short.toUnsignedInt(h.getShort(54));
    long phnum = Short.toUnsignedInt(h.getShort(56));
    if (phnum == PN_XNUM) {
      // More program headers than e_phnum can say: the count is in section header 0.
      ByteBuffer s = fits(shoff, SHDR_LENGTH, fileBytes) ? read(file, shoff, SHDR_LENGTH) : null;
      if (s == null || s.remaining() < SHDR_LENGTH) {
        throw new DumpException(
            "ELF core says e_phnum=PN_XNUM but section header 0 is outside the file: e_shoff="
                + shoff);
      }
      phnum = Integer.toUnsignedLong(s.getInt(44));
    }
    if (phnum == 0) {
      return List.of();
    }
    if (phentsize != PHDR_LENGTH) {
      throw new DumpException(
          "ELF core program header size: expected 56, found e_phentsize=" + phentsize);
    }
    if (phnum > MAX_PROGRAM_HEADERS) {
      problems.report(
          DumpRecovery.SEGMENT_SKIPPED,
          "more program headers than read: e_phnum="
              + phnum
              + " read="
              + MAX_PROGRAM_HEADERS
              + " (the rest skipped)");
      phnum = MAX_PROGRAM_HEADERS;
    }
    if (!fits(phoff, phnum * PHDR_LENGTH, fileBytes)) {
      long whole = phoff >= 0 && phoff <= fileBytes ? (fileBytes - phoff) / PHDR_LENGTH : 0;
      problems.report(
          DumpRecovery.SEGMENT_TRUNCATED,
          "program headers run past the end of the file: e_phoff="
              + phoff
              + " e_phnum="
              + phnum
              + " fileBytes="
              + fileBytes
              + " (reading "
              + whole
              + ")");
      phnum = whole;
    }
    List<Load> loads = new ArrayList<>();
    ByteBuffer p = ByteBuffer.allocate(PHDR_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    for (long i = 0; i < phnum; i++) {
      p.clear();
      readFully(file, p, phoff + i * PHDR_LENGTH);
      if (p.hasRemaining()) {
        break; // the file shrank while being read
      }
      if (p.getInt(0) != PT_LOAD) {
        continue;
      }
      long offset = p.getLong(8);
      long paddr = p.getLong(24);
      long filesz = p.getLong(32);
      if (filesz == 0) {
        continue; // memory the dump left out (p_memsz only): nothing to read
      }
      String where =
          "segment "
              + i
              + ": p_paddr="
              + hex(paddr)
              + " p_offset="
              + offset
              + " p_filesz="
              + filesz;
      if (paddr < 0
          || filesz < 0
          || paddr >= MAX_GUEST_PHYSICAL_BYTES
          || filesz > MAX_GUEST_PHYSICAL_BYTES - paddr) {
        problems.report(
            DumpRecovery.SEGMENT_SKIPPED,
            where + " lies beyond the guest physical addresses read (1 TiB): skipped");
        continue;
      }
      if (offset < 0 || offset >= fileBytes) {
        problems.report(
            DumpRecovery.SEGMENT_TRUNCATED,
            where + " starts outside the file (fileBytes=" + fileBytes + "): skipped");
        continue;
      }
      if (filesz > fileBytes - offset) {
        problems.report(
            DumpRecovery.SEGMENT_TRUNCATED,
            where
                + " runs past the end of the file (fileBytes="
                + fileBytes
                + "): read "
                + (fileBytes - offset)
                + " bytes");
        filesz = fileBytes - offset;
      }
      loads.add(new Load(paddr, offset, filesz));
    }
    loads.sort(Comparator.comparingLong(Load::paddr));
    List<Load> kept = new ArrayList<>();
    long end = 0;
    for (Load l : loads) {
      if (!kept.isEmpty() && l.paddr() < end) {
        problems.report(
            DumpRecovery.SEGMENT_SKIPPED,
            "segment at p_paddr="
                + hex(l.paddr())
                + " overlaps the one ending at "
                + hex(end)
                + ": skipped");
        continue;
      }
      kept.add(l);
      end = l.end();
    }
    return kept;
  }

  private static boolean fits(long offset, long length, long fileBytes) {
    return offset >= 0 && length >= 0 && offset <= fileBytes && length <= fileBytes - offset;
  }

  /**
   * Up to {@code length} (small, fixed) bytes at {@code position}, fewer at the end of the file.
   */
  private static ByteBuffer read(FileChannel file, long position, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    readFully(file, b, position);
    b.flip();
    return b;
  }

  /** Reads until {@code b} is full or the file ends. */
  private static void readFully(FileChannel file, ByteBuffer b, long position) throws IOException {
    long at = position;
    while (b.hasRemaining()) {
      int n = file.read(b, at);
      if (n < 0) {
        return;
      }
      at += n;
    }
  }

  static String hex(long value) {
    return "0x" + Long.toHexString(value);
  }
}
