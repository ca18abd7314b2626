package dev.guesttrace.render;

/**
 * The few pieces of JSON the views write by hand (no library: the output is flat and the schemas in
 * docs/formats.md are small). Strings are escaped per RFC 8259; guest text arrives untrusted and
 * any character it holds comes out as valid JSON.
 */
public final class Json {
  private Json() {}

  /** {@code text} as a JSON string literal, quotes included. */
  public static String string(String text) {
    StringBuilder b = new StringBuilder(text.length() + 2).append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029' || Character.isSurrogate(c)) {
            if (Character.isSurrogate(c)
                && Character.isHighSurrogate(c)
                && i + 1 < text.length()
                && Character.isLowSurrogate(text.charAt(i + 1))) {
              b.append(c).append(text.charAt(++i));
            } else {
              b.append(String.format("\\u%04x", (int) c));
            }
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  /** A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
  public static String csv(String text) {
    String safe = Printable.of(text);
    if (safe.indexOf(',') < 0 && safe.indexOf('"') < 0) {
      return safe;
    }
    return '"' + safe.replace("\"", "\"\"") + '"';
  }
}
