package dev.guesttrace.host;

/**
 * What the VMM does after an OUT exit the tracer has seen ({@link VcpuTracer#onOut}).
 *
 * <ul>
 *   <li>{@link #isTracePort()} false: not the trace port. The tracer took its calibration pair and
 *       copied the ring; the VMM handles the port as its own (host call, log, abort, a device).
 *   <li>{@link #isTracePort()} true: the tracer carried the operation out; the VMM resumes the
 *       guest, first writing {@link #rax()} into RAX if {@link #setsRax()} (the REGISTER status,
 *       {@code ExitPorts.REGISTER_*}).
 * </ul>
 */
public final class OutResult {
  private static final OutResult NOT_TRACE_PORT = new OutResult(false, false, 0);
  private static final OutResult RESUME = new OutResult(true, false, 0);

  private final boolean tracePort;
  private final boolean setsRax;
  private final long rax;

  private OutResult(boolean tracePort, boolean setsRax, long rax) {
    this.tracePort = tracePort;
    this.setsRax = setsRax;
    this.rax = rax;
  }

  static OutResult notTracePort() {
    return NOT_TRACE_PORT;
  }

  static OutResult resume() {
    return RESUME;
  }

  static OutResult resumeWithRax(long rax) {
    return new OutResult(true, true, rax);
  }

  /** Whether the exit was on the trace port and the tracer handled it. */
  public boolean isTracePort() {
    return tracePort;
  }

  /** Whether the VMM must write {@link #rax()} into the guest's RAX before resuming it. */
  public boolean setsRax() {
    return setsRax;
  }

  /** The value for RAX (meaningful if {@link #setsRax()}): the REGISTER status. */
  public long rax() {
    return rax;
  }

  @Override
  public String toString() {
    return !tracePort
        ? "OutResult[not trace port]"
        : setsRax ? "OutResult[rax=" + rax + "]" : "OutResult[resume]";
  }
}
