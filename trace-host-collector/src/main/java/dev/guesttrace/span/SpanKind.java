package dev.guesttrace.span;

/** Who produced a span: the guest's own records, or the host around and inside them. */
public enum SpanKind {
  /** A span the guest recorded (begin/end records in its ring). */
  GUEST,
  /** Host: the whole run of one vCPU (boot and every guest call). */
  HOST_RUN,
  /** Host: one guest call, from writing the input buffer to the guest's HLT. */
  HOST_GUEST_CALL,
  /** Host: one host function handled during the guest's HOST_CALL exit. */
  HOST_CALL,
  /**
   * Host: a trace exit handled while the guest waits (registration, flush): the host time a guest
   * span pays for tracing itself, shown so that it is not mistaken for the guest's own time.
   */
  HOST_EXIT;

  /** Whether the host produced this span. */
  public boolean isHost() {
    return this != GUEST;
  }
}
