package dev.guesttrace.vm.calls;

import dev.guesttrace.abi.GuestLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads a {@code u32 length} + UTF-8 text a guest left in a call buffer, trusting nothing: the
 * buffer must lie in guest memory, the length is cut to the buffer and to {@link #MAX_BYTES}, and
 * bad UTF-8 is replaced.
 *
 * @param text the text (possibly cut or with replacement characters)
 * @param problem empty if well-formed, else what was wrong (one line)
 */
record GuestText(String text, String problem) {
  /** Longest text read from a guest, whatever the buffer size. */
  static final int MAX_BYTES = 64 * 1024;

  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  static GuestText read(MemorySegment memory, long address, int bufferLength) {
    if (address < 0
        || bufferLength < GuestLayout.CALL_LENGTH_PREFIX
        || address > memory.byteSize() - bufferLength) {
      return new GuestText("", "text buffer outside guest memory: address=" + address);
    }
    long length = Integer.toUnsignedLong(memory.get(U32, address));
    long room = Math.min(bufferLength - GuestLayout.CALL_LENGTH_PREFIX, MAX_BYTES);
    String problem = "";
    if (length > room) {
      problem = "text longer than its buffer: expected at most " + room + " bytes, found " + length;
      length = room;
    }
    byte[] bytes = new byte[(int) length];
    MemorySegment.copy(
        memory,
        ValueLayout.JAVA_BYTE,
        address + GuestLayout.CALL_LENGTH_PREFIX,
        bytes,
        0,
        bytes.length);
    try {
      String text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
      return new GuestText(text, problem);
    } catch (CharacterCodingException e) {
      return new GuestText(
          new String(bytes, StandardCharsets.UTF_8),
          problem.isEmpty() ? "text is not valid UTF-8" : problem);
    }
  }
}
