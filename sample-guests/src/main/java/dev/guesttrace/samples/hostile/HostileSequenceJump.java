package dev.guesttrace.samples.hostile;

import dev.guesttrace.guest.GuestRuntime;

/**
 * A write sequence that jumps far beyond the ring: sets the header's write sequence 2^40 slots
 * ahead (or {@code --arg jump=N}) and flushes, then lets the tracer carry on from its own, lower
 * sequence. The host must count the jump ({@code sequence_jump}) and the return ({@code
 * sequence_backwards}), read at most one ring's worth of slots for it, and allocate nothing sized
 * by the jump.
 */
public final class HostileSequenceJump extends HostileGuest {
  /** Slots the write sequence jumps unless {@code --arg jump=N}. */
  public static final long DEFAULT_JUMP = 1L << 40;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileSequenceJump() {}

  @Override
  public String name() {
    return "hostile-sequence-jump";
  }

  @Override
  public String summary() {
    return "Jumps its ring's write sequence 2^40 slots ahead, then goes on from the real one";
  }

  @Override
  public java.util.List<String> args() {
    return java.util.List.of("jump=N (slots the sequence jumps, default 2^40)");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    raw.tracer.flush();
    raw.headerWriteSequence(raw.tracer.writeSequence() + longArg(runtime, "jump", DEFAULT_JUMP));
    raw.flushNaming(raw.region);
  }
}
