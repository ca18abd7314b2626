package dev.guesttrace.compare;

import java.util.Locale;

/**
 * Short human-readable durations with three significant digits: {@code 850ns}, {@code 45.6µs},
 * {@code 1.23ms}.
 */
public final class Durations {
  private static final String[] ASCII_UNITS = {"ns", "us", "ms", "s"};
  private static final String[] UNITS = {"ns", "µs", "ms", "s"};

  private Durations() {}

  /** Formats with {@code µs} for microseconds, as the text tree does. */
  public static String format(long nanos) {
    return format(nanos, UNITS);
  }

  /** Formats with ASCII units ({@code us} for microseconds), for output that must stay ASCII. */
  public static String formatAscii(long nanos) {
    return format(nanos, ASCII_UNITS);
  }

  /**
   * Formats {@code min..max} in brackets, sharing the unit of {@code median} when both ends read
   * well in it: {@code [172..174]} after {@code 173us}, else with units: {@code [980ns..1.02us]}.
   */
  public static String range(long median, long min, long max) {
    String unit = unitSuffix(format(median));
    String low = format(min);
    String high = format(max);
    if (unit.equals(unitSuffix(low)) && unit.equals(unitSuffix(high))) {
      return "[" + stripSuffix(low, unit) + ".." + stripSuffix(high, unit) + "]";
    }
    return "[" + low + ".." + high + "]";
  }

  private static String unitSuffix(String formatted) {
    int i = formatted.length();
    while (i > 0 && Character.isLetter(formatted.charAt(i - 1))) {
      i--;
    }
    return formatted.substring(i);
  }

  private static String stripSuffix(String formatted, String unit) {
    return formatted.substring(0, formatted.length() - unit.length());
  }

  private static String format(long nanos, String[] units) {
    if (Math.abs(nanos) < 1000) {
      return nanos + units[0];
    }
    double value = nanos;
    int unit = 0;
    while (unit < units.length - 1 && Math.abs(value) >= 999.5) {
      value /= 1000;
      unit++;
    }
    double abs = Math.abs(value);
    String pattern = abs < 9.995 ? "%.2f" : abs < 99.95 ? "%.1f" : "%.0f";
    return String.format(Locale.ROOT, pattern, value) + units[unit];
  }
}
