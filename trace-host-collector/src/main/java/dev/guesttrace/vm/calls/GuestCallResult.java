package dev.guesttrace.vm.calls;

import dev.guesttrace.vm.RunOutcome;

/**
 * What a guest call returned.
 *
 * @param outcome how the vCPU's run ended ({@link RunOutcome.Halted} for a completed call)
 * @param value the guest's return value: a {@link Long}, a {@link String}, a {@code byte[]}, or
 *     {@code null} (void, or no value because of an error)
 * @param error empty if the call completed with a well-formed value; else one line
 */
public record GuestCallResult(RunOutcome outcome, Object value, String error) {
  /** Whether the call completed and returned a well-formed value. */
  public boolean ok() {
    return error.isEmpty();
  }
}
