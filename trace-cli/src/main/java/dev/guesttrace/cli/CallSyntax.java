package dev.guesttrace.cli;

import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code --call} syntax: {@code Name(arg, ...)} with the value types of {@link CallCodec}:
 *
 * <ul>
 *   <li>a LONG: a decimal integer, {@code 42} or {@code -7};
 *   <li>a STRING: {@code "text"} with the escapes {@code \" \\ \n \t \r \0} and {@code \}{@code
 *       uXXXX};
 *   <li>BYTES: {@code 0x} and an even number of hex digits, {@code 0x} alone for none.
 * </ul>
 *
 * {@code Name} alone is a call without arguments. The whole text is a command-line argument, so a
 * mistake is reported with its position, in one line.
 */
final class CallSyntax {
  private final String text;
  private int at;

  private CallSyntax(String text) {
    this.text = text;
  }

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException with a one-line reason that names the position
   */
  static FunctionCall parse(String text) {
    return new CallSyntax(text).call();
  }

  private FunctionCall call() {
    skipSpaces();
    int nameStart = at;
    while (at < text.length() && isNameChar(text.charAt(at))) {
      at++;
    }
    String name = text.substring(nameStart, at);
    if (name.isEmpty()) {
      throw error("expected a function name");
    }
    if (name.getBytes(StandardCharsets.UTF_8).length > CallCodec.NAME_MAX_BYTES) {
      throw new IllegalArgumentException(
          "function name longer than " + CallCodec.NAME_MAX_BYTES + " bytes");
    }
    skipSpaces();
    List<Object> args = new ArrayList<>();
    if (at == text.length()) {
      return new FunctionCall(name, args);
    }
    expect('(');
    skipSpaces();
    if (peek() == ')') {
      at++;
    } else {
      while (true) {
        if (args.size() == CallCodec.MAX_ARGS) {
          throw error("more than " + CallCodec.MAX_ARGS + " arguments");
        }
        args.add(value());
        skipSpaces();
        if (peek() == ',') {
          at++;
          skipSpaces();
          continue;
        }
        expect(')');
        break;
      }
    }
    skipSpaces();
    if (at != text.length()) {
      throw error("expected the end after ')'");
    }
    return new FunctionCall(name, args);
  }

  private Object value() {
    char c = peek();
    if (c == '"') {
      return string();
    }
    if (c == '0' && at + 1 < text.length() && (text.charAt(at + 1) | 0x20) == 'x') {
      return bytes();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      return integer();
    }
    throw error("expected an integer, a \"string\" or 0x bytes");
  }

  private Long integer() {
    int start = at;
    if (peek() == '-') {
      at++;
    }
    while (at < text.length() && Character.isDigit(text.charAt(at)) && text.charAt(at) < 128) {
      at++;
    }
    String digits = text.substring(start, at);
    if (digits.equals("-")) {
      throw error("expected digits after '-'");
    }
    try {
      return Long.parseLong(digits);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "integer out of the 64-bit range at column " + (start + 1) + ": " + digits);
    }
  }

  private byte[] bytes() {
    int start = at;
    at += 2;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int digits = 0;
    int high = 0;
    while (at < text.length() && Character.digit(text.charAt(at), 16) >= 0) {
      int d = Character.digit(text.charAt(at), 16);
      if (digits % 2 == 0) {
        high = d;
      } else {
        out.write(high << 4 | d);
      }
      digits++;
      at++;
    }
    if (digits % 2 != 0) {
      at = start;
      throw error("expected an even number of hex digits after 0x (two per byte)");
    }
    return out.toByteArray();
  }

  private String string() {
    int start = at;
    at++;
    StringBuilder s = new StringBuilder();
    while (true) {
      if (at >= text.length()) {
        at = start;
        throw error("string not closed: expected '\"'");
      }
      char c = text.charAt(at++);
      if (c == '"') {
        return s.toString();
      }
      if (c != '\\') {
        s.append(c);
        continue;
      }
      if (at >= text.length()) {
        at = start;
        throw error("string not closed: expected '\"'");
      }
      char e = text.charAt(at++);
      switch (e) {
        case '"' -> s.append('"');
        case '\\' -> s.append('\\');
        case 'n' -> s.append('\n');
        case 't' -> s.append('\t');
        case 'r' -> s.append('\r');
        case '0' -> s.append('\0');
        case 'u' -> {
          if (at + 4 > text.length()) {
            at -= 2;
            throw error("expected four hex digits after \\u");
          }
          int code = 0;
          for (int i = 0; i < 4; i++) {
            int d = Character.digit(text.charAt(at + i), 16);
            if (d < 0) {
              at -= 2;
              throw error("expected four hex digits after \\u");
            }
            code = code << 4 | d;
          }
          at += 4;
          s.append((char) code);
        }
        default -> {
          at -= 2;
          throw error(
              "unknown escape \\" + e + ": expected one of \\\" \\\\ \\n \\t \\r \\0 \\uXXXX");
        }
      }
    }
  }

  private static boolean isNameChar(char c) {
    return Character.isLetterOrDigit(c) || c == '_' || c == '.' || c == ':' || c == '-' || c == '$';
  }

  private char peek() {
    return at < text.length() ? text.charAt(at) : '\0';
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    at++;
  }

  private void skipSpaces() {
    while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
      at++;
    }
  }

  private IllegalArgumentException error(String reason) {
    String found = at < text.length() ? "'" + text.charAt(at) + "'" : "the end";
    return new IllegalArgumentException(reason + " at column " + (at + 1) + ", found " + found);
  }
}
