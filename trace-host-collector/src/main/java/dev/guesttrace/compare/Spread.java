package dev.guesttrace.compare;

import java.util.Arrays;

/**
 * The median and the range of one quantity over the runs of one side of a comparison, e.g. a path's
 * total nanoseconds per run.
 *
 * @param median the median over the runs (the mean of the two middle values for an even count)
 * @param min the smallest value of any run
 * @param max the largest value of any run
 */
public record Spread(long median, long min, long max) {
  /** Checks {@code min <= median <= max}. */
  public Spread {
    if (min > median || median > max) {
      throw new IllegalArgumentException(
          "expected min <= median <= max: min=" + min + " median=" + median + " max=" + max);
    }
  }

  /**
   * The spread of the given per-run values.
   *
   * @param perRun one value per run, at least one
   */
  public static Spread of(long... perRun) {
    if (perRun.length == 0) {
      throw new IllegalArgumentException("perRun.length=0: a side has at least one run");
    }
    long[] sorted = perRun.clone();
    Arrays.sort(sorted);
    int mid = sorted.length / 2;
    // Written so that the mean of two large values cannot overflow.
    long median =
        sorted.length % 2 == 1
            ? sorted[mid]
            : sorted[mid - 1] + (sorted[mid] - sorted[mid - 1]) / 2;
    return new Spread(median, sorted[0], sorted[sorted.length - 1]);
  }

  /** {@code max - min}: how much the runs of this side disagree. */
  public long width() {
    return max - min;
  }
}
