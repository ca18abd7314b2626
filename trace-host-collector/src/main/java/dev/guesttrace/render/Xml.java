package dev.guesttrace.render;

/** XML text for the SVG views (compare, flame graph), whatever the guest named its spans. */
public final class Xml {
  private Xml() {}

  /**
   * Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry at all (most
   * control characters, lone surrogates) become U+FFFD, so a hostile span name cannot make the
   * document unreadable.
   */
  public static String escape(String text) {
    StringBuilder out = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&apos;");
        default -> {
          if (Character.isHighSurrogate(c)
              && i + 1 < text.length()
              && Character.isLowSurrogate(text.charAt(i + 1))) {
            out.append(c).append(text.charAt(++i));
          } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r')
              || Character.isSurrogate(c)
              || c == 0xFFFE
              || c == 0xFFFF) {
            out.append('\uFFFD');
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }
}
