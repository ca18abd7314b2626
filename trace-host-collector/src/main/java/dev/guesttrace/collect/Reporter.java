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
  private final Deferral deferral;

  /**
   * Where a report made on an exit path waits its turn, so that counting keeps each vCPU's order.
   */
  interface Deferral {
    /** Queues the report to be counted in order; false if the caller should count it now. */
    boolean defer(String kind, int vcpu, String detail);
  }

  Reporter(Consumer<Diagnostic> firstOccurrence, Deferral deferral) {
    this.firstOccurrence = firstOccurrence;
    this.deferral = deferral;
  }

  /**
   * Counts a diagnostic; the first of its kind goes to the sink. Made on an exit path, it is
   * counted on the sink side after what that vCPU's earlier exits produced, so the order of first
   * occurrences is the order in which the guest's data showed them.
   */
  void report(String kind, int vcpu, String detail) {
    if (deferral.defer(kind, vcpu, detail)) {
      return;
    }
    count(kind, vcpu, detail);
  }

  /** Counts now. */
  void count(String kind, int vcpu, String detail) {
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
