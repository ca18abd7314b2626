package dev.guesttrace.samples.hostile;

import dev.guesttrace.guest.GuestRuntime;

/**
 * A write sequence that goes back: after a flush, sets the header's write sequence 3 slots lower
 * (or {@code --arg back=N}) and flushes again, then lets the tracer carry on. The host must count
 * it ({@code sequence_backwards}) and go on reading from where the guest now says it is.
 */
public final class HostileSequenceBack extends HostileGuest {
  /** Slots the write sequence goes back unless {@code --arg back=N}. */
  public static final long DEFAULT_BACK = 3;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileSequenceBack() {}

  @Override
  public String name() {
    return "hostile-sequence-back";
  }

  @Override
  public String summary() {
    return "Sets its ring's write sequence back after a flush and flushes again";
  }

  @Override
  public java.util.List<String> args() {
    return java.util.List.of("back=N (slots the sequence goes back, default 3)");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    raw.tracer.flush();
    raw.headerWriteSequence(raw.tracer.writeSequence() - longArg(runtime, "back", DEFAULT_BACK));
    raw.flushNaming(raw.region);
  }
}
