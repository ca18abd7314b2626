package dev.guesttrace.file;

import java.nio.charset.StandardCharsets;

/**
 * Constants of the .gtrace file (the schema is {@code
 * src/main/proto/guesttrace/file/v1/gtrace.proto}): an 8-byte preamble (magic {@code GTRACE},
 * format major, format minor), then chunks, each a varint byte length and one {@code Chunk}
 * message.
 */
public final class TraceFileFormat {
  /** The file's first six bytes. */
  static final byte[] MAGIC = "GTRACE".getBytes(StandardCharsets.US_ASCII);

  /** Format major version: a reader refuses files of another major. */
  public static final int MAJOR = 1;

  /** Format minor version: additions an older reader of the same major skips. */
  public static final int MINOR = 1;

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
}
