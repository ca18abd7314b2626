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

  /**
   * A JSON object written field by field: {@code new Obj().field("a", 1).field("b", "x")}. Values
   * are numbers, booleans, strings (escaped), null, or raw JSON from another {@code Obj} or array.
   */
  public static final class Obj {
    private final StringBuilder b = new StringBuilder(128).append('{');

    private Obj key(String name) {
      if (b.length() > 1) {
        b.append(',');
      }
      b.append(string(name)).append(':');
      return this;
    }

    /** A number field. */
    public Obj field(String name, long value) {
      key(name).b.append(value);
      return this;
    }

    /** A number field; NaN and infinities become null (JSON has neither). */
    public Obj field(String name, double value) {
      key(name);
      if (Double.isNaN(value) || Double.isInfinite(value)) {
        b.append("null");
      } else {
        b.append(value);
      }
      return this;
    }

    /** A boolean field. */
    public Obj field(String name, boolean value) {
      key(name).b.append(value);
      return this;
    }

    /** A string field, null written as null. */
    public Obj field(String name, String value) {
      key(name).b.append(value == null ? "null" : string(value));
      return this;
    }

    /** A field holding raw JSON (an object or array built elsewhere). */
    public Obj raw(String name, String json) {
      key(name).b.append(json);
      return this;
    }

    @Override
    public String toString() {
      return b + "}";
    }
  }

  /** A JSON array of strings. */
  public static String strings(java.util.List<String> values) {
    StringBuilder b = new StringBuilder().append('[');
    for (int i = 0; i < values.size(); i++) {
      b.append(i == 0 ? "" : ",").append(string(values.get(i)));
    }
    return b.append(']').toString();
  }

  /** A JSON array of raw JSON values, one per line after the first. */
  public static String array(java.util.List<?> values) {
    StringBuilder b = new StringBuilder().append('[');
    for (int i = 0; i < values.size(); i++) {
      b.append(i == 0 ? "" : ",").append(values.get(i));
    }
    return b.append(']').toString();
  }
}
