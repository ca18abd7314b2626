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
        long minutes = Long.parseLong(v.substring(0, v.length() - 1));
        // Checked before multiplying: 2^62 minutes would wrap around to a small duration.
        return positive(Duration.ofMinutes(Math.min(minutes, MAX.toMinutes() + 1)), value);
      }
      return positive(Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000)), value);
    } catch (NumberFormatException e) {
      throw new CommandLine.TypeConversionException(
          "expected a duration such as 500ms, 10s or 2m, found '" + value + "'");
    }
  }

  /** The longest duration any option takes: longer ones overflow nanosecond clocks somewhere. */
  static final Duration MAX = Duration.ofDays(30);

  private static Duration positive(Duration d, String value) {
    if (d.isNegative() || d.isZero()) {
      throw new CommandLine.TypeConversionException(
          "expected a positive duration, found '" + value + "'");
    }
    if (d.compareTo(MAX) > 0) {
      throw new CommandLine.TypeConversionException(
          "expected a duration of at most 30 days, found '" + value + "'");
    }
    return d;
  }
}
