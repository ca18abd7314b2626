package dev.guesttrace.collect;

import dev.guesttrace.clock.TscCalibration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One run's trace in memory: the header with the host fingerprint, every kept record per vCPU (in
 * columns), the names, the calibration pairs, the host spans, the diagnostics and how the run
 * ended. What the collector produces and the trace file stores; every view (tree, stats, OTLP,
 * Perfetto, flame, compare) is rebuilt from it.
 *
 * <p>Built through {@link Builder}, a {@link TraceSink}; read-only once built.
 */
public final class TraceData {
  private final TraceHeader header;
  private final List<VcpuRecords> vcpus;
  private final List<CalibrationPair> calibrationPairs;
  private final List<HostSpan> hostSpans;
  private final List<Diagnostic> diagnostics;
  private final TraceEnd end;
  private final TscCalibration storedClock;

  private TraceData(Builder b) {
    this.header = b.header;
    this.vcpus = List.copyOf(b.vcpus);
    this.calibrationPairs = Collections.unmodifiableList(b.calibrationPairs);
    this.hostSpans = Collections.unmodifiableList(b.hostSpans);
    this.diagnostics =
        b.end != null ? b.end.diagnostics() : List.copyOf(b.firstDiagnostics.values());
    this.end = b.end;
    this.storedClock = b.storedClock;
  }

  /** A builder that collects what a {@link TraceSink} receives. */
  public static Builder builder() {
    return new Builder();
  }

  /** The run and the host fingerprint. */
  public TraceHeader header() {
    return header;
  }

  /** Number of vCPUs ({@link TraceHeader#vcpuCount()}). */
  public int vcpuCount() {
    return vcpus.size();
  }

  /** The records and names of vCPU {@code vcpu}. */
  public VcpuRecords records(int vcpu) {
    Objects.checkIndex(vcpu, vcpus.size());
    return vcpus.get(vcpu);
  }

  /** Records kept over all vCPUs. */
  public long recordCount() {
    long n = 0;
    for (VcpuRecords v : vcpus) {
      n += v.size();
    }
    return n;
  }

  /** Calibration pairs in the order they were taken (all vCPUs). */
  public List<CalibrationPair> calibrationPairs() {
    return calibrationPairs;
  }

  /** Host spans in the order they ended (all vCPUs). */
  public List<HostSpan> hostSpans() {
    return hostSpans;
  }

  /**
   * Diagnostics in order of first occurrence: with their final counts if the run finished,
   * otherwise as first seen (count 1).
   */
  public List<Diagnostic> diagnostics() {
    return diagnostics;
  }

  /**
   * The clock fitted when the run ended, as a trace file stores it; empty for a trace still in
   * memory (views fit its calibration pairs, which gives the same clock) and for files written
   * before the file stored it.
   */
  public Optional<TscCalibration> storedClock() {
    return Optional.ofNullable(storedClock);
  }

  /** How the run ended; empty if the trace was cut short before the end. */
  public Optional<TraceEnd> end() {
    return Optional.ofNullable(end);
  }

  /** The outcome line, {@code incomplete} if the trace has no end. */
  public String outcome() {
    return end != null ? end.outcome() : "incomplete";
  }

  /** Losses by cause, {@link LossCounters#NONE} if the trace has no end. */
  public LossCounters losses() {
    return end != null ? end.losses() : LossCounters.NONE;
  }

  /** VM exits by reason and port, empty if the trace has no end. */
  public List<ExitProfileRow> exitProfile() {
    return end != null ? end.exitProfile() : List.of();
  }

  /**
   * Collects a trace as a {@link TraceSink}. {@link #build()} may be called without {@link
   * #onFinish} (a trace cut short). Not thread-safe: the collector serializes its calls.
   */
  public static final class Builder implements TraceSink {
    private TraceHeader header;
    private final List<VcpuRecords> vcpus = new ArrayList<>();
    private final List<CalibrationPair> calibrationPairs = new ArrayList<>();
    private final List<HostSpan> hostSpans = new ArrayList<>();
    private final Map<String, Diagnostic> firstDiagnostics = new LinkedHashMap<>();
    private TraceEnd end;
    private TscCalibration storedClock;

    private Builder() {}

    /**
     * The fitted clock a trace file stores (not a {@link TraceSink} event: the collector's sinks
     * fit the pairs themselves).
     */
    public void onStoredClock(TscCalibration clock) {
      requireHeader();
      this.storedClock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public void onHeader(TraceHeader header) {
      Objects.requireNonNull(header, "header");
      if (this.header != null) {
        throw new IllegalStateException("header already set");
      }
      this.header = header;
      for (int v = 0; v < header.vcpuCount(); v++) {
        vcpus.add(new VcpuRecords(v));
      }
    }

    @Override
    public void onName(int vcpu, int nameId, String name) {
      vcpu(vcpu).defineName(nameId, Objects.requireNonNull(name, "name"));
    }

    @Override
    public void onRecords(RecordBatch batch) {
      vcpu(batch.vcpu()).append(batch);
    }

    @Override
    public void onCalibration(CalibrationPair pair) {
      vcpu(pair.vcpu());
      calibrationPairs.add(pair);
    }

    @Override
    public void onHostSpan(HostSpan span) {
      vcpu(span.vcpu());
      hostSpans.add(span);
    }

    @Override
    public void onDiagnostic(Diagnostic diagnostic) {
      requireHeader();
      firstDiagnostics.putIfAbsent(diagnostic.kind(), diagnostic);
    }

    @Override
    public void onFinish(TraceEnd end) {
      requireHeader();
      if (this.end != null) {
        throw new IllegalStateException("trace already finished");
      }
      this.end = Objects.requireNonNull(end, "end");
    }

    /**
     * The trace collected so far.
     *
     * @throws IllegalStateException if no header arrived
     */
    public TraceData build() {
      requireHeader();
      return new TraceData(this);
    }

    private VcpuRecords vcpu(int vcpu) {
      requireHeader();
      if (vcpu < 0 || vcpu >= vcpus.size()) {
        throw new IllegalArgumentException(
            "vcpu out of range 0.." + (vcpus.size() - 1) + ": vcpu=" + vcpu);
      }
      return vcpus.get(vcpu);
    }

    private void requireHeader() {
      if (header == null) {
        throw new IllegalStateException("no trace header yet");
      }
    }
  }
}
