package dev.guesttrace.collect;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.span.SpanKind;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongSupplier;

/**
 * The host side of the guest trace rings: registers each vCPU's region, copies what the guest
 * published at every exit, recovers what is left at the end, and streams decoded records, names,
 * calibration pairs, host spans and diagnostics to a {@link TraceSink}.
 *
 * <p>Four parts, each small enough to hold in mind:
 *
 * <ul>
 *   <li>{@link RegionRegistrar}: judges a REGISTER once (inside guest memory, magic, ABI version,
 *       lengths, capacity, mode, vCPU id, name table) and answers the guest with a status;
 *   <li>{@link RingReader}, one per vCPU: the host's own cursor; at an exit it copies the new slots
 *       out of guest memory ({@link SlotCopy}) and reads new names, nothing more;
 *   <li>{@link RecordDecoder}: copied slots to records, every anomaly a counted {@link Diagnostic},
 *       every record that does not make it counted in {@link LossCounters}, a per-run quota;
 *   <li>{@link SinkSide}: the one door to the sink, which therefore sees one call at a time: a
 *       collector thread per run that takes each vCPU's bounded queue in turn, so that an exit
 *       costs a copy and the guest resumes at once (copy-and-resume).
 * </ul>
 *
 * <p>The guest is untrusted: after registration the host trusts only its copy of the region's place
 * and its own cursor; every read is bounds-checked.
 *
 * <p>Thread-safe: each vCPU's exits may come on its own thread, with no lock shared between vCPUs
 * on the exit path; a vCPU's exits must not overlap. Queries ({@link #recordCount}, {@link
 * #losses}) and {@link #finish} first wait for the collector thread to catch up. The public host
 * API ({@code dev.guesttrace.host}) is how a VMM drives it.
 */
public final class TraceCollector {
  /** Records kept per run unless {@link Builder#setMaxRecords} says otherwise (~230 MB). */
  public static final long DEFAULT_MAX_RECORDS = 8_000_000;

  /**
   * Calibration pairs kept per vCPU before thinning: beyond it every 2nd, then every 4th, ... pair
   * is kept, so a guest that exits a million times a second costs logarithmic memory, and the fit
   * still sees the whole run.
   */
  public static final int PAIRS_BEFORE_THINNING = 16_384;

  /** Records per batch handed to the sink unless {@link Builder#setBatchRecords} says otherwise. */
  public static final int DEFAULT_BATCH_RECORDS = 4096;

  /** What {@link #onOut} returns for an exit that is not a REGISTER. */
  public static final int NOT_REGISTER = -1;

  private final long maxRecords;
  private final int batchRecords;
  private final LongSupplier clock;
  private final SinkSide sinkSide;
  private final Reporter report;
  private RegionRegistrar registrar;
  private AtomicReferenceArray<RingReader> rings;
  private long[] pairsSeen;
  private boolean tracingOff;
  private volatile boolean started;
  private boolean finished;

  /** Counted by rings a re-registration retired: overwritten, overrun, guest-dropped. */
  private final long[] retired = new long[3];

  private TraceCollector(Builder b) {
    this.maxRecords = b.maxRecords;
    this.batchRecords = b.batchRecords;
    this.clock = b.clock;
    this.sinkSide =
        new SinkSide(
            b.sink,
            b.collectorThread,
            b.dropWhenBehind,
            b.queueSlots,
            b.copyAreas,
            b.threadFactory);
    this.report = new Reporter(sinkSide::diagnostic, sinkSide::defer);
  }

  /** A builder for a collector that streams into {@code sink}. */
  public static Builder builder(TraceSink sink) {
    return new Builder(sink);
  }

  /**
   * Starts the trace: passes the header to the sink. Call once, before any exit. A header whose
   * mode is {@code off} makes every REGISTER a counted refusal.
   *
   * @throws IllegalStateException if already started
   */
  public synchronized void start(TraceHeader header) {
    Objects.requireNonNull(header, "header");
    if (started) {
      throw new IllegalStateException("collector already started");
    }
    int vcpus = header.vcpuCount();
    registrar = new RegionRegistrar(vcpus, report);
    rings = new AtomicReferenceArray<>(vcpus);
    pairsSeen = new long[vcpus];
    tracingOff = header.mode().equals("off");
    sinkSide.start(
        header,
        new RecordDecoder(vcpus, maxRecords, batchRecords, report, sinkSide::records),
        report);
    started = true;
  }

  /**
   * An OUT exit of {@code vcpu}, with the host time taken now from the collector's clock. See
   * {@link #onOut(int, MemorySegment, int, int, long, long, long, long)}.
   */
  public int onOut(
      int vcpu, MemorySegment memory, int port, int value, long rdi, long rsi, long rcx) {
    return onOut(vcpu, memory, port, value, rdi, rsi, rcx, clock.getAsLong());
  }

  /**
   * An OUT exit of {@code vcpu}, the vCPU paused: on every guesttrace port a calibration pair from
   * the guest TSC in {@code rcx}; on {@link ExitPorts#TRACE} the operation ({@link
   * ExitPorts#TRACE_OP_REGISTER} registers the region at {@code rdi}, {@code rsi} bytes; {@link
   * ExitPorts#TRACE_OP_FLUSH} copies the ring); on every other port a copy of the ring too, so
   * records reach the host without extra exits and without duplicates.
   *
   * @param hostNanos {@link System#nanoTime()} when the exit was seen
   * @return for a REGISTER the status the guest must find in RAX ({@code ExitPorts.REGISTER_*}),
   *     else {@link #NOT_REGISTER}
   */
  public int onOut(
      int vcpu,
      MemorySegment memory,
      int port,
      int value,
      long rdi,
      long rsi,
      long rcx,
      long hostNanos) {
    requireStarted();
    if (isGuesttracePort(port)) {
      calibrationPair(new CalibrationPair(vcpu, rcx, hostNanos));
    }
    if (port != ExitPorts.TRACE) {
      drain(vcpu, memory);
      return NOT_REGISTER;
    }
    switch (value) {
      case ExitPorts.TRACE_OP_REGISTER -> {
        int status = register(vcpu, memory, rdi, rsi);
        RingReader ring = ring(vcpu);
        if (status == ExitPorts.REGISTER_ACCEPTED && ring != null) {
          // A live guest: its ring takes the copy area the collector thread made for the vCPU
          // when the run started. (A dump registers without an exit and reads each ring once.)
          ring.wantArea(sinkSide, true);
        }
        return status;
      }
      case ExitPorts.TRACE_OP_FLUSH -> {
        RingReader ring = ring(vcpu);
        if (ring == null) {
          report.report(
              Diagnostics.UNREGISTERED_FLUSH,
              vcpu,
              "flush from vCPU "
                  + vcpu
                  + " without a registered region: regionAddress="
                  + Reporter.hex(rdi));
        } else {
          if (rdi != ring.address) {
            report.report(
                Diagnostics.UNREGISTERED_FLUSH,
                vcpu,
                "flush names another region: regionAddress="
                    + Reporter.hex(rdi)
                    + " registered="
                    + Reporter.hex(ring.address));
          }
          ring.copy(memory, report, sinkSide);
        }
      }
      default -> {
        report.report(
            Diagnostics.UNKNOWN_TRACE_OP, vcpu, "unknown trace port operation: op=" + value);
        drain(vcpu, memory);
      }
    }
    return NOT_REGISTER;
  }

  /**
   * Records a calibration pair and passes it to the sink (thinned beyond {@link
   * #PAIRS_BEFORE_THINNING} per vCPU and source). Pairs of a vCPU outside the VM are ignored.
   */
  public void calibrationPair(CalibrationPair pair) {
    requireStarted();
    int vcpu = pair.vcpu();
    if (vcpu < 0 || vcpu >= pairsSeen.length) {
      return;
    }
    long seen = pairsSeen[vcpu]++;
    if (seen >= PAIRS_BEFORE_THINNING) {
      long stride = Long.highestOneBit(seen / PAIRS_BEFORE_THINNING) * 2;
      if ((seen & (stride - 1)) != 0) {
        return;
      }
    }
    sinkSide.pair(pair);
  }

  /** A guest-supplied pair ({@link CalibrationPair.Source#GUEST_EXIT}). */
  public void calibrationPair(int vcpu, long guestTscTicks, long hostNanos) {
    calibrationPair(new CalibrationPair(vcpu, guestTscTicks, hostNanos));
  }

  /**
   * Copies every record the vCPU's guest published since the last drain, up to the header's write
   * sequence. A no-op for a vCPU without a valid region. At the end of a run (halt, abort, fault,
   * timeout) the same call recovers what the guest wrote but never flushed; in flight mode it reads
   * the last {@code capacity} records and counts the overwritten ones.
   */
  public void drain(int vcpu, MemorySegment memory) {
    requireStarted();
    RingReader ring = ring(vcpu);
    if (ring != null) {
      ring.copy(memory, report, sinkSide);
    }
  }

  /**
   * The last drain of a vCPU whose guest may have stopped in the middle of writing a record (a
   * fault, a timeout, an abort, an abandoned vCPU, a memory dump): as {@link #drain}, except that
   * in a wrapped flight ring the oldest slots that unfinished, unpublished record had already
   * written over are dropped and counted as overwritten (diagnostic {@code flight_record_torn}). A
   * guest stopped between records loses nothing. After a halt, use {@link #drain}.
   */
  public void finalDrain(int vcpu, MemorySegment memory) {
    requireStarted();
    RingReader ring = ring(vcpu);
    if (ring != null) {
      ring.copy(memory, report, sinkSide, true);
    }
  }

  /** Passes a span the host measured to the sink. */
  public void hostSpan(HostSpan span) {
    requireStarted();
    sinkSide.hostSpan(Objects.requireNonNull(span, "span"));
  }

  /**
   * A span of host work done during {@code vcpu}'s current exit (a host call, a trace exit): its
   * record position is the count of the vCPU's records kept up to this exit, so that the tree nests
   * it exactly inside the guest span that made the exit ({@link HostSpan#recordPosition}).
   */
  public void hostSpanAtExit(
      int vcpu, SpanKind kind, String name, long startHostNanos, long endHostNanos) {
    requireStarted();
    sinkSide.hostSpanAtExit(vcpu, kind, name, startHostNanos, endHostNanos);
  }

  /**
   * Ends the trace: a final drain of every registered vCPU, then the end with the outcome, the
   * losses, the diagnostics and the exit profile. Call once, when no vCPU runs any more.
   *
   * @param memory guest memory (still mapped)
   * @param outcome one line, e.g. {@code halted}
   * @param failed whether the run failed (abort, fault, timeout)
   * @param exitProfile VM exits by reason and port
   */
  public synchronized void finish(
      MemorySegment memory, String outcome, boolean failed, List<ExitProfileRow> exitProfile) {
    requireStarted();
    if (finished) {
      throw new IllegalStateException("collector already finished");
    }
    for (int v = 0; v < rings.length(); v++) {
      drain(v, memory);
    }
    finished = true;
    sinkSide.finish(
        () ->
            new TraceEnd(
                outcome,
                failed,
                clock.getAsLong(),
                losses(),
                report.diagnostics.snapshot(),
                exitProfile));
  }

  /** Losses so far, by cause. */
  public LossCounters losses() {
    requireStarted();
    long overwritten;
    long overrun;
    long guestDropped;
    synchronized (retired) {
      overwritten = retired[0];
      overrun = retired[1];
      guestDropped = retired[2];
    }
    for (int v = 0; v < rings.length(); v++) {
      RingReader ring = rings.get(v);
      if (ring != null) {
        overwritten = Reporter.saturatedAdd(overwritten, ring.overwritten());
        overrun = Reporter.saturatedAdd(overrun, ring.overrun());
        guestDropped = Reporter.saturatedAdd(guestDropped, ring.guestDropped());
      }
    }
    return sinkSide.losses(new LossCounters(overwritten, overrun, 0, 0, guestDropped));
  }

  /** Diagnostics so far, in order of first occurrence. */
  public List<Diagnostic> diagnostics() {
    sinkSide.catchUp();
    return report.diagnostics.snapshot();
  }

  /**
   * Records of {@code vcpu} kept so far: the index its next record will have in {@link
   * TraceData#records}. Read at an exit, after the drain, it places host work among the guest's
   * records ({@link HostSpan#recordPosition}).
   */
  public long recordCount(int vcpu) {
    requireStarted();
    return sinkSide.kept(vcpu);
  }

  /** Records kept so far, all vCPUs. */
  public long recordCount() {
    requireStarted();
    return sinkSide.kept();
  }

  /**
   * Why the first refused registration was refused, in one line (e.g. {@code trace ABI not
   * compatible: host=1.0.0 guest=2.0.0}); empty if none was refused. A run should report it.
   */
  public Optional<String> refusal() {
    return registrar == null ? Optional.empty() : Optional.ofNullable(registrar.refusal());
  }

  /** Whether {@code port} is one of the ports whose OUT carries the guest TSC in RCX. */
  public static boolean isGuesttracePort(int port) {
    return port == ExitPorts.TRACE
        || port == ExitPorts.HOST_CALL
        || port == ExitPorts.LOG
        || port == ExitPorts.ABORT;
  }

  // ---------------------------------------------------------------------------------------------

  private RingReader ring(int vcpu) {
    return vcpu >= 0 && vcpu < rings.length() ? rings.get(vcpu) : null;
  }

  /** Whether the copy area made for {@code vcpu} at the start waits for a ring: for tests. */
  boolean copyAreaReady(int vcpu) {
    return sinkSide.areaReady(vcpu);
  }

  /** The copy area of {@code vcpu}'s registered ring, or null: for tests. */
  CopyArea copyArea(int vcpu) {
    RingReader ring = ring(vcpu);
    return ring == null ? null : ring.area();
  }

  /**
   * A REGISTER of the region at {@code address} ({@code length} bytes) by {@code vcpu}, without an
   * exit around it (no calibration pair): what {@link #onOut} does for {@link
   * ExitPorts#TRACE_OP_REGISTER}, for callers that find regions themselves (a memory dump).
   *
   * @return the REGISTER status ({@code ExitPorts.REGISTER_*})
   */
  public int register(int vcpu, MemorySegment memory, long address, long length) {
    requireStarted();
    if (tracingOff) {
      return registrar.refuseTracingOff(vcpu, address).status();
    }
    RingReader previous = ring(vcpu);
    if (previous != null) {
      // A guest that registers again (a reboot, a new ring) keeps what the old ring held. A ring
      // elsewhere stays registered until the new one is accepted: a refused registration must not
      // make the host stop reading the ring the guest may still be writing (records lost
      // silently). The same region registered again is judged by its new header alone.
      previous.copy(memory, report, sinkSide);
      if (previous.address == address) {
        retire(vcpu, previous);
        previous = null;
      }
    }
    RegionRegistrar.Result result = registrar.register(vcpu, memory, address, length);
    RingReader ring = result.ring();
    if (ring == null) {
      return result.status();
    }
    if (previous != null) {
      retire(vcpu, previous);
    }
    rings.set(vcpu, ring);
    sinkSide.newRing(vcpu);
    NameTableReader table = ring.table;
    if (table != null) {
      int[] self = {vcpu};
      synchronized (table) {
        for (int id = 1; id <= table.knownCount(); id++) {
          sinkSide.name(vcpu, self, id, table.name(id));
        }
        table.vcpus.add(vcpu);
      }
    }
    // Names published so far; records (even those written before this exit) at the next copy.
    ring.copyNames(memory, report, sinkSide);
    return result.status();
  }

  private void retire(int vcpu, RingReader ring) {
    rings.compareAndSet(vcpu, ring, null);
    ring.retire();
    if (ring.table != null) {
      synchronized (ring.table) {
        ring.table.vcpus.remove(Integer.valueOf(vcpu));
      }
    }
    synchronized (retired) {
      retired[0] = Reporter.saturatedAdd(retired[0], ring.overwritten());
      retired[1] = Reporter.saturatedAdd(retired[1], ring.overrun());
      retired[2] = Reporter.saturatedAdd(retired[2], ring.guestDropped());
    }
  }

  private void requireStarted() {
    if (!started) {
      throw new IllegalStateException("collector not started: call start(header) first");
    }
  }

  /** Configures a {@link TraceCollector}. */
  public static final class Builder {
    private final TraceSink sink;
    private long maxRecords = DEFAULT_MAX_RECORDS;
    private int batchRecords = DEFAULT_BATCH_RECORDS;
    private LongSupplier clock = System::nanoTime;
    private boolean collectorThread = true;
    private boolean dropWhenBehind;
    private int queueSlots = SinkSide.QUEUE_SLOTS;
    private boolean copyAreas = true;
    private ThreadFactory threadFactory;

    private Builder(TraceSink sink) {
      this.sink = Objects.requireNonNull(sink, "sink");
    }

    /**
     * Most records kept per run, counted in ring slots (a message counts the slots its text took);
     * the rest are counted as {@code quotaDropped}.
     */
    public Builder setMaxRecords(long maxRecords) {
      if (maxRecords < 0) {
        throw new IllegalArgumentException("maxRecords must be >= 0: maxRecords=" + maxRecords);
      }
      this.maxRecords = maxRecords;
      return this;
    }

    /** Records per batch handed to the sink. */
    public Builder setBatchRecords(int batchRecords) {
      if (batchRecords < 1) {
        throw new IllegalArgumentException(
            "batchRecords must be >= 1: batchRecords=" + batchRecords);
      }
      this.batchRecords = batchRecords;
      return this;
    }

    /**
     * The host monotonic clock, {@link System#nanoTime()} by default; tests pass a deterministic
     * one.
     */
    public Builder setClock(LongSupplier clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Whether decoding and the sink run on a collector thread of the run (true, the default: an
     * exit only copies) or on the exit's own thread (false: simpler to measure, slower exits).
     */
    public Builder setCollectorThread(boolean collectorThread) {
      this.collectorThread = collectorThread;
      return this;
    }

    /**
     * Lossy mode (false by default): when a vCPU's queue to the collector thread is full, drop its
     * oldest copied slots (counted as {@code quotaDropped}, diagnostic {@code collector_behind})
     * instead of making the guest wait.
     */
    public Builder setDropWhenBehind(boolean dropWhenBehind) {
      this.dropWhenBehind = dropWhenBehind;
      return this;
    }

    /**
     * Whether exits copy into a copy area per ring (true, the default): 2 MiB per vCPU, allocated
     * and touched by the collector thread when the trace starts, so that no exit pays for fresh
     * memory. A reader of a memory dump, which reads each ring once, turns it off.
     */
    public Builder setCopyAreas(boolean copyAreas) {
      this.copyAreas = copyAreas;
      return this;
    }

    /** Copied slots a vCPU's queue holds before back-pressure (tests make it small). */
    Builder setQueueSlots(int queueSlots) {
      if (queueSlots < 1) {
        throw new IllegalArgumentException("queueSlots must be >= 1: queueSlots=" + queueSlots);
      }
      this.queueSlots = queueSlots;
      return this;
    }

    /**
     * Makes the collector thread (tests: one that dies or never starts); by default a daemon
     * platform thread.
     */
    Builder setCollectorThreadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    /** Builds the collector. */
    public TraceCollector build() {
      return new TraceCollector(this);
    }
  }
}
