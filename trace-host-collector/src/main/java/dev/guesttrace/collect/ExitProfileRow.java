package dev.guesttrace.collect;

import java.util.Objects;

/**
 * The VM exits of one reason and port over a run, with the host time spent handling them.
 *
 * @param reason why the vCPU exited, e.g. {@code io_out}, {@code hlt}
 * @param port the I/O port for port exits, -1 for others
 * @param count exits
 * @param totalNanos host time handling them, ns
 * @param medianNanos median time per exit, ns
 * @param maxNanos longest, ns
 */
public record ExitProfileRow(
    String reason, int port, long count, long totalNanos, long medianNanos, long maxNanos) {

  /** Checks the reason. */
  public ExitProfileRow {
    Objects.requireNonNull(reason, "reason");
  }
}
