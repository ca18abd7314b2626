package dev.guesttrace.cli;

import picocli.CommandLine;

/** Parses byte sizes: {@code 65536}, {@code 64k}, {@code 16m}, {@code 1g} (powers of 1024). */
final class Sizes implements CommandLine.ITypeConverter<Long> {
  @Override
  public Long convert(String value) {
    String v = value.trim().toLowerCase(java.util.Locale.ROOT);
    long unit = 1;
    if (v.endsWith("k") || v.endsWith("m") || v.endsWith("g")) {
      unit =
          switch (v.charAt(v.length() - 1)) {
            case 'k' -> 1L << 10;
            case 'm' -> 1L << 20;
            default -> 1L << 30;
          };
      v = v.substring(0, v.length() - 1);
    }
    try {
      long n = Long.parseLong(v);
      if (n < 0 || n > Long.MAX_VALUE / unit) {
        throw new CommandLine.TypeConversionException(
            "expected a size such as 65536 or 64k, found '" + value + "'");
      }
      return n * unit;
    } catch (NumberFormatException e) {
      throw new CommandLine.TypeConversionException(
          "expected a size such as 65536 or 64k, found '" + value + "'");
    }
  }
}
