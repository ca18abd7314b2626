package dev.guesttrace.cli;

import java.time.Duration;
import picocli.CommandLine;

/** Parses durations: {@code 500ms}, {@code 10s}, {@code 2m}, or a bare number of seconds. */
final class Durations implements CommandLine.ITypeConverter<Duration> {
  @Override
  public Duration convert(String value) {
    String v = value.trim().toLowerCase(java.util.Locale.ROOT);
    try {
      if (v.endsWith("ms")) {
        return positive(Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2))), value);
      }
      if (v.endsWith("s")) {
        return positive(
            Duration.ofMillis(
                Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * 1000)),
            value);
      }
      if (v.endsWith("m")) {
        return positive(
            Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)) * 60), value);
      }
      return positive(Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000)), value);
    } catch (NumberFormatException e) {
      throw new CommandLine.TypeConversionException(
          "expected a duration such as 500ms, 10s or 2m, found '" + value + "'");
    }
  }

  private static Duration positive(Duration d, String value) {
    if (d.isNegative() || d.isZero()) {
      throw new CommandLine.TypeConversionException(
          "expected a positive duration, found '" + value + "'");
    }
    return d;
  }
}
