package dev.guesttrace.render;

import java.math.BigDecimal;
import java.math.RoundingMode;

/** How text output writes times: the seed's timestamp column and precise durations. */
public final class Durations {
  private Durations() {}

  /**
   * A timestamp as the seed's tree writes it: rounded to the microsecond, {@code 338µs}, {@code
   * 58.197ms}, {@code 61.05ms}, {@code 1.5s} (trailing zeros dropped, as Rust's {@code Duration}
   * debug format does).
   */
  public static String timestamp(long nanos) {
    long micros = Math.round(nanos / 1000.0);
    if (Math.abs(micros) < 1000) {
      return micros + "µs";
    }
    if (Math.abs(micros) < 1_000_000) {
      return trimmed(micros, 3) + "ms";
    }
    return trimmed(micros, 6) + "s";
  }

  /** The seed's timestamp column: {@code [58.197ms ]}, the time left-aligned in 9 characters. */
  public static String column(long nanos) {
    String t = timestamp(nanos);
    StringBuilder b = new StringBuilder(12).append('[').append(t);
    for (int i = t.length(); i < 9; i++) {
      b.append(' ');
    }
    return b.append(']').toString();
  }

  /**
   * A duration with 4 significant digits at most and the unit that fits: {@code 87ns}, {@code
   * 1.234µs}, {@code 20.31µs}, {@code 377.4µs}, {@code 1.25ms}, {@code 2.5s}.
   */
  public static String duration(long nanos) {
    long abs = Math.abs(nanos);
    if (abs < 1_000) {
      return nanos + "ns";
    }
    if (abs < 1_000_000) {
      return significant(nanos, 1_000) + "µs";
    }
    if (abs < 1_000_000_000) {
      return significant(nanos, 1_000_000) + "ms";
    }
    return significant(nanos, 1_000_000_000) + "s";
  }

  private static String trimmed(long value, int scale) {
    return BigDecimal.valueOf(value, scale).stripTrailingZeros().toPlainString();
  }

  private static String significant(long nanos, long unit) {
    BigDecimal v = BigDecimal.valueOf(nanos).divide(BigDecimal.valueOf(unit));
    int integerDigits = v.abs().precision() - v.abs().scale();
    int scale = Math.max(0, 4 - Math.max(1, integerDigits));
    return v.setScale(scale, RoundingMode.HALF_EVEN).stripTrailingZeros().toPlainString();
  }
}
