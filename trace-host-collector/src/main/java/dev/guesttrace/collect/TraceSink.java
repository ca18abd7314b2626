package dev.guesttrace.collect;

/**
 * Streaming consumer of a run's trace, in the order the collector produces it: one {@link
 * #onHeader}, then names, record batches, calibration pairs, host spans and diagnostics interleaved
 * as they happen, then one {@link #onFinish} (absent if the host itself died).
 *
 * <p>Implementations: {@link TraceData.Builder} (in memory, for the views) and the trace file
 * writer ({@code dev.guesttrace.file.TraceFileWriter}); {@link TraceSinks#tee} feeds both. The
 * collector calls a sink from one thread at a time (it serializes vCPU threads), so a sink needs no
 * locking of its own. A sink must not keep the {@link RecordBatch}: it is reused after the call.
 */
public interface TraceSink {
  /** The run starts. Called once, first. */
  void onHeader(TraceHeader header);

  /**
   * A name the guest interned, readable from now on. Names are per vCPU because each vCPU's region
   * points at its own name table (the Java guests share one; the collector reports it per vCPU).
   */
  void onName(int vcpu, int nameId, String name);

  /** Records of one vCPU in ring order; valid only during this call. */
  void onRecords(RecordBatch batch);

  /** A calibration pair, from an exit that carried the guest TSC. */
  void onCalibration(CalibrationPair pair);

  /** A span the host measured. */
  void onHostSpan(HostSpan span);

  /**
   * The first occurrence of a diagnostic kind (count 1), so that a trace cut short still says what
   * went wrong; the final counts come with {@link #onFinish}.
   */
  void onDiagnostic(Diagnostic diagnostic);

  /** The run ended. Called once, last. */
  void onFinish(TraceEnd end);
}
