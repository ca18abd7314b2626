package dev.guesttrace.abi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The encoding of function calls and return values in a call buffer ({@link GuestLayout}), used in
 * both directions: host to guest (a guest call) and guest to host (a host call). Little-endian.
 *
 * <pre>
 *  message  := u32 length, then length bytes of (call | value)
 *  call     := u16 nameLength, name (UTF-8), u16 argCount, value * argCount
 *  value    := u8 type, then: VOID nothing | LONG i64 | STRING u32 length, UTF-8 | BYTES u32 length, bytes
 * </pre>
 *
 * <p>Decoding validates every length against the buffer before reading or allocating, so the host
 * can decode what an untrusted guest wrote; a malformed message throws {@link CallFormatException}
 * with a one-line reason.
 */
public final class CallCodec {
  public static final int TYPE_VOID = 0;
  public static final int TYPE_LONG = 1;
  public static final int TYPE_STRING = 2;
  public static final int TYPE_BYTES = 3;

  /** Longest function name in bytes. */
  public static final int NAME_MAX_BYTES = 256;

  /** Most arguments of one call. */
  public static final int MAX_ARGS = 32;

  private static final ValueLayout.OfShort U16 =
      JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong I64 =
      JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private CallCodec() {}

  /**
   * A function call: a name and arguments, each a {@link Long}, a {@link String} or a {@code
   * byte[]}.
   *
   * @param name the function's name
   * @param args the arguments
   */
  public record FunctionCall(String name, List<Object> args) {
    /** Copies the arguments and checks their types. */
    public FunctionCall {
      Objects.requireNonNull(name, "name");
      args = List.copyOf(args);
      for (Object arg : args) {
        checkValue(arg);
      }
    }

    /** Argument {@code index} as a long, or {@code fallback} if missing or of another type. */
    public long longArg(int index, long fallback) {
      return index < args.size() && args.get(index) instanceof Long l ? l : fallback;
    }

    /** Argument {@code index} as a string, or {@code fallback} if missing or of another type. */
    public String stringArg(int index, String fallback) {
      return index < args.size() && args.get(index) instanceof String s ? s : fallback;
    }
  }

  /** Thrown when a buffer does not hold a well-formed message. */
  public static final class CallFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a one-line reason. */
    public CallFormatException(String message) {
      super(message);
    }
  }

  /**
   * Writes {@code call} as a message at {@code offset}, within {@code limit} bytes.
   *
   * @return bytes written, length prefix included
   * @throws CallFormatException if it does not fit
   */
  public static int writeCall(MemorySegment segment, long offset, int limit, FunctionCall call) {
    Writer w = new Writer(segment, offset + GuestLayout.CALL_LENGTH_PREFIX, offset + limit);
    byte[] name = call.name().getBytes(StandardCharsets.UTF_8);
    if (name.length > NAME_MAX_BYTES || call.args().size() > MAX_ARGS) {
      throw new CallFormatException(
          "call too large: nameBytes=" + name.length + " args=" + call.args().size());
    }
    w.u16(name.length);
    w.bytes(name);
    w.u16(call.args().size());
    for (Object arg : call.args()) {
      w.value(arg);
    }
    return finish(segment, offset, w);
  }

  /**
   * Writes one value ({@code null} for void) as a message at {@code offset}.
   *
   * @return bytes written, length prefix included
   */
  public static int writeValue(MemorySegment segment, long offset, int limit, Object value) {
    Writer w = new Writer(segment, offset + GuestLayout.CALL_LENGTH_PREFIX, offset + limit);
    w.value(value);
    return finish(segment, offset, w);
  }

  /** Reads a call message at {@code offset}, reading no more than {@code limit} bytes. */
  public static FunctionCall readCall(MemorySegment segment, long offset, int limit) {
    Reader r = reader(segment, offset, limit);
    int nameLength = r.u16();
    if (nameLength > NAME_MAX_BYTES) {
      throw new CallFormatException(
          "function name too long: expected at most "
              + NAME_MAX_BYTES
              + " bytes, found "
              + nameLength);
    }
    String name = r.utf8(nameLength);
    int argCount = r.u16();
    if (argCount > MAX_ARGS) {
      throw new CallFormatException(
          "too many arguments: expected at most " + MAX_ARGS + ", found " + argCount);
    }
    List<Object> args = new ArrayList<>(argCount);
    for (int i = 0; i < argCount; i++) {
      Object value = r.value();
      if (value == null) {
        throw new CallFormatException("argument " + i + " is void");
      }
      args.add(value);
    }
    return new FunctionCall(name, args);
  }

  /** Reads a value message at {@code offset}; {@code null} stands for void. */
  public static Object readValue(MemorySegment segment, long offset, int limit) {
    return reader(segment, offset, limit).value();
  }

  private static Reader reader(MemorySegment segment, long offset, int limit) {
    if (limit < GuestLayout.CALL_LENGTH_PREFIX
        || offset < 0
        || offset + limit > segment.byteSize()) {
      throw new CallFormatException("call buffer outside guest memory: offset=" + offset);
    }
    long length = Integer.toUnsignedLong(segment.get(U32, offset));
    if (length > limit - GuestLayout.CALL_LENGTH_PREFIX) {
      throw new CallFormatException(
          "call message longer than its buffer: expected at most "
              + (limit - GuestLayout.CALL_LENGTH_PREFIX)
              + " bytes, found "
              + length);
    }
    long start = offset + GuestLayout.CALL_LENGTH_PREFIX;
    return new Reader(segment, start, start + length);
  }

  private static int finish(MemorySegment segment, long offset, Writer w) {
    int payload = (int) (w.position - offset - GuestLayout.CALL_LENGTH_PREFIX);
    segment.set(U32, offset, payload);
    return payload + GuestLayout.CALL_LENGTH_PREFIX;
  }

  private static void checkValue(Object value) {
    if (!(value instanceof Long || value instanceof String || value instanceof byte[])) {
      throw new IllegalArgumentException(
          "unsupported argument type: " + (value == null ? "null" : value.getClass().getName()));
    }
  }

  private static final class Writer {
    private final MemorySegment segment;
    private final long end;
    private long position;

    Writer(MemorySegment segment, long position, long end) {
      this.segment = segment;
      this.position = position;
      this.end = Math.min(end, segment.byteSize());
    }

    void ensure(long bytes) {
      if (position + bytes > end) {
        throw new CallFormatException(
            "call does not fit its buffer: needs " + bytes + " more bytes");
      }
    }

    void u8(int v) {
      ensure(1);
      segment.set(JAVA_BYTE, position, (byte) v);
      position += 1;
    }

    void u16(int v) {
      ensure(2);
      segment.set(U16, position, (short) v);
      position += 2;
    }

    void u32(int v) {
      ensure(4);
      segment.set(U32, position, v);
      position += 4;
    }

    void bytes(byte[] b) {
      ensure(b.length);
      MemorySegment.copy(b, 0, segment, JAVA_BYTE, position, b.length);
      position += b.length;
    }

    void value(Object value) {
      switch (value) {
        case null -> u8(TYPE_VOID);
        case Long l -> {
          u8(TYPE_LONG);
          ensure(8);
          segment.set(I64, position, l);
          position += 8;
        }
        case String s -> {
          byte[] b = s.getBytes(StandardCharsets.UTF_8);
          u8(TYPE_STRING);
          u32(b.length);
          bytes(b);
        }
        case byte[] b -> {
          u8(TYPE_BYTES);
          u32(b.length);
          bytes(b);
        }
        default ->
            throw new IllegalArgumentException("unsupported value type: " + value.getClass());
      }
    }
  }

  private static final class Reader {
    private final MemorySegment segment;
    private final long end;
    private long position;

    Reader(MemorySegment segment, long position, long end) {
      this.segment = segment;
      this.position = position;
      this.end = end;
    }

    void need(long bytes, String what) {
      if (bytes < 0 || position + bytes > end) {
        throw new CallFormatException(
            "call message cut short: expected "
                + bytes
                + " bytes of "
                + what
                + ", found "
                + (end - position));
      }
    }

    int u8() {
      need(1, "type");
      return segment.get(JAVA_BYTE, position++) & 0xFF;
    }

    int u16() {
      need(2, "length");
      int v = segment.get(U16, position) & 0xFFFF;
      position += 2;
      return v;
    }

    long u32() {
      need(4, "length");
      long v = Integer.toUnsignedLong(segment.get(U32, position));
      position += 4;
      return v;
    }

    byte[] bytes(long length, String what) {
      need(length, what);
      byte[] b = new byte[(int) length];
      MemorySegment.copy(segment, JAVA_BYTE, position, b, 0, b.length);
      position += length;
      return b;
    }

    String utf8(long length) {
      byte[] b = bytes(length, "text");
      try {
        return StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(java.nio.ByteBuffer.wrap(b))
            .toString();
      } catch (CharacterCodingException e) {
        throw new CallFormatException("call text is not valid UTF-8");
      }
    }

    Object value() {
      int type = u8();
      return switch (type) {
        case TYPE_VOID -> null;
        case TYPE_LONG -> {
          need(8, "long");
          long v = segment.get(I64, position);
          position += 8;
          yield v;
        }
        case TYPE_STRING -> utf8(u32());
        case TYPE_BYTES -> bytes(u32(), "bytes");
        default ->
            throw new CallFormatException("unknown value type: expected 0..3, found " + type);
      };
    }
  }
}
