package dev.guesttrace.collect;

import java.util.Objects;

/**
 * A counted anomaly in what the guest wrote (or what happened to it): each kind is counted and its
 * first occurrence kept in words. {@code info} shows them; the trace file keeps them.
 *
 * @param kind a stable name, one of the {@code KIND_*} constants of {@link Diagnostics}
 * @param vcpu the vCPU of the first occurrence, -1 if none
 * @param count occurrences
 * @param first the first occurrence in one line, e.g. {@code unknown record kind 9 at sequence 12}
 */
public record Diagnostic(String kind, int vcpu, long count, String first) {

  /** Checks for nulls and a positive count. */
  public Diagnostic {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(first, "first");
    if (count < 1) {
      throw new IllegalArgumentException("count must be >= 1: count=" + count);
    }
  }
}
