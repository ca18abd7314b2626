package dev.guesttrace.vm;

/**
 * A fixed-size log-linear histogram of nanosecond durations (HdrHistogram's idea, 5 significant
 * bits): exact below 64 ns, then 32 buckets per power of two, so any percentile is within 3.2% of
 * the true value. 1888 counters whatever the number of samples: bounded memory for a guest that
 * exits a million times a second. Not thread-safe: callers lock.
 */
final class LatencyHistogram {
  private static final int SUB_BITS = 5;
  private static final int SUB_COUNT = 1 << SUB_BITS;
  private static final int LINEAR = 2 * SUB_COUNT;
  private static final int BUCKETS = LINEAR + (63 - (SUB_BITS + 1)) * SUB_COUNT;

  private final long[] counts = new long[BUCKETS];
  private long total;

  /** Records one duration (negative counts as 0). */
  void record(long nanos) {
    counts[index(Math.max(0, nanos))]++;
    total++;
  }

  /** Samples recorded. */
  long count() {
    return total;
  }

  /**
   * The value at {@code quantile} (0 to 1): the midpoint of the bucket holding the sample of rank
   * {@code ceil(quantile * count)}; 0 if empty.
   */
  long valueAt(double quantile) {
    if (total == 0) {
      return 0;
    }
    long rank = Math.max(1, (long) Math.ceil(quantile * total));
    long seen = 0;
    for (int i = 0; i < BUCKETS; i++) {
      seen += counts[i];
      if (seen >= rank) {
        return midpoint(i);
      }
    }
    return midpoint(BUCKETS - 1);
  }

  static int index(long value) {
    if (value < LINEAR) {
      return (int) value;
    }
    int msb = 63 - Long.numberOfLeadingZeros(value);
    int shift = msb - SUB_BITS;
    return LINEAR + (msb - (SUB_BITS + 1)) * SUB_COUNT + (int) ((value >>> shift) - SUB_COUNT);
  }

  static long lowerBound(int index) {
    if (index < LINEAR) {
      return index;
    }
    int magnitude = (index - LINEAR) / SUB_COUNT;
    int sub = (index - LINEAR) % SUB_COUNT;
    int shift = magnitude + 1;
    return (long) (SUB_COUNT + sub) << shift;
  }

  static long midpoint(int index) {
    if (index < LINEAR) {
      return index;
    }
    int shift = (index - LINEAR) / SUB_COUNT + 1;
    return lowerBound(index) + (1L << shift) / 2;
  }
}
