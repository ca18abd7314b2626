package dev.guesttrace.clock;

/**
 * Converts guest TSC ticks to host monotonic nanoseconds with one reference point and a rate, as
 * JFR's {@code TimeConverter} does: immutable, nothing else. {@link TscCalibration} makes one per
 * vCPU.
 *
 * @param referenceTicks a guest TSC value
 * @param referenceNanos the host {@link System#nanoTime()} that {@code referenceTicks} maps to
 * @param ticksPerSecond guest TSC rate
 */
public record TscClock(long referenceTicks, long referenceNanos, double ticksPerSecond) {

  /** Checks the rate. */
  public TscClock {
    if (!(ticksPerSecond > 0) || Double.isInfinite(ticksPerSecond)) {
      throw new IllegalArgumentException("ticksPerSecond must be > 0: " + ticksPerSecond);
    }
  }

  /** Host monotonic nanoseconds at guest TSC {@code tscTicks}. */
  public long toHostNanos(long tscTicks) {
    // The difference is taken in longs first: TSC values near 2^63 lose no precision that way.
    double deltaTicks = (double) (tscTicks - referenceTicks);
    return referenceNanos + Math.round(deltaTicks * 1e9 / ticksPerSecond);
  }

  /** Guest TSC ticks at host monotonic nanoseconds {@code hostNanos} (the inverse). */
  public long toTscTicks(long hostNanos) {
    double deltaNanos = (double) (hostNanos - referenceNanos);
    return referenceTicks + Math.round(deltaNanos * ticksPerSecond / 1e9);
  }

  /** Nanoseconds that {@code ticks} guest TSC ticks last. */
  public long ticksToNanos(long ticks) {
    return Math.round(ticks * 1e9 / ticksPerSecond);
  }
}
