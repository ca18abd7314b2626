package dev.guesttrace.vm;

import java.util.List;
import java.util.Optional;

/**
 * How many exits of each kind a run took and how long the host spent handling them: the first thing
 * to look at when tracing costs more than it should (exits are expensive under a real hypervisor,
 * tens of microseconds nested).
 *
 * @param rows one row per reason and port, OUT ports first (by port), then hlt, fault, timeout
 */
public record ExitProfile(List<Row> rows) {
  /** Reason of an OUT exit to a port with a handler. */
  public static final String OUT = "out";

  /** Reason of an OUT exit to a port without a handler (the guest resumes). */
  public static final String UNKNOWN_PORT = "unknown_port";

  /** Reason of a HLT exit. */
  public static final String HLT = "hlt";

  /** Reason of a fault exit. */
  public static final String FAULT = "fault";

  /** Reason of a timeout. */
  public static final String TIMEOUT = "timeout";

  /** Port of rows that are not port I/O, and of the row that lumps unknown ports past the limit. */
  public static final int NO_PORT = -1;

  /**
   * Significant decimal digits of the median and p99 (an HdrHistogram's precision: each is within
   * 1% of the true value).
   */
  public static final int SIGNIFICANT_DIGITS = 2;

  /**
   * The longest exit the histograms resolve, 60 s; a longer one is counted at 60 s for the
   * percentiles and in {@link Row#overflow()} (min, max and total stay exact).
   */
  public static final long HIGHEST_TRACKABLE_NANOS = 60_000_000_000L;

  /** Copies the rows. */
  public ExitProfile {
    rows = List.copyOf(rows);
  }

  /** Exits of every kind. */
  public long totalExits() {
    return rows.stream().mapToLong(Row::count).sum();
  }

  /** The row for {@code reason} and {@code port}, if any exit of that kind happened. */
  public Optional<Row> row(String reason, int port) {
    return rows.stream().filter(r -> r.reason.equals(reason) && r.port == port).findFirst();
  }

  /**
   * One kind of exit.
   *
   * @param reason {@link #OUT}, {@link #UNKNOWN_PORT}, {@link #HLT}, {@link #FAULT} or {@link
   *     #TIMEOUT}
   * @param port the I/O port, {@link #NO_PORT} if not port I/O (or other unknown ports, lumped)
   * @param portName e.g. {@code trace}, {@code 0x80}, {@code -}
   * @param count exits
   * @param errors exits whose handler threw (the run was stopped)
   * @param totalNanos host time spent handling them
   * @param minNanos shortest
   * @param medianNanos median, within 1% ({@link #SIGNIFICANT_DIGITS})
   * @param p99Nanos 99th percentile, within 1%
   * @param maxNanos longest
   * @param overflow exits longer than {@link #HIGHEST_TRACKABLE_NANOS}
   */
  public record Row(
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
      long overflow) {}
}
