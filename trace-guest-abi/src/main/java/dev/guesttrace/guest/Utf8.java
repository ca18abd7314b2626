package dev.guesttrace.guest;

import java.nio.charset.StandardCharsets;

/** UTF-8 helpers for the guest: lengths and encoding without allocation on the record path. */
final class Utf8 {
  private Utf8() {}

  /**
   * Bytes of the UTF-8 encoding of {@code text}, stopping before the character that would exceed
   * {@code maxBytes}. An unpaired surrogate counts as one byte: it is written as {@code '?'}, as
   * {@link String#getBytes} does.
   *
   * @return the encoded length
   */
  static int encodedLength(CharSequence text, int maxBytes) {
    int bytes = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      int n;
      if (c < 0x80) {
        n = 1;
      } else if (c < 0x800) {
        n = 2;
      } else if (Character.isSurrogate(c)) {
        n = isPairAt(text, i) ? 4 : 1;
      } else {
        n = 3;
      }
      if (bytes + n > maxBytes) {
        break;
      }
      bytes += n;
      if (n == 4) {
        i++;
      }
    }
    return bytes;
  }

  /** Whether a surrogate pair starts at {@code i}. */
  static boolean isPairAt(CharSequence text, int i) {
    return Character.isHighSurrogate(text.charAt(i))
        && i + 1 < text.length()
        && Character.isLowSurrogate(text.charAt(i + 1));
  }

  /** The UTF-8 encoding of {@code text} cut to at most {@code maxBytes} at a character boundary. */
  static byte[] encode(String text, int maxBytes) {
    byte[] all = text.getBytes(StandardCharsets.UTF_8);
    if (all.length <= maxBytes) {
      return all;
    }
    int end = maxBytes;
    // Back up over continuation bytes (10xxxxxx) so the cut lands on a character start.
    while (end > 0 && (all[end] & 0xC0) == 0x80) {
      end--;
    }
    byte[] cut = new byte[end];
    System.arraycopy(all, 0, cut, 0, end);
    return cut;
  }
}
