package dev.guesttrace.collect;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Counts anomalies and hands the first occurrence of each kind to the sink side. Shared by the exit
 * path (registration, copies) and the decoder; thread-safe ({@link Diagnostics} is).
 */
final class Reporter {
  final Diagnostics diagnostics = new Diagnostics();
  private final Consumer<Diagnostic> firstOccurrence;

  Reporter(Consumer<Diagnostic> firstOccurrence) {
    this.firstOccurrence = firstOccurrence;
  }

  /** Counts a diagnostic; the first of its kind goes to the sink. */
  void report(String kind, int vcpu, String detail) {
    Diagnostic first = diagnostics.count(kind, vcpu, detail);
    if (first != null) {
      firstOccurrence.accept(first);
    }
  }

  /**
   * Counts one more of {@code kind} if it was seen before, so that callers build the words of a
   * diagnostic only once (a hostile guest may produce millions).
   */
  boolean countIfSeen(String kind) {
    return diagnostics.countIfSeen(kind);
  }

  /** Decodes UTF-8, replacing bad bytes with U+FFFD and counting them. */
  String utf8(byte[] bytes, int length, int vcpu, String what) {
    boolean ascii = true;
    for (int i = 0; i < length; i++) {
      if (bytes[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
    }
    try {
      // A decoder per call: rare (non-ASCII text), and decoders are not thread-safe.
      return StandardCharsets.UTF_8
          .newDecoder()
          .decode(ByteBuffer.wrap(bytes, 0, length))
          .toString();
    } catch (CharacterCodingException e) {
      report(Diagnostics.BAD_UTF8, vcpu, what + " is not valid UTF-8: replaced");
      return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }
  }

  static String hex(long value) {
    return "0x" + Long.toHexString(value);
  }

  static boolean fits(long address, long length, long memoryBytes) {
    return address >= 0 && length >= 0 && address <= memoryBytes && length <= memoryBytes - address;
  }

  static long saturatedAdd(long a, long b) {
    long r = a + b;
    return r < 0 ? Long.MAX_VALUE : r;
  }
}
