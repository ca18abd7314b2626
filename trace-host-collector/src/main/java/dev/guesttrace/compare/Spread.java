package dev.guesttrace.compare;

import java.util.Arrays;

/**
 * The median, the range and the median absolute deviation of one quantity over the runs of one side
 * of a comparison, e.g. a path's total nanoseconds per run.
 *
 * @param median the median over the runs (the mean of the two middle values for an even count)
 * @param min the smallest value of any run
 * @param max the largest value of any run
 * @param deviation the median of the runs' distances from the median: a spread that one stalled run
 *     cannot inflate (0 for one run)
 */
public record Spread(long median, long min, long max, long deviation) {
  /** Checks {@code min <= median <= max} and {@code deviation >= 0}. */
  public Spread {
    if (min > median || median > max || deviation < 0) {
      throw new IllegalArgumentException(
          "expected min <= median <= max and deviation >= 0: min="
              + min
              + " median="
              + median
              + " max="
              + max
              + " deviation="
              + deviation);
    }
  }

  /** A spread whose runs all lie at their median or at one of the ends (deviation 0). */
  public Spread(long median, long min, long max) {
    this(median, min, max, 0);
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
    long median = median(sorted);
    long[] distances = new long[sorted.length];
    for (int i = 0; i < sorted.length; i++) {
      distances[i] = Math.abs(sorted[i] - median);
    }
    Arrays.sort(distances);
    return new Spread(median, sorted[0], sorted[sorted.length - 1], median(distances));
  }

  private static long median(long[] sorted) {
    int mid = sorted.length / 2;
    // Written so that the mean of two large values cannot overflow.
    return sorted.length % 2 == 1
        ? sorted[mid]
        : sorted[mid - 1] + (sorted[mid] - sorted[mid - 1]) / 2;
  }

  /** {@code max - min}: how much the runs of this side disagree. */
  public long width() {
    return max - min;
  }
}
