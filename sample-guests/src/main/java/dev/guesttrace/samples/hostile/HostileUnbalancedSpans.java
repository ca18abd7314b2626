package dev.guesttrace.samples.hostile;

import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;

/**
 * Span ends without begins and begins never ended: ends the guest library's own open spans, then
 * ends two spans nobody began, writes a valid span, begins two spans it never ends and halts with
 * them open. The tree builder drops the two ends ({@code span_end_without_begin}, twice) and closes
 * the two open spans at the end of the run, marked unclosed ({@code span_unclosed}, twice).
 */
public final class HostileUnbalancedSpans extends HostileGuest {
  private int entrypoint;
  private int hyperlightMain;
  private int orphan;
  private int never;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileUnbalancedSpans() {}

  @Override
  public String name() {
    return "hostile-unbalanced-spans";
  }

  @Override
  public String summary() {
    return "Ends spans it never began and halts with spans it never ended";
  }

  @Override
  void prepare(GuestRuntime runtime) {
    Tracer t = runtime.tracer();
    entrypoint = t.name("entrypoint");
    hyperlightMain = t.name("hyperlight_main");
    orphan = t.name("orphan");
    never = t.name("never_ended");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    Tracer t = runtime.tracer();
    t.end(hyperlightMain);
    t.end(entrypoint);
    t.end(orphan);
    t.end(orphan);
    int after = t.name(AFTER);
    t.begin(after);
    t.end(after);
    t.begin(never);
    t.begin(never);
    runtime.halt(); // halts with both "never_ended" spans open: does not return
  }
}
