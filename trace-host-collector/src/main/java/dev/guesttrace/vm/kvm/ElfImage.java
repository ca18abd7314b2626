package dev.guesttrace.vm.kvm;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A freestanding ELF64 x86-64 executable reduced to what the loader needs: its PT_LOAD segments and
 * its entry point. The file is input: every offset, size and address is validated before use, so a
 * malformed binary is refused with a one-line reason and never writes outside guest memory.
 *
 * @param entry the entry point (guest physical = virtual address: memory is identity-mapped)
 * @param segments the loadable segments, in file order, not overlapping
 */
public record ElfImage(long entry, List<Segment> segments) {
  /** Largest guest binary accepted. */
  public static final int MAX_FILE_BYTES = 64 << 20;

  private static final int PT_LOAD = 1;
  private static final int PF_X = 1;
  private static final int EM_X86_64 = 62;
  private static final int ET_EXEC = 2;
  private static final int EHDR_SIZE = 64;
  private static final int PHDR_SIZE = 56;
  private static final int MAX_PHDRS = 64;

  /**
   * One PT_LOAD segment.
   *
   * @param address guest address of its first byte
   * @param fileOffset where its bytes start in the file
   * @param fileBytes bytes copied from the file
   * @param memoryBytes bytes it occupies in memory (the rest after {@code fileBytes} is zero)
   * @param executable whether it holds code
   */
  public record Segment(
      long address, long fileOffset, long fileBytes, long memoryBytes, boolean executable) {
    /** First address past the segment. */
    public long end() {
      return address + memoryBytes;
    }
  }

  /** Thrown for a file that is not a loadable guest; the message is one line. */
  public static final class ElfException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a one-line reason. */
    public ElfException(String message) {
      super(message);
    }
  }

  /** Copies the segments. */
  public ElfImage {
    segments = List.copyOf(segments);
  }

  /**
   * Reads {@code file} and checks it as the KVM backend will load it: an ELF64 x86-64 static
   * executable whose segments all lie in the image window {@code [KvmVm.IMAGE_BASE, IMAGE_BASE +
   * MAX_IMAGE_BYTES)}. Lets a caller refuse a bad guest before a VM exists.
   *
   * @throws ElfException naming what was expected and what was found (one line)
   */
  public static ElfImage read(Path file) throws ElfException {
    byte[] bytes;
    try {
      long size = Files.size(file);
      if (size > MAX_FILE_BYTES) {
        throw new ElfException(
            "guest binary too large: expected at most " + MAX_FILE_BYTES + " bytes, found " + size);
      }
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new ElfException("cannot read " + file + ": " + e.getMessage());
    }
    return parse(bytes, KvmVm.IMAGE_BASE, KvmVm.IMAGE_BASE + KvmVm.MAX_IMAGE_BYTES);
  }

  /**
   * Parses and validates {@code file}; every segment must lie within {@code [low, high)}.
   *
   * @throws ElfException naming what was expected and what was found
   */
  static ElfImage parse(byte[] file, long low, long high) throws ElfException {
    if (file.length > MAX_FILE_BYTES) {
      throw new ElfException(
          "guest binary too large: expected at most "
              + MAX_FILE_BYTES
              + " bytes, found "
              + file.length);
    }
    if (file.length < EHDR_SIZE
        || file[0] != 0x7F
        || file[1] != 'E'
        || file[2] != 'L'
        || file[3] != 'F') {
      throw new ElfException("not an ELF file: expected magic 7f 45 4c 46");
    }
    ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    if (file[4] != 2 || file[5] != 1) {
      throw new ElfException(
          "not a little-endian ELF64 file: class=" + file[4] + " data=" + file[5]);
    }
    int type = b.getShort(16) & 0xFFFF;
    int machine = b.getShort(18) & 0xFFFF;
    if (machine != EM_X86_64) {
      throw new ElfException("not an x86-64 binary: expected machine 62, found " + machine);
    }
    if (type != ET_EXEC) {
      throw new ElfException(
          "not a static executable: expected ELF type 2 (EXEC), found "
              + type
              + " (link with -static -fno-pic at a fixed address)");
    }
    long entry = b.getLong(24);
    long phoff = b.getLong(32);
    int phentsize = b.getShort(54) & 0xFFFF;
    int phnum = b.getShort(56) & 0xFFFF;
    if (phentsize != PHDR_SIZE || phnum == 0 || phnum > MAX_PHDRS) {
      throw new ElfException("bad program headers: phentsize=" + phentsize + " phnum=" + phnum);
    }
    if (phoff < 0 || phoff > file.length - (long) phnum * PHDR_SIZE) {
      throw new ElfException(
          "program headers outside the file: phoff=" + phoff + " fileBytes=" + file.length);
    }
    List<Segment> segments = new ArrayList<>();
    for (int i = 0; i < phnum; i++) {
      int at = (int) phoff + i * PHDR_SIZE;
      if (b.getInt(at) != PT_LOAD) {
        continue;
      }
      int flags = b.getInt(at + 4);
      long offset = b.getLong(at + 8);
      long vaddr = b.getLong(at + 16);
      long filesz = b.getLong(at + 32);
      long memsz = b.getLong(at + 40);
      if (memsz == 0) {
        continue;
      }
      if (offset < 0 || filesz < 0 || filesz > file.length || offset > file.length - filesz) {
        throw new ElfException(
            "segment " + i + " outside the file: offset=" + offset + " filesz=" + filesz);
      }
      if (memsz < 0 || filesz > memsz) {
        throw new ElfException(
            "segment " + i + " sizes invalid: filesz=" + filesz + " memsz=" + memsz);
      }
      if (vaddr >= low && vaddr < high && memsz > high - vaddr) {
        throw new ElfException(
            String.format(
                "image too large for the image window: segment %d at 0x%x needs %d bytes,"
                    + " the window [0x%x, 0x%x) has %d from there (largest image %d MiB)",
                i, vaddr, memsz, low, high, high - vaddr, (high - low) >> 20));
      }
      if (vaddr < low || vaddr >= high) {
        throw new ElfException(
            String.format(
                "segment %d outside the guest's load range: address=0x%x memsz=%d,"
                    + " expected within [0x%x, 0x%x) (link with the SDK's guest.ld)",
                i, vaddr, memsz, low, high));
      }
      Segment segment = new Segment(vaddr, offset, filesz, memsz, (flags & PF_X) != 0);
      for (Segment other : segments) {
        if (segment.address() < other.end() && other.address() < segment.end()) {
          throw new ElfException(
              String.format(
                  "segments overlap: 0x%x..0x%x and 0x%x..0x%x",
                  other.address(), other.end(), segment.address(), segment.end()));
        }
      }
      segments.add(segment);
    }
    if (segments.isEmpty()) {
      throw new ElfException("no loadable segment (PT_LOAD) in the guest binary");
    }
    boolean entryInCode = false;
    for (Segment s : segments) {
      entryInCode |= s.executable() && entry >= s.address() && entry < s.end();
    }
    if (!entryInCode) {
      throw new ElfException(
          String.format("entry point 0x%x is not inside an executable segment", entry));
    }
    return new ElfImage(entry, segments);
  }

  /** Highest address any segment occupies (exclusive). */
  long end() {
    long end = 0;
    for (Segment s : segments) {
      end = Math.max(end, s.end());
    }
    return end;
  }

  /**
   * Copies the segments into {@code window}, which holds guest addresses from {@code base}, zeroing
   * each segment's tail past its file bytes.
   */
  void load(byte[] file, MemorySegment window, long base) {
    for (Segment s : segments) {
      long at = s.address() - base;
      MemorySegment.copy(
          file, (int) s.fileOffset(), window, ValueLayout.JAVA_BYTE, at, (int) s.fileBytes());
      window.asSlice(at + s.fileBytes(), s.memoryBytes() - s.fileBytes()).fill((byte) 0);
    }
  }
}
