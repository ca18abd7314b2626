package dev.guesttrace.vm;

import java.time.Duration;

/** How a vCPU's run ended. */
public sealed interface RunOutcome {
  /** The guest executed HLT. */
  record Halted() implements RunOutcome {}

  /** An exit handler returned {@link ExitHandler.ExitAction#STOP} (the guest aborted). */
  record Stopped() implements RunOutcome {}

  /**
   * The guest faulted: touched memory outside its range, triple-faulted, or its code threw.
   *
   * @param reason one line saying what happened, e.g. {@code guest read outside its memory:
   *     address=0x7ffff000 length=8}
   * @param registers register dump, in {@link dev.guesttrace.abi.Register} order, empty if unknown
   */
  record Faulted(String reason, long[] registers) implements RunOutcome {}

  /**
   * The run exceeded the timeout and was stopped.
   *
   * @param timeout the configured limit
   * @param stopped whether the vCPU actually stopped (false: it was abandoned, still spinning)
   */
  record TimedOut(Duration timeout, boolean stopped) implements RunOutcome {}
}
