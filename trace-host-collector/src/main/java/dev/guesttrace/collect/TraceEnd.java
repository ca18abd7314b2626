package dev.guesttrace.collect;

import java.util.List;
import java.util.Objects;

/**
 * How a run ended, with every total that is only known at the end. The last thing a complete trace
 * holds; a trace cut short (a crash of the host) has none.
 *
 * @param outcome one line, e.g. {@code halted}, {@code aborted code=3: out of memory}, {@code
 *     faulted: guest read outside its memory: address=0x7ffff000 length=8}, {@code timed out after
 *     10s}
 * @param failed whether the outcome is a failure (abort, fault, timeout)
 * @param endMonotonicNanos {@link System#nanoTime()} at the run's end
 * @param losses records that did not reach the trace, by cause
 * @param diagnostics every diagnostic with its final count, in order of first occurrence
 * @param exitProfile VM exits by reason and port
 */
public record TraceEnd(
    String outcome,
    boolean failed,
    long endMonotonicNanos,
    LossCounters losses,
    List<Diagnostic> diagnostics,
    List<ExitProfileRow> exitProfile) {

  /** Checks for nulls and copies the lists. */
  public TraceEnd {
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(losses, "losses");
    diagnostics = List.copyOf(diagnostics);
    exitProfile = List.copyOf(exitProfile);
  }
}
