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
    long maxNanos) {

  /** Checks for nulls. */
  public ExitProfileRow {
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(portName, "portName");
  }
}
