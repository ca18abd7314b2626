package dev.guesttrace.recover;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A dump's guest physical memory as one read-only {@link MemorySegment} whose offset is the guest
 * physical address, as the collector reads a live guest's memory, plus the address ranges the dump
 * really holds (the only ones worth scanning).
 *
 * <p>A raw dump is the file itself, mapped read-only: nothing is copied and nothing allocated by
 * the file's size. An ELF core's segments are scattered through the file with gaps between their
 * addresses, so their bytes are copied (by the kernel, {@link FileChannel#transferTo}) into a
 * sparse scratch file at their guest physical addresses, which is mapped the same way; the gaps
 * take no disk and read as zeros. The scratch file is deleted when the image is closed.
 */
final class DumpImage implements AutoCloseable {
  private final Arena arena;
  private final MemorySegment memory;
  private final List<long[]> populated;
  private final DumpFormat format;
  private final Path scratch;

  private DumpImage(
      Arena arena, MemorySegment memory, List<long[]> populated, DumpFormat format, Path scratch) {
    this.arena = arena;
    this.memory = memory;
    this.populated = populated;
    this.format = format;
    this.scratch = scratch;
  }

  /**
   * Opens {@code dump}.
   *
   * @param format the format, or null to tell by the ELF magic
   * @param scratchDirectory where an ELF core's sparse image goes
   * @param problems counted problems with single ELF segments
   * @throws DumpException if the dump is missing, empty or an unreadable ELF core
   */
  static DumpImage open(
      Path dump, DumpFormat format, Path scratchDirectory, ElfCore.Problems problems)
      throws IOException {
    if (Files.isDirectory(dump)) {
      throw new DumpException("not a file: " + dump);
    }
    FileChannel file;
    try {
      file = FileChannel.open(dump, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new DumpException("no such file: " + dump, e);
    }
    try (file) {
      long size = file.size();
      if (size == 0) {
        throw new DumpException("empty dump: " + dump);
      }
      DumpFormat chosen =
          format != null
              ? format
              : ElfCore.looksLikeElf(file) ? DumpFormat.ELF_CORE : DumpFormat.RAW;
      if (chosen == DumpFormat.RAW) {
        Arena arena = Arena.ofShared();
        try {
          MemorySegment memory = file.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
          return new DumpImage(arena, memory, List.<long[]>of(new long[] {0, size}), chosen, null);
        } catch (IOException | RuntimeException e) {
          arena.close();
          throw e;
        }
      }
      return elf(file, scratchDirectory, problems);
    }
  }

  private static DumpImage elf(FileChannel file, Path scratchDirectory, ElfCore.Problems problems)
      throws IOException {
    List<ElfCore.Load> loads = ElfCore.loads(file, problems);
    if (loads.isEmpty()) {
      return new DumpImage(
          Arena.ofShared(),
          MemorySegment.ofArray(new byte[0]),
          List.of(),
          DumpFormat.ELF_CORE,
          null);
    }
    long extent = loads.get(loads.size() - 1).end();
    Path scratch;
    try {
      scratch = Files.createTempFile(scratchDirectory, "guesttrace-recover-", ".raw");
    } catch (IOException e) {
      throw new DumpException(
          "cannot lay the ELF core out in " + scratchDirectory + ": " + e.getMessage(), e);
    }
    Arena arena = Arena.ofShared();
    try (FileChannel image =
        FileChannel.open(scratch, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      // One byte at the end sets the length; everything not written below stays a hole.
      image.write(ByteBuffer.wrap(new byte[1]), extent - 1);
      long[][] ranges = new long[loads.size()][];
      for (int i = 0; i < loads.size(); i++) {
        ElfCore.Load l = loads.get(i);
        image.position(l.paddr());
        long done = 0;
        while (done < l.fileBytes()) {
          long n = file.transferTo(l.offset() + done, l.fileBytes() - done, image);
          if (n <= 0) {
            break; // the file shrank while being copied: the rest reads as zeros
          }
          done += n;
        }
        ranges[i] = new long[] {l.paddr(), l.end()};
      }
      MemorySegment memory = image.map(FileChannel.MapMode.READ_ONLY, 0, extent, arena);
      return new DumpImage(arena, memory, List.of(ranges), DumpFormat.ELF_CORE, scratch);
    } catch (IOException | RuntimeException e) {
      arena.close();
      Files.deleteIfExists(scratch);
      throw e;
    }
  }

  /** Guest physical memory: offset = address, read-only. */
  MemorySegment memory() {
    return memory;
  }

  /** The {@code [start, end)} address ranges the dump holds, ascending, not overlapping. */
  List<long[]> populated() {
    return populated;
  }

  /** The dump's format. */
  DumpFormat format() {
    return format;
  }

  @Override
  public void close() throws IOException {
    arena.close();
    if (scratch != null) {
      Files.deleteIfExists(scratch);
    }
  }
}
