package dev.guesttrace.collect;

import dev.guesttrace.span.SpanKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Everything that reaches the {@link TraceSink} goes through here, one call at a time: names,
 * copied slots (decoded here by the {@link RecordDecoder}), calibration pairs, host spans,
 * diagnostics, the end.
 *
 * <p>With a collector thread (the default) a vCPU's exit only puts what it copied on that vCPU's
 * own bounded queue and resumes the guest: no lock shared between vCPUs on the exit path. The
 * collector thread takes the queues in turn and does the decoding and the sink calls. Each vCPU's
 * events keep their order, so host work done during an exit takes its record position after the
 * slots copied at that exit were decoded: the position is exact. Back-pressure: a vCPU whose queue
 * is full ({@link #QUEUE_EVENTS} events or {@link #QUEUE_SLOTS} copied slots, 32 MiB) waits
 * (nothing lost), or, in lossy mode, the oldest copies on its queue are dropped and counted. The
 * copies live in their ring's {@link CopyArea} (2 MiB, allocated on the collector thread when it
 * starts) while it has room, else in arrays of their own; the bound counts them wherever they are,
 * and a copy decoded or dropped here frees its place in the area.
 *
 * <p>Host spans are bounded: consecutive trace flushes of a vCPU with no record between them (so
 * inside one guest span) become one span whose duration is their sum; past {@link #MAX_HOST_SPANS}
 * per run, further spans (but the runs) are dropped. Both are counted diagnostics.
 */
final class SinkSide implements RingReader.Output {
  /** Events a vCPU's queue holds before its exits wait. */
  static final int QUEUE_EVENTS = 8192;

  /**
   * Copied slots (32 bytes each: 32 MiB) a vCPU's queue holds before its exits wait, unless the
   * collector's builder says otherwise.
   */
  static final int QUEUE_SLOTS = 1 << 20;

  /**
   * Events queued on a lane before its vCPU wakes a sleeping collector thread. Below it the
   * collector finds them at its next round ({@link #POLL_NANOS}): most exits then wake nobody,
   * which on a virtualized host saves tens of µs of CPU each (an IPI and the idle core's HLT exit).
   */
  static final int WAKE_EVENTS = QUEUE_EVENTS / 4;

  /** How long an idle collector thread sleeps before it looks at the queues again. */
  static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  /** Host spans kept per run, runs aside. */
  static final int MAX_HOST_SPANS = 262_144;

  private static final String TRACE_FLUSH = "trace flush";

  private final TraceSink sink;
  private final boolean threaded;
  private final boolean lossy;
  private RecordDecoder decoder;
  private Reporter report;
  private Lane[] lanes;
  private final Queue<Object> shared = new ConcurrentLinkedQueue<>();
  private final Counts sharedCounts = new Counts();
  private Thread thread;
  private volatile boolean parked;
  private volatile boolean stopping;

  /** The collector thread has stopped (at the end): whatever comes now is applied at once. */
  private volatile boolean inline;

  private volatile Throwable failure;

  /** Makes the collector thread; null: a daemon platform thread (tests pass one that fails). */
  private final ThreadFactory threadFactory;

  /**
   * Copied slots never decoded because the collector failed (its thread died, or a sink or decoder
   * threw): counted as {@code quotaDropped} and named in {@link #finish}'s error. Under this lock.
   */
  private long notDecodedSlots;

  /** Collector thread only. */
  private MergedFlush[] pendingFlush;

  /** Events taken from a lane in one round; collector thread only. */
  private final ArrayList<Object> taken = new ArrayList<>(256);

  private long hostSpans;

  private final int queueSlots;

  /** Whether rings get copy areas ({@link CopyArea}). */
  private final boolean copyAreas;

  /**
   * One copy area per vCPU, made by the collector thread as soon as it starts (before the guest
   * runs, so that no exit pays for touching it), each taken by the first ring its vCPU registers;
   * null without a collector thread or copy areas.
   */
  private AtomicReferenceArray<CopyArea> readyAreas;

  SinkSide(
      TraceSink sink,
      boolean threaded,
      boolean lossy,
      int queueSlots,
      boolean copyAreas,
      ThreadFactory threadFactory) {
    this.sink = sink;
    this.threadFactory = threadFactory;
    this.threaded = threaded;
    this.lossy = lossy;
    this.queueSlots = queueSlots;
    this.copyAreas = copyAreas;
  }

  void start(TraceHeader header, RecordDecoder decoder, Reporter report) {
    int vcpus = header.vcpuCount();
    this.decoder = decoder;
    this.report = report;
    this.lanes = new Lane[vcpus];
    for (int v = 0; v < vcpus; v++) {
      lanes[v] = lossy ? new LockedLane() : new SpscLane();
    }
    this.pendingFlush = new MergedFlush[vcpus];
    sink.onHeader(header);
    if (threaded && copyAreas) {
      readyAreas = new AtomicReferenceArray<>(vcpus);
    }
    if (threaded) {
      Runnable body = this::loop;
      Thread t =
          threadFactory == null
              ? Thread.ofPlatform().daemon().name("guesttrace-collector").unstarted(body)
              : threadFactory.newThread(body);
      // Whatever ends the thread early (an Error outside the loop's guard) is the run's failure,
      // reported by finish in one line, not a stack trace on stderr.
      t.setUncaughtExceptionHandler((dead, e) -> failed(e));
      thread = t;
      try {
        t.start();
      } catch (Throwable e) { // OutOfMemoryError: unable to create native thread
        failed(e);
      }
    }
  }

  private void failed(Throwable e) {
    if (failure == null) {
      failure = e;
    }
  }

  /**
   * Whether the collector thread is gone for good before {@link #finish} (it died or never
   * started): nothing will make room in a lane any more, so a waiting exit must stop waiting.
   */
  private boolean collectorGone() {
    if (thread.isAlive() || inline || stopping) {
      return false;
    }
    failed(new IllegalStateException("the collector thread ended before the trace did"));
    return true;
  }

  // ---- producers: exit paths (one thread per vCPU) ----

  @Override
  public void newRing(int vcpu) {
    submit(vcpu, new NewRing(vcpu));
  }

  @Override
  public void areaWanted(RingReader ring, boolean atRegister) {
    if (!copyAreas) {
      return;
    }
    if (atRegister && readyAreas != null) {
      CopyArea ready = readyAreas.getAndSet(ring.vcpu, null);
      if (ready != null) {
        ring.useArea(ready); // made when the run started: nothing to touch now
        return;
      }
    }
    // Not woken for it: woken from an exit, the collector would often run on this vCPU's core
    // and make the exit wait while it touches the area; its next round is soon enough.
    submit(ring.vcpu, new AreaWanted(ring));
  }

  @Override
  public void name(int fromVcpu, int[] vcpus, int nameId, String name) {
    submit(fromVcpu, new Name(vcpus, nameId, name));
  }

  @Override
  public void slots(SlotCopy copy) {
    submit(copy.vcpu(), copy);
  }

  void pair(CalibrationPair pair) {
    submit(pair.vcpu(), pair);
  }

  void hostSpan(HostSpan span) {
    submit(span.vcpu(), span);
  }

  /** A span of host work done during the vCPU's current exit, placed after its kept records. */
  void hostSpanAtExit(
      int vcpu, SpanKind kind, String name, long startHostNanos, long endHostNanos) {
    submit(vcpu, new AtExit(vcpu, kind, name, startHostNanos, endHostNanos));
  }

  /** The first occurrence of a diagnostic kind (counted on the sink side): to the sink. */
  void diagnostic(Diagnostic first) {
    sink.onDiagnostic(first);
  }

  /**
   * A diagnostic reported on an exit path: counted on the sink side in the vCPU's order. Returns
   * false (count it now) on the sink side itself or without a collector thread.
   */
  boolean defer(String kind, int vcpu, String detail) {
    if (threaded && Thread.currentThread() == thread) {
      return false; // the sink side itself, which holds the lock
    }
    if (!threaded || inline) {
      synchronized (this) {
        report.count(kind, vcpu, detail);
      }
      return true;
    }
    submit(vcpu, new Report(kind, vcpu, detail));
    return true;
  }

  /** Whether the collector thread has made {@code vcpu}'s copy area and no ring took it yet. */
  boolean areaReady(int vcpu) {
    return readyAreas != null && readyAreas.get(vcpu) != null;
  }

  /** Waits until everything submitted so far is counted: for snapshots of the diagnostics. */
  void catchUp() {
    sync();
  }

  // ---- queries and the end (callers outside the exit path) ----

  /** Records of {@code vcpu} kept so far, once everything submitted before is applied. */
  long kept(int vcpu) {
    sync();
    return decoder.kept(vcpu);
  }

  /** Records kept so far, all vCPUs. */
  long kept() {
    sync();
    return decoder.kept();
  }

  /** Losses counted while decoding, with {@code copied} (counted while copying) added. */
  LossCounters losses(LossCounters copied) {
    sync();
    return copied.plus(
        new LossCounters(
            decoder.overwritten(),
            decoder.overrun(),
            decoder.undecodable(),
            decoder.quotaDropped(),
            0));
  }

  /**
   * Applies everything submitted, stops the collector thread, then hands {@code end} (built once
   * everything is counted) to the sink.
   */
  void finish(java.util.function.Supplier<TraceEnd> end) {
    sync();
    if (thread != null) {
      stopping = true;
      LockSupport.unpark(thread);
      joinUninterruptibly(thread);
      inline = true;
    }
    long lost;
    synchronized (this) {
      applyAll(); // nothing is left unless the thread died; applied (or counted) here, in order
      lost = notDecodedSlots;
      Throwable f = failure;
      try {
        for (int v = 0; v < pendingFlush.length; v++) {
          emitPendingFlush(v);
        }
        if (f != null) {
          report.report(
              Diagnostics.COLLECTOR_FAILED,
              -1,
              "the trace collector failed, copied slots not decoded (counted as quotaDropped): slots="
                  + lost
                  + " cause="
                  + oneLine(f));
        }
        sink.onFinish(end.get());
      } catch (RuntimeException | Error e) {
        if (f == null) {
          throw e;
        }
        f.addSuppressed(e); // the sink that failed before fails again: the first failure counts
      }
    }
    Throwable f = failure;
    if (f != null) {
      throw new IllegalStateException(
          "trace collector failed: "
              + oneLine(f)
              + "; "
              + lost
              + " copied records not decoded (counted as lost)",
          f);
    }
  }

  private static String oneLine(Throwable e) {
    String s = String.valueOf(e);
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  // ---- the queues ----

  private void submit(int vcpu, Object event) {
    if (!threaded || inline || Thread.currentThread() == thread) {
      synchronized (this) {
        apply(event);
      }
      return;
    }
    if (vcpu < 0 || vcpu >= lanes.length) {
      sharedCounts.submitted();
      shared.add(event); // rare (diagnostics, out-of-range vCPUs), small, bounded by their causes
      wake();
      return;
    }
    Lane lane = lanes[vcpu];
    Object orphan = lane.put(event);
    if (orphan != null) {
      // The collector thread is gone and the lane full: nobody will take the event. Counted now
      // (its slots as not decoded); finish reports the failure.
      synchronized (this) {
        applyCounted(orphan);
      }
      return;
    }
    if (parked && lane.worthWaking(event)) {
      LockSupport.unpark(thread);
    }
  }

  /** Wakes the collector thread if it sleeps. */
  private void wake() {
    if (parked) {
      LockSupport.unpark(thread);
    }
  }

  /** Waits until every event submitted so far is applied (or the collector thread died). */
  private void sync() {
    if (!threaded || Thread.currentThread() == thread) {
      return;
    }
    long[] targets = new long[lanes.length];
    for (int v = 0; v < lanes.length; v++) {
      targets[v] = lanes[v].submittedSoFar();
    }
    long sharedTarget = sharedCounts.submittedSoFar();
    while (!caughtUp(targets, sharedTarget) && thread.isAlive()) {
      LockSupport.unpark(thread);
      LockSupport.parkNanos(50_000);
    }
  }

  private boolean caughtUp(long[] targets, long sharedTarget) {
    for (int v = 0; v < lanes.length; v++) {
      if (!lanes[v].doneUpTo(targets[v])) {
        return false;
      }
    }
    return sharedCounts.doneUpTo(sharedTarget);
  }

  private void loop() {
    for (int v = 0; readyAreas != null && v < readyAreas.length(); v++) {
      // The largest area: the ring's capacity is not known before it registers.
      readyAreas.set(v, CopyArea.createOrNull(CopyArea.MAX_SLOTS / CopyArea.RINGS));
    }
    while (true) {
      boolean any;
      try {
        synchronized (this) {
          any = applyAll();
        }
      } catch (Throwable e) {
        // A sink or decoder bug: keep taking events (counted as applied) so that no vCPU waits
        // forever on a full queue; finish reports it.
        failed(e);
        any = true;
      }
      if (!any) {
        if (stopping) {
          return;
        }
        parked = true;
        if (!anyQueued()) {
          LockSupport.parkNanos(this, POLL_NANOS);
        }
        parked = false;
      }
    }
  }

  private boolean anyQueued() {
    if (!shared.isEmpty()) {
      return true;
    }
    for (Lane lane : lanes) {
      if (!lane.isEmpty()) {
        return true;
      }
    }
    return false;
  }

  /** Applies every queued event, lane by lane; returns whether there was any. */
  private boolean applyAll() {
    boolean any = false;
    Object e;
    int n = 0;
    try {
      while ((e = shared.poll()) != null) {
        any = true;
        n++; // counted even if applying it fails: it is taken
        applyCounted(e);
      }
    } finally {
      sharedCounts.applied(n);
    }
    for (Lane lane : lanes) {
      // A bounded helping per lane, so that a busy vCPU does not starve the others; one lock
      // round trip for the lot, so that the vCPU, which keeps queueing, rarely meets the
      // collector on the queue's lock.
      lane.drainTo(taken, 256);
      if (taken.isEmpty()) {
        continue;
      }
      any = true;
      int permits = 0;
      for (Object t : taken) {
        SlotCopy copy = copyIn(t);
        if (copy != null) {
          permits += lane.permits(copy);
        }
        applyCounted(t);
      }
      // Once per round: the vCPU reads it, the collector writes.
      lane.applied(taken.size(), permits);
      taken.clear();
    }
    return any;
  }

  /**
   * Applies one taken event; a failure (a sink or decoder bug) is kept for {@link #finish} and the
   * events after it are only counted, so that no vCPU waits forever on a full queue.
   */
  private void applyCounted(Object event) {
    if (failure != null) {
      notDecoded(event);
      releaseArea(event); // taken all the same: its place in the copy area is free
      return;
    }
    try {
      apply(event);
    } catch (Throwable e) {
      failed(e);
      // The copy whose decoding failed: its records may not all have reached the sink.
      notDecoded(event);
    }
  }

  /** Counts the slots {@code event} carries as lost: the collector failed before decoding them. */
  private void notDecoded(Object event) {
    long slots =
        switch (event) {
          case SlotCopy copy -> copy.count();
          case Dropped d -> d.slots(); // lossy drops not counted yet: counted here, as lost
          case AfterDrop a -> {
            notDecoded(a.event());
            yield a.dropped().slots();
          }
          default -> 0;
        };
    if (slots > 0) {
      notDecodedSlots = Reporter.saturatedAdd(notDecodedSlots, slots);
      decoder.dropped(slots);
    }
  }

  private static void releaseArea(Object event) {
    if (event instanceof SlotCopy copy) {
      copy.release();
    } else if (event instanceof Dropped d) {
      d.release();
    } else if (event instanceof AfterDrop a) {
      a.dropped().release();
      releaseArea(a.event());
    }
  }

  /** The copy {@code event} carries (itself, or after a drop), else null. */
  private static SlotCopy copyIn(Object event) {
    if (event instanceof SlotCopy copy) {
      return copy;
    }
    return event instanceof AfterDrop a && a.event() instanceof SlotCopy copy ? copy : null;
  }

  private void apply(Object event) {
    // The events of every exit first, by a plain class test each (the pattern switch below tests
    // through a bootstrap method: most of this method's time in a profile of small guest calls).
    Class<?> type = event.getClass();
    if (type == SlotCopy.class) {
      decode((SlotCopy) event);
      return;
    }
    if (type == CalibrationPair.class) {
      sink.onCalibration((CalibrationPair) event);
      return;
    }
    if (type == AtExit.class) {
      atExit((AtExit) event);
      return;
    }
    if (type == HostSpan.class) {
      keepHostSpan((HostSpan) event);
      return;
    }
    // The rest, rarer. (The four above are records, so the class tests took every one of them.)
    switch (event) {
      case Name n -> {
        for (int v : n.vcpus()) {
          sink.onName(v, n.nameId(), n.name());
        }
      }
      case NewRing r -> decoder.newRing(r.vcpu());
      case AreaWanted a -> a.ring().allocateArea(); // here, not on an exit
      case Report r -> report.count(r.kind(), r.vcpu(), r.detail());
      case Dropped d -> dropped(d);
      case AfterDrop a -> {
        dropped(a.dropped()); // the dropped copies were older than the event
        apply(a.event());
      }
      default -> throw new IllegalStateException("unknown event: " + event);
    }
  }

  private void decode(SlotCopy copy) {
    try {
      emitPendingFlush(copy.vcpu());
      decoder.decode(copy);
    } finally {
      copy.release(); // decoded: its place in the copy area may be written again
    }
  }

  private void dropped(Dropped d) {
    d.release();
    decoder.dropped(d.slots());
    if (!report.countIfSeen(Diagnostics.COLLECTOR_BEHIND)) {
      report.report(
          Diagnostics.COLLECTOR_BEHIND,
          d.vcpu(),
          "the collector fell behind: oldest copied slots dropped (lossy mode): slots="
              + d.slots());
    }
  }

  /** The decoder's output. */
  void records(RecordBatch batch) {
    sink.onRecords(batch);
  }

  private void atExit(AtExit s) {
    long position = decoder.kept(s.vcpu());
    MergedFlush pending = pendingFlush[s.vcpu()];
    if (s.name().equals(TRACE_FLUSH) && s.kind() == SpanKind.HOST_EXIT) {
      if (pending != null && pending.position == position) {
        // Another flush with no record since the last one: the same guest span paid for both.
        pending.durationNanos += s.endHostNanos() - s.startHostNanos();
        if (!report.countIfSeen(Diagnostics.TRACE_EXITS_MERGED)) {
          report.report(
              Diagnostics.TRACE_EXITS_MERGED,
              s.vcpu(),
              "consecutive trace flushes with no record between them merged into one host span"
                  + " (its duration their sum): vcpu="
                  + s.vcpu()
                  + " recordPosition="
                  + position);
        }
        return;
      }
      emitPendingFlush(s.vcpu());
      pendingFlush[s.vcpu()] =
          new MergedFlush(
              s.vcpu(), s.startHostNanos(), s.endHostNanos() - s.startHostNanos(), position);
      return;
    }
    emitPendingFlush(s.vcpu());
    keepHostSpan(
        new HostSpan(s.vcpu(), s.kind(), s.name(), s.startHostNanos(), s.endHostNanos(), position));
  }

  private void emitPendingFlush(int vcpu) {
    if (vcpu < 0 || vcpu >= pendingFlush.length) {
      return;
    }
    MergedFlush p = pendingFlush[vcpu];
    if (p != null) {
      pendingFlush[vcpu] = null;
      keepHostSpan(
          new HostSpan(
              p.vcpu,
              SpanKind.HOST_EXIT,
              TRACE_FLUSH,
              p.startHostNanos,
              p.startHostNanos + p.durationNanos,
              p.position));
    }
  }

  private void keepHostSpan(HostSpan span) {
    if (span.kind() != SpanKind.HOST_RUN) {
      if (hostSpans >= MAX_HOST_SPANS) {
        if (!report.countIfSeen(Diagnostics.HOST_SPANS_CAPPED)) {
          report.report(
              Diagnostics.HOST_SPANS_CAPPED,
              span.vcpu(),
              "host spans beyond the run's limit dropped: maxHostSpans=" + MAX_HOST_SPANS);
        }
        return;
      }
      hostSpans++;
    }
    sink.onHostSpan(span);
  }

  private static void joinUninterruptibly(Thread t) {
    boolean interrupted = false;
    while (true) {
      try {
        t.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * A queue's event counts, each on its own cache line: submitted (by the vCPU's exits), applied
   * (by the collector thread, once per round), dropped (lossy mode, by the exits). Per lane, so
   * that vCPUs share no counter on the exit path.
   */
  private static final class Counts {
    private static final int SUBMITTED = 0;
    private static final int APPLIED = 8; // 64 bytes apart
    private static final int DROPPED = 16;
    private final AtomicLongArray counts = new AtomicLongArray(24);

    void submitted() {
      counts.getAndIncrement(SUBMITTED);
    }

    long submittedSoFar() {
      return counts.get(SUBMITTED);
    }

    void applied(int n) {
      if (n > 0) {
        counts.setRelease(APPLIED, counts.getPlain(APPLIED) + n); // one writer: the collector
      }
    }

    void dropped() {
      counts.getAndIncrement(DROPPED);
    }

    boolean doneUpTo(long target) {
      return counts.getAcquire(APPLIED) + counts.get(DROPPED) >= target;
    }
  }

  /**
   * One vCPU's queue to the collector thread: bounded in events ({@link #QUEUE_EVENTS}) and in
   * copied slots ({@code queueSlots}). One producer at a time (the vCPU's exit path: the host API
   * takes a vCPU's calls one at a time), one consumer (the collector thread, or {@link #finish}'s
   * thread once the collector thread has stopped).
   */
  private abstract class Lane {
    /** Copied slots queued before the vCPU wakes a sleeping collector thread. */
    final int wakeSlots = Math.max(1, queueSlots / 4);

    /**
     * Queued since the collector was last woken from here: the exit path's own count, so that
     * deciding whether to wake reads nothing the collector writes. Racy if two threads feed one
     * lane at once (an approximation then; the collector also wakes by itself every {@link
     * #POLL_NANOS}).
     */
    private int eventsSinceWake;

    private long slotsSinceWake;

    /**
     * Queues {@code event}, waiting for room while the collector thread lives (stream mode).
     *
     * @return null if queued; else what was not queued because the collector thread is gone and the
     *     lane full (the event, in lossy mode with the drops it carries), for the caller to count
     */
    abstract Object put(Object event);

    /** Consumer: moves up to {@code max} queued events, oldest first, into {@code into}. */
    abstract void drainTo(ArrayList<Object> into, int max);

    /**
     * Consumer: the {@code events} last drained are applied, and {@code permits} copied slots of
     * them left the lane.
     */
    abstract void applied(int events, int permits);

    abstract boolean isEmpty();

    /** Events put so far (for {@link #sync}). */
    abstract long submittedSoFar();

    /** Whether every event up to the {@code target}-th is applied (or dropped). */
    abstract boolean doneUpTo(long target);

    /** Counts {@code event} and says whether the queue is big enough to wake the collector. */
    final boolean worthWaking(Object event) {
      boolean wakeNow = false;
      if (event instanceof SlotCopy copy) {
        slotsSinceWake += copy.count();
        // The collector frees the copy area as it decodes: woken before the area is full, so
        // that the next copies still find room there (a fresh array costs the exit page faults).
        wakeNow = copy.areaPressed();
      }
      if (++eventsSinceWake < WAKE_EVENTS && slotsSinceWake < wakeSlots && !wakeNow) {
        return false;
      }
      eventsSinceWake = 0;
      slotsSinceWake = 0;
      return true;
    }

    /** A copy larger than the whole budget waits for an empty queue, then goes alone. */
    final int permits(SlotCopy copy) {
      return (int) Math.min(copy.count(), queueSlots);
    }

    /**
     * Waits a moment for the collector thread (which the caller found behind): wakes it, then
     * sleeps {@code waitNanos}. Returns false if the collector thread is gone: nobody will ever
     * make room.
     */
    final boolean awaitCollector(long waitNanos) {
      if (collectorGone()) {
        return false;
      }
      wake(); // the collector must not sleep while this vCPU waits for it
      LockSupport.parkNanos(waitNanos);
      return true;
    }
  }

  /**
   * How long a vCPU waiting for room in its lane first sleeps between looks, doubling up to {@link
   * #MAX_WAIT_NANOS}: a full lane holds up to 32 MiB of copies, so the collector is busy for a
   * while, and a waiting vCPU should not take the core it needs. Each look also asks whether the
   * collector thread is still alive, so that a dead collector never leaves a guest waiting.
   */
  static final long WAIT_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

  static final long MAX_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  /**
   * Stream and flight mode: a single-producer ring of events. The exit path stores an event and
   * publishes it with one release store of its tail; no lock, no atomic read-modify-write. The
   * collector publishes what it applied (its head, and the copied slots that left) with a release
   * store per round. Each cursor sits on its own cache line.
   */
  private final class SpscLane extends Lane {
    private static final int MASK = QUEUE_EVENTS - 1;
    private static final int TAIL = 8; // 64 bytes apart in cursors
    private static final int HEAD = 16;
    private static final int SLOTS_OUT = 24;

    private final Object[] ring = new Object[QUEUE_EVENTS];

    /** TAIL: events put (producer); HEAD: events applied (consumer); SLOTS_OUT: slots applied. */
    private final AtomicLongArray cursors = new AtomicLongArray(32);

    // Producer only.
    private long tail;
    private long slotsIn;
    private long headSeen;
    private long slotsOutSeen;

    // Consumer only.
    private long taken;
    private long slotsOut;

    @Override
    Object put(Object event) {
      long t = tail;
      int permits = event instanceof SlotCopy copy ? permits(copy) : 0;
      long waitNanos = WAIT_NANOS;
      while (t - headSeen >= QUEUE_EVENTS || slotsIn + permits - slotsOutSeen > queueSlots) {
        // Full as far as this producer knows: look at what the collector applied since.
        headSeen = cursors.getAcquire(HEAD);
        slotsOutSeen = cursors.getAcquire(SLOTS_OUT);
        if (t - headSeen < QUEUE_EVENTS && slotsIn + permits - slotsOutSeen <= queueSlots) {
          break;
        }
        if (!awaitCollector(waitNanos)) {
          return event;
        }
        waitNanos = Math.min(2 * waitNanos, MAX_WAIT_NANOS);
      }
      ring[(int) t & MASK] = event;
      slotsIn += permits;
      tail = t + 1;
      cursors.setRelease(TAIL, t + 1); // publishes the event stored above
      return null;
    }

    @Override
    void drainTo(ArrayList<Object> into, int max) {
      long end = Math.min(cursors.getAcquire(TAIL), taken + max);
      for (long i = taken; i < end; i++) {
        int at = (int) i & MASK;
        into.add(ring[at]);
        ring[at] = null; // before HEAD moves past it: the producer may reuse the place then
      }
      taken = Math.max(taken, end);
    }

    @Override
    void applied(int events, int permits) {
      slotsOut += permits;
      cursors.setRelease(SLOTS_OUT, slotsOut);
      cursors.setRelease(HEAD, cursors.getPlain(HEAD) + events);
    }

    @Override
    boolean isEmpty() {
      return cursors.getAcquire(TAIL) == taken;
    }

    @Override
    long submittedSoFar() {
      return cursors.getAcquire(TAIL);
    }

    @Override
    boolean doneUpTo(long target) {
      return cursors.getAcquire(HEAD) >= target;
    }
  }

  /**
   * Lossy mode: a locked queue, because making room takes the oldest queued copy out of the middle
   * of the queue, which only a lock shared with the collector allows.
   */
  private final class LockedLane extends Lane {
    final ArrayBlockingQueue<Object> queue = new ArrayBlockingQueue<>(QUEUE_EVENTS);
    final Semaphore slots = new Semaphore(queueSlots);
    final Counts counts = new Counts();

    @Override
    void drainTo(ArrayList<Object> into, int max) {
      queue.drainTo(into, max);
    }

    @Override
    void applied(int events, int permits) {
      counts.applied(events);
      if (permits > 0) {
        slots.release(permits);
      }
    }

    @Override
    boolean isEmpty() {
      return queue.isEmpty();
    }

    @Override
    long submittedSoFar() {
      return counts.submittedSoFar();
    }

    @Override
    boolean doneUpTo(long target) {
      return counts.doneUpTo(target);
    }

    @Override
    Object put(Object queued) {
      Object event = queued;
      Dropped carried = null; // copies dropped to make room, counted with the event
      if (event instanceof SlotCopy copy) {
        int permits = permits(copy);
        while (!slots.tryAcquire(permits)) {
          Dropped d = dropOldestCopy();
          if (d == null) {
            // No older copy waits (the collector holds it): this one is the oldest not decoded.
            event = Dropped.of(copy);
            break;
          }
          carried = Dropped.plus(carried, d);
        }
      }
      Object withDrops = withDrops(carried, event);
      // A queue full of events, not of slots (many small copies): the event takes the place of the
      // oldest queued copy, whose count it carries. A queued Dropped would take that place itself,
      // and the next copy would drop the next one, down to the last.
      counts.submitted();
      long waitNanos = WAIT_NANOS;
      while (!queue.offer(withDrops)) {
        Dropped d = dropOldestCopy();
        if (d != null) {
          carried = Dropped.plus(carried, d);
          withDrops = withDrops(carried, event);
        } else if (!awaitCollector(waitNanos)) {
          counts.dropped(); // never applied: the caller counts what it carries
          return withDrops; // the queue is full of other events and nobody will take them
        } else {
          waitNanos = Math.min(2 * waitNanos, MAX_WAIT_NANOS);
        }
      }
      return null;
    }

    /** {@code event}, after the copies {@code carried} dropped (null: none). */
    private static Object withDrops(Dropped carried, Object event) {
      if (carried == null) {
        return event;
      }
      return event instanceof Dropped own
          ? Dropped.plus(carried, own)
          : new AfterDrop(carried, event);
    }

    /**
     * Lossy mode: removes the oldest copy still queued (and any drops it carries) and returns what
     * to count for it, which the caller queues with the event it makes room for (a message cut by
     * the drop shows as dangling continuations, counted undecodable). Not queued here: a count of
     * its own would take the place just freed.
     *
     * @return null if no copy was queued
     */
    private Dropped dropOldestCopy() {
      for (Object e : queue) {
        SlotCopy old = copyIn(e);
        if (old != null && queue.remove(e)) {
          slots.release(permits(old));
          counts.dropped(); // never applied: the event that carries its count is
          Dropped d = Dropped.of(old);
          return e instanceof AfterDrop a ? Dropped.plus(a.dropped(), d) : d;
        }
      }
      return null;
    }
  }

  private record NewRing(int vcpu) {}

  private record AreaWanted(RingReader ring) {}

  private record Report(String kind, int vcpu, String detail) {}

  private record Name(int[] vcpus, int nameId, String name) {}

  private record AtExit(
      int vcpu, SpanKind kind, String name, long startHostNanos, long endHostNanos) {}

  /**
   * Copied slots dropped in lossy mode, never decoded: counted, and freed from their copy areas
   * (each area up to the end of its newest dropped copy). Holds no reference to the slots: their
   * memory is free at once.
   */
  private record Dropped(int vcpu, long slots, CopyArea[] areas, long[] areaEnds) {
    private static final CopyArea[] NO_AREAS = {};
    private static final long[] NO_ENDS = {};

    static Dropped of(SlotCopy copy) {
      return copy.area() == null
          ? new Dropped(copy.vcpu(), copy.count(), NO_AREAS, NO_ENDS)
          : new Dropped(
              copy.vcpu(), copy.count(), new CopyArea[] {copy.area()}, new long[] {copy.areaEnd()});
    }

    /**
     * Both, counted and freed by one event queued after every copy either holds. Each area is freed
     * up to the latest end seen for it, not the newer one's: drops are not merged in the order
     * their copies were taken (a removed event's own carried drops are older than copies dropped
     * before it), a dropped copy may sit in an array of its own, and a re-registered vCPU's copies
     * span two areas. (A first version that freed only up to {@code newer}'s end left a copy's
     * range taken for good; {@code CopyAreaStressTest} found it.)
     */
    static Dropped plus(Dropped older, Dropped newer) {
      if (older == null) {
        return newer;
      }
      int n = older.areas.length;
      CopyArea[] areas = Arrays.copyOf(older.areas, n + newer.areas.length);
      long[] ends = Arrays.copyOf(older.areaEnds, n + newer.areas.length);
      next:
      for (int i = 0; i < newer.areas.length; i++) {
        for (int k = 0; k < n; k++) {
          if (areas[k] == newer.areas[i]) {
            ends[k] = Math.max(ends[k], newer.areaEnds[i]);
            continue next;
          }
        }
        areas[n] = newer.areas[i];
        ends[n++] = newer.areaEnds[i];
      }
      return new Dropped(
          newer.vcpu,
          Reporter.saturatedAdd(older.slots, newer.slots),
          Arrays.copyOf(areas, n),
          Arrays.copyOf(ends, n));
    }

    void release() {
      for (int i = 0; i < areas.length; i++) {
        areas[i].release(areaEnds[i]);
      }
    }
  }

  /**
   * Lossy mode: {@code event} queued in the place of the oldest copies, {@code dropped}: counted
   * and freed first (they were older), then applied.
   */
  private record AfterDrop(Dropped dropped, Object event) {}

  /** Trace flushes of one vCPU at one record position, merged. */
  private static final class MergedFlush {
    final int vcpu;
    final long startHostNanos;
    long durationNanos;
    final long position;

    MergedFlush(int vcpu, long startHostNanos, long durationNanos, long position) {
      this.vcpu = vcpu;
      this.startHostNanos = startHostNanos;
      this.durationNanos = durationNanos;
      this.position = position;
    }
  }
}
