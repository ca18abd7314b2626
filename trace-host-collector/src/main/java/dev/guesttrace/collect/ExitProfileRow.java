package dev.guesttrace.collect;

import java.util.Objects;

/**
 * The VM exits of one reason and port over a run, with the host time spent handling them (the
 * trace's copy of a {@code dev.guesttrace.vm.ExitProfile.Row}).
 *
 * @param reason why the vCPU exited, e.g. {@code out}, {@code hlt}, {@code fault}
 * @param port the I/O port for port exits, -1 for others
 * @param portName the port's name, e.g. {@code trace}; empty for others
 * @param count exits
 * @param errors exits whose handler threw
 * @param totalNanos host time handling them, ns
 * @param minNanos shortest, ns
 * @param medianNanos median time per exit, ns
 * @param p99Nanos 99th percentile, ns
 * @param maxNanos longest, ns
 * @param significantDigits significant decimal digits of the median and p99 (HdrHistogram; 2:
 *     within 1%), or {@link #LEGACY_HISTOGRAM} for a file written before (a log-linear histogram,
 *     within 3.2%)
 * @param overflow exits longer than the histogram's highest trackable value, counted at that value
 *     for the percentiles
 */
public record ExitProfileRow(
    String reason,
    int port,
    String portName,
    long count,
    long errors,
    long totalNanos,
    long minNanos,
    long medianNanos,
    long p99Nanos,
    long maxNanos,
    int significantDigits,
    long overflow) {

  /**
   * The highest value the recording histograms resolve, 60 s (the VMM's {@code
   * dev.guesttrace.vm.ExitProfile.HIGHEST_TRACKABLE_NANOS}); {@link #overflow()} counts longer
   * exits.
   */
  public static final long HISTOGRAM_HIGHEST_NANOS = 60_000_000_000L;

  /** {@link #significantDigits()} of a file written before HdrHistogram: within 3.2%. */
  public static final int LEGACY_HISTOGRAM = 0;

  /** The precision of the median and p99, for a person: {@code 2 significant digits}. */
  public String precision() {
    return significantDigits == LEGACY_HISTOGRAM
        ? "within 3.2%"
        : significantDigits + " significant digits";
  }

  /** Checks for nulls. */
  public ExitProfileRow {
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(portName, "portName");
  }
}
