package dev.guesttrace.file;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.clock.TscCalibration;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.ExitProfileRow;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.collect.TraceSink;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.file.proto.Calibration;
import dev.guesttrace.file.proto.Chunk;
import dev.guesttrace.file.proto.Clock;
import dev.guesttrace.file.proto.End;
import dev.guesttrace.file.proto.Header;
import dev.guesttrace.file.proto.HostSpans;
import dev.guesttrace.file.proto.Losses;
import dev.guesttrace.file.proto.Name;
import dev.guesttrace.file.proto.Names;
import dev.guesttrace.span.SpanKind;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Writes a .gtrace file as a {@link TraceSink}: the preamble and header first, then names,
 * calibration pairs, host spans and diagnostics as they come, each record batch as one compact
 * columnar chunk, flushed to the operating system batch by batch so that a crash loses at most the
 * batch in flight.
 *
 * <p>A sink cannot throw checked exceptions into the collector: the first I/O error stops the
 * writing and is thrown by {@link #close()} (and reported by {@link #error()}).
 */
public final class TraceFileWriter implements TraceSink, AutoCloseable {
  /** Calibration pairs or host spans buffered before they are written without a batch. */
  private static final int PENDING_LIMIT = 1024;

  private final OutputStream out;
  private final String writerName;
  private final CountingStream counting;
  private Names.Builder names = Names.newBuilder();
  private Calibration.Builder pairs = Calibration.newBuilder();
  private HostSpans.Builder spans = HostSpans.newBuilder();
  private long records;

  /** Encodes each record batch straight into the file's bytes, reusing its buffers. */
  private final RecordsChunkEncoder recordsEncoder = new RecordsChunkEncoder();

  /**
   * Every pair written, for the fitted clock at the end: the collector bounds them (it thins each
   * vCPU's pairs past a limit), so this list is bounded too.
   */
  private final List<CalibrationPair> allPairs = new ArrayList<>();

  private TraceHeader header;
  private IOException error;
  private boolean closed;
  private boolean interrupted;
  private Thread shutdownHook;

  /** How the outcome of a run whose host process was stopped before it finished begins. */
  public static final String INTERRUPTED = "interrupted";

  /**
   * Writes to {@code out}, which this writer closes.
   *
   * @param writerName the program writing, e.g. {@code guesttrace 0.1.0}
   */
  public TraceFileWriter(OutputStream out, String writerName) {
    this.counting = new CountingStream(Objects.requireNonNull(out, "out"));
    this.out = new BufferedOutputStream(counting, 64 * 1024);
    this.writerName = Objects.requireNonNull(writerName, "writerName");
  }

  /** Creates (or replaces) the file at {@code path}. */
  public static TraceFileWriter create(Path path, String writerName) throws IOException {
    return new TraceFileWriter(Files.newOutputStream(path), writerName);
  }

  /** Writes a whole trace held in memory (e.g. to convert or re-save one). */
  public static void write(TraceData data, OutputStream out, String writerName) throws IOException {
    try (TraceFileWriter w = new TraceFileWriter(out, writerName)) {
      w.onHeader(data.header());
      for (int v = 0; v < data.vcpuCount(); v++) {
        VcpuRecords r = data.records(v);
        for (int id = 1; id < r.nameLimit(); id++) {
          if (r.name(id) != null) {
            w.onName(v, id, r.name(id));
          }
        }
      }
      for (CalibrationPair p : data.calibrationPairs()) {
        w.onCalibration(p);
      }
      for (HostSpan s : data.hostSpans()) {
        w.onHostSpan(s);
      }
      RecordBatch batch = new RecordBatch(4096);
      for (int v = 0; v < data.vcpuCount(); v++) {
        VcpuRecords r = data.records(v);
        batch.reset(v);
        for (int i = 0; i < r.size(); i++) {
          if (batch.isFull()) {
            w.onRecords(batch);
            batch.reset(v);
          }
          if (r.kind(i) == RecordKind.MESSAGE) {
            batch.addMessage(r.tscTicks(i), r.message(i));
          } else {
            batch.add(r.kind(i), r.nameId(i), r.tscTicks(i), r.arg0(i), r.arg1(i));
          }
        }
        if (batch.size() > 0) {
          w.onRecords(batch);
        }
      }
      if (data.end().isPresent()) {
        w.onFinish(data.end().get());
      } else {
        for (Diagnostic d : data.diagnostics()) {
          w.onDiagnostic(d);
        }
      }
    }
  }

  /** Bytes handed to the underlying stream so far (the preamble included). */
  public long bytesWritten() {
    return counting.count;
  }

  /** Records written so far. */
  public synchronized long recordsWritten() {
    return records;
  }

  /** The first I/O error, if writing stopped because of one. */
  public synchronized Optional<IOException> error() {
    return Optional.ofNullable(error);
  }

  @Override
  public synchronized void onHeader(TraceHeader h) {
    if (closed) {
      return; // interrupted: the file already has its end
    }
    this.header = h;
    if (error != null) {
      return;
    }
    try {
      out.write(TraceFileFormat.MAGIC);
      out.write(TraceFileFormat.MAJOR);
      out.write(TraceFileFormat.MINOR);
    } catch (IOException e) {
      error = e;
      return;
    }
    Header.Builder b =
        Header.newBuilder()
            .setGuest(h.guest())
            .setBackend(h.backend())
            .setVcpuCount(h.vcpuCount())
            .setMode(h.mode())
            .setRingBytes(h.ringBytes())
            .addAllArgs(h.args())
            .setStartEpochNanos(h.startEpochNanos())
            .setStartMonotonicNanos(h.startMonotonicNanos())
            .setHostName(h.hostName())
            .setCpuModel(h.cpuModel())
            .setOs(h.os())
            .setArch(h.arch())
            .setJvm(h.jvm())
            .setInvariantTsc(h.invariantTsc())
            .setKvmTscKhz(h.kvmTscKhz())
            .setHostAbiVersion(h.hostAbiVersion())
            .setWriter(writerName);
    write(Chunk.newBuilder().setHeader(b).build(), true);
  }

  @Override
  public synchronized void onName(int vcpu, int nameId, String name) {
    if (closed) {
      return; // interrupted: the file already has its end
    }
    names.addNames(Name.newBuilder().setVcpu(vcpu).setId(nameId).setName(name));
  }

  @Override
  public synchronized void onRecords(RecordBatch batch) {
    if (closed) {
      return; // interrupted: the file already has its end
    }
    int n = batch.size();
    if (n == 0) {
      return;
    }
    writePending();
    // One chunk per batch, unless the batch is too big for a chunk a reader accepts (a large
    // batch of long non-ASCII messages): then as many chunks as it takes.
    // Encoded whole first: the bound is only worked out for a batch that turned out too big.
    recordsEncoder.encode(batch, records);
    for (int from = 0; from < n; ) {
      int count = n - from;
      if (from > 0 || recordsEncoder.frameLength() > TraceFileFormat.MAX_CHUNK_BYTES) {
        count = RecordsChunkEncoder.recordsFitting(batch, from, MAX_RECORDS_BODY_BYTES);
        recordsEncoder.encode(batch, from, from + count, records);
      }
      records += count;
      from += count;
      writeFramed(recordsEncoder.frameBytes(), recordsEncoder.frameLength(), true);
    }
  }

  /**
   * Most bytes of records (by {@link RecordsChunkEncoder#boundBytes}) in each chunk of a batch too
   * big for one: inside what a reader accepts ({@link TraceFileFormat#MAX_CHUNK_BYTES}). A default
   * batch (4,096 records of at most 4,096-byte messages) always fits in one.
   */
  static final long MAX_RECORDS_BODY_BYTES =
      TraceFileFormat.MAX_CHUNK_BYTES - RecordsChunkEncoder.CHUNK_OVERHEAD_BYTES;

  @Override
  public synchronized void onCalibration(CalibrationPair pair) {
    if (closed) {
      return; // interrupted: the file already has its end
    }
    pairs
        .addVcpu(pair.vcpu())
        .addGuestTsc(pair.guestTscTicks())
        .addHostNanos(pair.hostNanos())
        .addSource(source(pair.source()));
    allPairs.add(pair);
    if (pairs.getVcpuCount() >= PENDING_LIMIT) {
      writePending();
    }
  }

  @Override
  public synchronized void onHostSpan(HostSpan span) {
    if (closed) {
      return; // interrupted: the file already has its end
    }
    spans.addSpans(
        dev.guesttrace.file.proto.HostSpan.newBuilder()
            .setVcpu(span.vcpu())
            .setKind(kind(span.kind()))
            .setName(span.name())
            .setStartHostNanos(span.startHostNanos())
            .setEndHostNanos(span.endHostNanos())
            .setRecordPositionPlusOne(span.recordPosition() + 1));
    if (spans.getSpansCount() >= PENDING_LIMIT) {
      writePending();
    }
  }

  @Override
  public synchronized void onDiagnostic(Diagnostic diagnostic) {
    if (closed) {
      return; // interrupted: the file already has its end
    }
    writePending();
    write(Chunk.newBuilder().setDiagnostic(diagnostic(diagnostic)).build(), true);
  }

  @Override
  public synchronized void onFinish(TraceEnd end) {
    if (closed) {
      return; // interrupted: the file already has its end
    }
    writePending();
    if (header != null) {
      write(Chunk.newBuilder().setClock(clock(fit())).build(), false);
    }
    LossCounters l = end.losses();
    End.Builder b =
        End.newBuilder()
            .setOutcome(end.outcome())
            .setFailed(end.failed())
            .setEndMonotonicNanos(end.endMonotonicNanos())
            .setRecordsWritten(records)
            .setLosses(
                Losses.newBuilder()
                    .setFlightOverwritten(l.flightOverwritten())
                    .setStreamOverrun(l.streamOverrun())
                    .setUndecodable(l.undecodable())
                    .setQuotaDropped(l.quotaDropped())
                    .setGuestDropped(l.guestDropped()));
    for (Diagnostic d : end.diagnostics()) {
      b.addDiagnostics(diagnostic(d));
    }
    for (ExitProfileRow r : end.exitProfile()) {
      b.addExitProfile(
          dev.guesttrace.file.proto.ExitProfileRow.newBuilder()
              .setReason(r.reason())
              .setPort(r.port())
              .setPortName(r.portName())
              .setCount(r.count())
              .setErrors(r.errors())
              .setTotalNanos(r.totalNanos())
              .setMinNanos(r.minNanos())
              .setMedianNanos(r.medianNanos())
              .setP99Nanos(r.p99Nanos())
              .setMaxNanos(r.maxNanos())
              .setSignificantDigits(r.significantDigits())
              .setOverflow(r.overflow()));
    }
    write(Chunk.newBuilder().setEnd(b).build(), true);
  }

  /**
   * Writes what is pending and closes the file.
   *
   * @throws IOException the first I/O error met while writing, if any
   */
  @Override
  public synchronized void close() throws IOException {
    removeShutdownHook();
    if (closed) {
      if (error != null && !interrupted) {
        throw error;
      }
      return;
    }
    closed = true;
    writePending();
    try {
      out.close();
    } catch (IOException e) {
      if (error == null) {
        error = e;
      }
    }
    if (error != null) {
      throw error;
    }
  }

  /**
   * Closes the file with an {@link #INTERRUPTED} end if the JVM shuts down before {@link #close()}
   * (SIGTERM, SIGINT, {@code System.exit}): the file then says the run did not finish and how many
   * records it holds, instead of ending mid-run with no end at all. {@link #close()} removes the
   * hook.
   *
   * @return this writer
   */
  public synchronized TraceFileWriter closeOnShutdown() {
    if (shutdownHook == null && !closed) {
      shutdownHook = new Thread(() -> interrupt("the host process was stopped"), "gtrace-close");
      Runtime.getRuntime().addShutdownHook(shutdownHook);
    }
    return this;
  }

  /**
   * Ends the file now, from any thread, with an {@link #INTERRUPTED} outcome: what is pending, the
   * fitted clock, and an end chunk that counts the records written; later sink calls are ignored.
   * Records the guest wrote that the collector had not yet collected are not in the file, so a
   * reader reports the losses as unknown rather than none.
   *
   * @param why what stopped the run, e.g. {@code the host process was stopped}
   */
  public synchronized void interrupt(String why) {
    if (closed) {
      return;
    }
    if (header != null) {
      writePending();
      write(Chunk.newBuilder().setClock(clock(fit())).build(), false);
      write(
          Chunk.newBuilder()
              .setEnd(
                  End.newBuilder()
                      .setOutcome(
                          INTERRUPTED
                              + ": "
                              + why
                              + " before the run finished; records not yet collected from the"
                              + " guest are not in the file")
                      .setFailed(true)
                      .setEndMonotonicNanos(System.nanoTime())
                      .setLosses(Losses.getDefaultInstance())
                      .setRecordsWritten(records))
              .build(),
          true);
    }
    interrupted = true;
    closed = true;
    try {
      out.close();
    } catch (IOException e) {
      if (error == null) {
        error = e;
      }
    }
  }

  private TscCalibration fit() {
    return TscCalibration.fit(allPairs, header.invariantTsc(), header.kvmTscKhz());
  }

  private void removeShutdownHook() {
    if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException e) {
        // Shutting down already: the hook runs and finds the file closed.
      }
      shutdownHook = null;
    }
  }

  private void writePending() {
    if (names.getNamesCount() > 0) {
      Names n = names.build();
      names = Names.newBuilder();
      write(Chunk.newBuilder().setNames(n).build(), false);
    }
    if (pairs.getVcpuCount() > 0) {
      Calibration c = pairs.build();
      pairs = Calibration.newBuilder();
      write(Chunk.newBuilder().setCalibration(c).build(), false);
    }
    if (spans.getSpansCount() > 0) {
      HostSpans s = spans.build();
      spans = HostSpans.newBuilder();
      write(Chunk.newBuilder().setHostSpans(s).build(), false);
    }
  }

  private void write(Chunk chunk, boolean flush) {
    byte[] framed = TraceFileFormat.frame(chunk);
    writeFramed(framed, framed.length, flush);
  }

  /** Writes a framed chunk's {@code framed[0, length)} after its varint length prefix. */
  private void writeFramed(byte[] framed, int length, boolean flush) {
    if (error != null || closed && flush) {
      return;
    }
    try {
      for (int v = length; ; v >>>= 7) {
        if (v < 0x80) {
          out.write(v);
          break;
        }
        out.write(v & 0x7F | 0x80);
      }
      out.write(framed, 0, length);
      if (flush) {
        out.flush();
      }
    } catch (IOException e) {
      error = e;
    }
  }

  /** The fitted clock as the file stores it (the {@code Clock} message). */
  static Clock clock(TscCalibration c) {
    TscCalibration.Values v = c.values();
    Clock.Builder b =
        Clock.newBuilder()
            .setTicksPerSecond(v.ticksPerSecond())
            .setMethod(
                switch (v.rateSource()) {
                  case FIT -> Clock.Method.FIT;
                  case FIT_WITH_KVM_PRIOR -> Clock.Method.FIT_WITH_KVM_PRIOR;
                  case KVM -> Clock.Method.KVM;
                  case ASSUMED -> Clock.Method.ASSUMED;
                })
            .setErrorPpm(v.ppmError())
            .setWorstResidualNanos(v.worstResidualNanos())
            .setPairsTotal(v.pairCount())
            .setPairsUsed(v.usedPairs())
            .setHostPairsUsed(v.hostPairsUsed())
            .setJumps(v.jumpCount())
            .setSlowPairs(v.slowPairs())
            .setKvmTscKhz(v.kvmTscKhz())
            .setFittedTicksPerSecond(v.fittedTicksPerSecond())
            .setKvmDifferencePpm(v.kvmDifferencePpm())
            .setCausalityViolations(v.causalityViolations())
            .setWorstViolationNanos(v.worstViolationNanos())
            .addAllWarnings(v.warnings());
    v.clocks()
        .forEach(
            (vcpu, clock) ->
                b.addVcpus(
                    Clock.VcpuClock.newBuilder()
                        .setVcpu(vcpu)
                        .setReferenceTsc(clock.referenceTicks())
                        .setReferenceHostNanos(clock.referenceNanos())));
    return b.build();
  }

  private static Calibration.Source source(CalibrationPair.Source source) {
    return switch (source) {
      case GUEST_EXIT -> Calibration.Source.GUEST_EXIT;
      case HOST_AT_EXIT -> Calibration.Source.HOST_AT_EXIT;
      case HOST_AT_ENTRY -> Calibration.Source.HOST_AT_ENTRY;
    };
  }

  private static dev.guesttrace.file.proto.Diagnostic diagnostic(Diagnostic d) {
    return dev.guesttrace.file.proto.Diagnostic.newBuilder()
        .setKind(d.kind())
        .setVcpu(d.vcpu())
        .setCount(d.count())
        .setFirst(d.first())
        .build();
  }

  private static dev.guesttrace.file.proto.HostSpan.Kind kind(SpanKind kind) {
    return switch (kind) {
      case HOST_RUN -> dev.guesttrace.file.proto.HostSpan.Kind.RUN;
      case HOST_GUEST_CALL -> dev.guesttrace.file.proto.HostSpan.Kind.GUEST_CALL;
      case HOST_CALL -> dev.guesttrace.file.proto.HostSpan.Kind.HOST_CALL;
      case HOST_EXIT -> dev.guesttrace.file.proto.HostSpan.Kind.EXIT;
      case GUEST -> throw new IllegalArgumentException("not a host span kind: " + kind);
    };
  }

  /** Counts bytes on their way to the file. */
  private static final class CountingStream extends OutputStream {
    private final OutputStream out;
    long count;

    CountingStream(OutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }

    @Override
    public void flush() throws IOException {
      out.flush();
    }

    @Override
    public void close() throws IOException {
      out.close();
    }
  }
}
