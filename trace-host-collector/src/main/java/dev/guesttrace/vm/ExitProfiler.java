package dev.guesttrace.vm;

import dev.guesttrace.abi.ExitPorts;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.HdrHistogram.Histogram;

/**
 * Counts VM exits by reason and port with the host time spent on each (min, median, p99, max,
 * total), in bounded memory: at most {@link #MAX_UNKNOWN_PORT_ROWS} rows of unknown ports, the rest
 * lumped into one, and per row one HdrHistogram of {@link ExitProfile#SIGNIFICANT_DIGITS}
 * significant digits up to {@link ExitProfile#HIGHEST_TRACKABLE_NANOS} (about 30 KiB, allocated
 * with the row; recording an exit allocates nothing). Safe for several vCPUs at once (a lock per
 * row).
 */
public final class ExitProfiler {
  /** Distinct unknown ports with rows of their own; more are lumped into one row. */
  public static final int MAX_UNKNOWN_PORT_ROWS = 16;

  private final Map<Integer, Stats> outStats = new ConcurrentHashMap<>();
  private final Map<Integer, Stats> unknownStats = new ConcurrentHashMap<>();
  private final Stats otherUnknown = new Stats(ExitProfile.UNKNOWN_PORT, ExitProfile.NO_PORT);
  private final Stats hlt = new Stats(ExitProfile.HLT, ExitProfile.NO_PORT);
  private final Stats fault = new Stats(ExitProfile.FAULT, ExitProfile.NO_PORT);
  private final Stats timeout = new Stats(ExitProfile.TIMEOUT, ExitProfile.NO_PORT);

  /** An empty profile. */
  public ExitProfiler() {}

  /** Makes {@code port} a known port: its exits count as {@link ExitProfile#OUT}. */
  public void knownPort(int port) {
    outStats.computeIfAbsent(port, p -> new Stats(ExitProfile.OUT, p));
  }

  /**
   * Counts an OUT exit on {@code port}: as {@link ExitProfile#OUT} if the port is known, else as
   * {@link ExitProfile#UNKNOWN_PORT}.
   *
   * @param nanos host time spent on it
   * @param failed whether its handling failed (the run was stopped)
   */
  public void out(int port, long nanos, boolean failed) {
    Stats stats = outStats.get(port);
    (stats != null ? stats : unknown(port)).record(nanos, failed);
  }

  /** Counts a HLT exit that took {@code nanos} of host time. */
  public void hlt(long nanos) {
    hlt.record(nanos, false);
  }

  /** Counts a fault exit. */
  public void fault(long nanos) {
    fault.record(nanos, false);
  }

  /** Counts a timeout. */
  public void timeout(long nanos) {
    timeout.record(nanos, false);
  }

  /** A snapshot of the counts so far; rows without exits are left out. */
  public ExitProfile profile() {
    List<Stats> all = new ArrayList<>();
    all.addAll(outStats.values());
    all.addAll(unknownStats.values());
    all.add(otherUnknown);
    all.add(hlt);
    all.add(fault);
    all.add(timeout);
    List<ExitProfile.Row> rows = new ArrayList<>();
    for (Stats stats : all) {
      ExitProfile.Row row = stats.snapshot();
      if (row.count() > 0) {
        rows.add(row);
      }
    }
    rows.sort(
        Comparator.comparingInt((ExitProfile.Row r) -> order(r.reason()))
            .thenComparingInt(ExitProfile.Row::port));
    return new ExitProfile(rows);
  }

  private Stats unknown(int port) {
    Stats stats = unknownStats.get(port);
    if (stats != null) {
      return stats;
    }
    synchronized (unknownStats) {
      if (unknownStats.size() >= MAX_UNKNOWN_PORT_ROWS && !unknownStats.containsKey(port)) {
        return otherUnknown;
      }
      return unknownStats.computeIfAbsent(port, p -> new Stats(ExitProfile.UNKNOWN_PORT, p));
    }
  }

  private static int order(String reason) {
    return switch (reason) {
      case ExitProfile.OUT -> 0;
      case ExitProfile.UNKNOWN_PORT -> 1;
      case ExitProfile.HLT -> 2;
      case ExitProfile.FAULT -> 3;
      default -> 4;
    };
  }

  /** One row's counters; a lock per row, uncontended unless vCPUs exit on the same port at once. */
  private static final class Stats {
    private final String reason;
    private final int port;
    // Preallocated: recordValue on it is an index computation and an increment, no allocation.
    private final Histogram histogram =
        new Histogram(ExitProfile.HIGHEST_TRACKABLE_NANOS, ExitProfile.SIGNIFICANT_DIGITS);
    private long count;
    private long errors;
    private long totalNanos;
    private long minNanos = Long.MAX_VALUE;
    private long maxNanos;
    private long overflow;

    Stats(String reason, int port) {
      this.reason = reason;
      this.port = port;
    }

    synchronized void record(long nanos, boolean failed) {
      long n = Math.max(0, nanos);
      count++;
      if (failed) {
        errors++;
      }
      totalNanos += n;
      minNanos = Math.min(minNanos, n);
      maxNanos = Math.max(maxNanos, n);
      // Past the histogram's range: counted at its top (min, max and total stay exact).
      if (n > ExitProfile.HIGHEST_TRACKABLE_NANOS) {
        overflow++;
        n = ExitProfile.HIGHEST_TRACKABLE_NANOS;
      }
      histogram.recordValue(n);
    }

    synchronized ExitProfile.Row snapshot() {
      String portName =
          port == ExitProfile.NO_PORT
              ? (reason.equals(ExitProfile.UNKNOWN_PORT) ? "other" : "-")
              : ExitPorts.name(port);
      return new ExitProfile.Row(
          reason,
          port,
          portName,
          count,
          errors,
          totalNanos,
          count == 0 ? 0 : minNanos,
          clamp(histogram.getValueAtPercentile(50)),
          clamp(histogram.getValueAtPercentile(99)),
          maxNanos,
          overflow);
    }

    /** A bucket's highest equivalent value never leaves the observed range. */
    private long clamp(long value) {
      return count == 0 ? 0 : Math.max(minNanos, Math.min(maxNanos, value));
    }
  }
}
