package dev.guesttrace.recover;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Writes guest memory as a dump {@link DumpRecovery} reads. */
public final class GuestMemoryDumps {
  /** Bytes written per call: a {@link ByteBuffer} view is limited to 2 GiB. */
  private static final long CHUNK_BYTES = 64L << 20;

  private GuestMemoryDumps() {}

  /**
   * Writes {@code memory} to {@code path} as a raw dump: guest physical address 0 at file offset 0,
   * every byte, as a Firecracker snapshot memory file holds it.
   */
  public static void writeRaw(MemorySegment memory, Path path) throws IOException {
    try (FileChannel out =
        FileChannel.open(
            path,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      long size = memory.byteSize();
      for (long at = 0; at < size; at += CHUNK_BYTES) {
        ByteBuffer chunk = memory.asSlice(at, Math.min(CHUNK_BYTES, size - at)).asByteBuffer();
        while (chunk.hasRemaining()) {
          out.write(chunk);
        }
      }
    }
  }
}
