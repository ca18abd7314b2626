package dev.guesttrace.render;

/**
 * Makes guest-supplied text safe for a terminal: the guest is untrusted, and a name or message with
 * a newline or an escape sequence must not forge tree lines or drive the user's terminal.
 */
public final class Printable {
  private Printable() {}

  /** {@code text} with control characters written as {@code \n}, {@code \t} or {@code \u001b}. */
  public static String of(String text) {
    int i = 0;
    while (i < text.length() && !isControl(text.charAt(i))) {
      i++;
    }
    if (i == text.length()) {
      return text;
    }
    StringBuilder b = new StringBuilder(text.length() + 8).append(text, 0, i);
    for (; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!isControl(c)) {
        b.append(c);
      } else if (c == '\n') {
        b.append("\\n");
      } else if (c == '\t') {
        b.append("\\t");
      } else if (c == '\r') {
        b.append("\\r");
      } else {
        b.append(String.format("\\u%04x", (int) c));
      }
    }
    return b.toString();
  }

  private static boolean isControl(char c) {
    return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == '\u2028' || c == '\u2029';
  }
}
