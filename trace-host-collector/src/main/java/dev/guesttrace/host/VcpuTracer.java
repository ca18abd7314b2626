package dev.guesttrace.host;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.TraceCollector;
import dev.guesttrace.span.SpanKind;
import java.util.Objects;

/**
 * One vCPU's side of a {@link GuestTracer}: the VMM tells it about every VM entry and exit of that
 * vCPU, on the thread that runs it, with the vCPU paused.
 *
 * <ul>
 *   <li>{@link #entering()} right before every entry (the first of a run and every resume);
 *   <li>{@link #onOut} at every OUT exit, whatever the port;
 *   <li>{@link #onHalt()}, {@link #onFault}, {@link #onTimeout()} or {@link #onStop()} when the
 *       vCPU's run ends.
 * </ul>
 *
 * <p>The tracer copies the guest's new records at each exit and times each exit from the moment the
 * VMM reports it to the next entry (the {@code info} VM-exit profile).
 */
public final class VcpuTracer {
  private final GuestTracer tracer;
  private final TraceCollector collector;
  private final GuestTscReader tscReader;
  private final int id;

  /**
   * A host read of the guest TSC whose host-clock window is wider than this is read again: a read
   * takes well under a microsecond, so a wider window was preempted.
   */
  static final long WIDE_READ_WINDOW_NANOS = 20_000;

  /** Reads of one calibration pair at most; the narrowest window is kept. */
  static final int MAX_PAIR_READS = 3;

  /** {@link System#nanoTime()} when the pending OUT exit was seen, or -1 if none is pending. */
  private long outSeenNanos = -1;

  private int outPort;

  VcpuTracer(GuestTracer tracer, int id) {
    this.tracer = tracer;
    this.collector = tracer.collector();
    this.tscReader = tracer.tscReader();
    this.id = id;
  }

  /** This vCPU's index. */
  public int vcpuId() {
    return id;
  }

  /**
   * The vCPU is about to enter the guest (boot, a call, or a resume after an OUT): ends the timing
   * of the OUT it resumes from and, with a {@link GuestTscReader}, pairs the guest TSC with host
   * time (the guest has not run since: exact within the read).
   */
  public void entering() {
    closeOut(false);
    if (tscReader != null) {
      hostPair(CalibrationPair.Source.HOST_AT_ENTRY);
    }
  }

  /**
   * An OUT exit: the guest wrote {@code value} to {@code port}. Takes the calibration pair the
   * guest passes in {@code rcx} on guesttrace's ports, copies the vCPU's new records, and on the
   * trace port carries the operation out (REGISTER, FLUSH).
   *
   * @param port the I/O port
   * @param value the value written (EAX)
   * @param rdi the guest's RDI (the region address on the trace port)
   * @param rsi the guest's RSI (the region length for REGISTER)
   * @param rcx the guest's RCX (its TSC, read just before the OUT, on guesttrace's ports)
   * @return what the VMM does next: resume (writing RAX first if asked) or handle its own port
   */
  public OutResult onOut(int port, int value, long rdi, long rsi, long rcx) {
    closeOut(false);
    outSeenNanos = System.nanoTime();
    outPort = port;
    if (tscReader != null) {
      hostPair(CalibrationPair.Source.HOST_AT_EXIT);
    }
    long seen = tracer.nanoTime();
    if (port != ExitPorts.TRACE) {
      collector.onOut(id, tracer.memory(), port, value, rdi, rsi, rcx, seen);
      return OutResult.notTracePort();
    }
    long start = tracer.nanoTime();
    int status = collector.onOut(id, tracer.memory(), port, value, rdi, rsi, rcx, seen);
    // The guest span that made the exit pays for it: a host span at this exit's record position.
    collector.hostSpanAtExit(
        id,
        SpanKind.HOST_EXIT,
        value == ExitPorts.TRACE_OP_REGISTER ? "trace register" : "trace flush",
        start,
        tracer.nanoTime());
    return status == TraceCollector.NOT_REGISTER
        ? OutResult.resume()
        : OutResult.resumeWithRax(status);
  }

  /** The vCPU executed HLT: its run is over. Copies what its ring holds. */
  public void onHalt() {
    long start = end(false);
    tracer.exits().hlt(System.nanoTime() - start);
  }

  /**
   * The vCPU faulted (touched memory outside its range, triple fault, ...): its run is over.
   * Recovers what its ring holds, flushed or not.
   *
   * @param reason one line, kept by the VMM for the outcome
   */
  public void onFault(String reason) {
    Objects.requireNonNull(reason, "reason");
    long start = end(true);
    tracer.exits().fault(System.nanoTime() - start);
  }

  /** The vCPU ran past the VMM's time limit and was stopped: recovers what its ring holds. */
  public void onTimeout() {
    long start = end(true);
    tracer.exits().timeout(System.nanoTime() - start);
  }

  /**
   * The VMM ended the vCPU's run at its last OUT (the guest aborted, or the VMM's handling failed):
   * recovers what the ring holds.
   *
   * @param hostError whether the VMM's own handling of that OUT failed (counted as an error in the
   *     exit profile)
   */
  public void onStop(boolean hostError) {
    closeOut(hostError);
    // An abort may come from a guest whose code failed inside a record (a message whose text
    // threw).
    collector.finalDrain(id, tracer.memory());
  }

  /**
   * A host function the VMM ran for this vCPU's current exit, timed on {@link
   * GuestTracer#nanoTime()}: it nests inside the guest span that called it.
   */
  public void recordHostCall(String function, long startNanos, long endNanos) {
    collector.hostSpanAtExit(id, SpanKind.HOST_CALL, function, startNanos, endNanos);
  }

  /**
   * A guest call the VMM made on this vCPU (entry to HLT), timed on {@link GuestTracer#nanoTime()}.
   */
  public void recordGuestCall(String function, long startNanos, long endNanos) {
    collector.hostSpan(new HostSpan(id, SpanKind.HOST_GUEST_CALL, function, startNanos, endNanos));
  }

  /** A whole run of this vCPU (boot and its calls), timed on {@link GuestTracer#nanoTime()}. */
  public void recordRun(String name, long startNanos, long endNanos) {
    collector.hostSpan(new HostSpan(id, SpanKind.HOST_RUN, name, startNanos, endNanos));
  }

  /**
   * The last copy of the run; {@code midRecord}: the guest may have been stopped inside a record (a
   * fault, a timeout), whose slots a wrapped flight ring must not keep.
   */
  private long end(boolean midRecord) {
    closeOut(false);
    long start = System.nanoTime();
    if (tscReader != null) {
      hostPair(CalibrationPair.Source.HOST_AT_EXIT);
    }
    if (midRecord) {
      collector.finalDrain(id, tracer.memory());
    } else {
      collector.drain(id, tracer.memory());
    }
    return start;
  }

  private void closeOut(boolean failed) {
    if (outSeenNanos >= 0) {
      tracer.exits().out(outPort, System.nanoTime() - outSeenNanos, failed);
      outSeenNanos = -1;
    }
  }

  private void hostPair(CalibrationPair.Source source) {
    // Host time on both sides of the read: the pair's time is their midpoint, exact to half the
    // read window. A window stretched by preemption (milliseconds on a loaded host) would put the
    // pair that far off, so a wide one is read again and the narrowest of the reads is kept.
    long bestBefore = 0;
    long bestAfter = 0;
    long bestTsc = 0;
    for (int read = 0; read < MAX_PAIR_READS; read++) {
      long before = tracer.nanoTime();
      long guestTsc = tscReader.readGuestTsc(id);
      long after = tracer.nanoTime();
      if (read == 0 || after - before < bestAfter - bestBefore) {
        bestBefore = before;
        bestAfter = after;
        bestTsc = guestTsc;
      }
      if (after - before <= WIDE_READ_WINDOW_NANOS) {
        break;
      }
    }
    collector.calibrationPair(
        new CalibrationPair(id, bestTsc, bestBefore + ((bestAfter - bestBefore) >> 1), source));
  }
}
