package dev.guesttrace.file;

import com.google.protobuf.CodedOutputStream;
import dev.guesttrace.file.proto.Chunk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Constants of the .gtrace file (the schema is {@code
 * src/main/proto/guesttrace/file/v1/gtrace.proto}): an 8-byte preamble (magic {@code GTRACE},
 * format major, format minor), then chunks, each a varint byte length and one {@code Chunk}
 * message. From format 1.2 a chunk's bytes open with a sync mark and end with a CRC-32C of the rest
 * ({@link #frame}), so that a reader can check each chunk and find the next one after damage.
 */
public final class TraceFileFormat {
  /** The file's first six bytes. */
  static final byte[] MAGIC = "GTRACE".getBytes(StandardCharsets.US_ASCII);

  /** Format major version: a reader refuses files of another major. */
  public static final int MAJOR = 1;

  /** Format minor version: additions an older reader of the same major skips. */
  public static final int MINOR = 2;

  /** The first minor version whose chunks carry a sync mark and a CRC-32C. */
  static final int CHECKED_MINOR = 2;

  /** {@code Chunk.sync} (field 14, fixed64): the mark a reader scans for after damage. */
  static final long SYNC = 0x6BF1249E5AC31DB7L;

  /** Tag byte of {@code Chunk.sync}: field 14, wire type fixed64. */
  static final int SYNC_TAG = (14 << 3) | 1;

  /** Tag byte of {@code Chunk.crc32c}: field 15, wire type fixed32. */
  static final int CRC_TAG = (15 << 3) | 5;

  /** Bytes of the sync field: tag and eight bytes. */
  static final int SYNC_LENGTH = 9;

  /** Bytes of the CRC field: tag and four bytes. */
  static final int CRC_LENGTH = 5;

  /** Bytes before the first chunk. */
  public static final int PREAMBLE_LENGTH = 8;

  /** Largest chunk a reader accepts, checked before allocating. */
  public static final int MAX_CHUNK_BYTES = 64 << 20;

  /** Record flags: the low four bits are the kind. */
  static final int KIND_MASK = 0x0F;

  static final int HAS_NAME = 0x10;
  static final int HAS_ARG0 = 0x20;
  static final int HAS_ARG1 = 0x40;

  private TraceFileFormat() {}

  /**
   * A chunk's bytes as format 1.2 writes them: the sync field, the body, the CRC-32C field. The
   * length prefix is not included.
   */
  static byte[] frame(Chunk chunk) {
    int bodyLength = chunk.getSerializedSize();
    byte[] b = new byte[SYNC_LENGTH + bodyLength + CRC_LENGTH];
    b[0] = (byte) SYNC_TAG;
    putLittleEndian(b, 1, SYNC, 8);
    try {
      CodedOutputStream out = CodedOutputStream.newInstance(b, SYNC_LENGTH, bodyLength);
      chunk.writeTo(out);
      out.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException("serializing a chunk into an array", e);
    }
    int crcAt = SYNC_LENGTH + bodyLength;
    b[crcAt] = (byte) CRC_TAG;
    putLittleEndian(b, crcAt + 1, crc(b, 0, crcAt), 4);
    return b;
  }

  /**
   * Whether {@code b[0, length)} is one whole checked chunk: the sync field first, the CRC field
   * last, and the CRC-32C matches.
   */
  static boolean checks(byte[] b, int length) {
    if (length < SYNC_LENGTH + CRC_LENGTH || !startsWithSync(b, 0)) {
      return false;
    }
    int crcAt = length - CRC_LENGTH;
    if ((b[crcAt] & 0xFF) != CRC_TAG) {
      return false;
    }
    long stored = 0;
    for (int i = 3; i >= 0; i--) {
      stored = stored << 8 | (b[crcAt + 1 + i] & 0xFF);
    }
    return stored == crc(b, 0, crcAt);
  }

  /** Whether the nine bytes at {@code at} are the sync field. */
  static boolean startsWithSync(byte[] b, int at) {
    if (b.length - at < SYNC_LENGTH || (b[at] & 0xFF) != SYNC_TAG) {
      return false;
    }
    for (int i = 0; i < 8; i++) {
      if ((b[at + 1 + i] & 0xFF) != (int) (SYNC >>> (8 * i) & 0xFF)) {
        return false;
      }
    }
    return true;
  }

  /** CRC-32C of {@code b[from, to)}, as the chunk's {@code crc32c} field holds it. */
  static long crc(byte[] b, int from, int to) {
    CRC32C crc = new CRC32C();
    crc.update(b, from, to - from);
    return crc.getValue();
  }

  private static void putLittleEndian(byte[] b, int at, long value, int bytes) {
    for (int i = 0; i < bytes; i++) {
      b[at + i] = (byte) (value >>> (8 * i));
    }
  }
}
