package dev.guesttrace.collect;

import dev.guesttrace.span.SpanKind;

/**
 * Everything that reaches the {@link TraceSink} goes through here, one call at a time: names,
 * copied slots (decoded here by the {@link RecordDecoder}), calibration pairs, host spans,
 * diagnostics, the end. Host work done during an exit takes its record position here, after the
 * slots copied at that exit were decoded, so the position is exact.
 */
final class SinkSide implements RingReader.Output {
  private final TraceSink sink;
  private RecordDecoder decoder;

  SinkSide(TraceSink sink) {
    this.sink = sink;
  }

  synchronized void start(TraceHeader header, RecordDecoder decoder) {
    this.decoder = decoder;
    sink.onHeader(header);
  }

  @Override
  public synchronized void newRing(int vcpu) {
    decoder.newRing(vcpu);
  }

  @Override
  public synchronized void name(int[] vcpus, int nameId, String name) {
    for (int v : vcpus) {
      sink.onName(v, nameId, name);
    }
  }

  @Override
  public synchronized void slots(SlotCopy copy) {
    decoder.decode(copy);
  }

  /** The decoder's output. */
  void records(RecordBatch batch) {
    sink.onRecords(batch);
  }

  synchronized void pair(CalibrationPair pair) {
    sink.onCalibration(pair);
  }

  synchronized void hostSpan(HostSpan span) {
    sink.onHostSpan(span);
  }

  /** A span of host work done during the vCPU's current exit, placed after its kept records. */
  synchronized void hostSpanAtExit(
      int vcpu, SpanKind kind, String name, long startHostNanos, long endHostNanos) {
    sink.onHostSpan(
        new HostSpan(vcpu, kind, name, startHostNanos, endHostNanos, decoder.kept(vcpu)));
  }

  synchronized void diagnostic(Diagnostic first) {
    sink.onDiagnostic(first);
  }

  synchronized long kept(int vcpu) {
    return decoder.kept(vcpu);
  }

  synchronized long kept() {
    return decoder.kept();
  }

  /** Losses counted while decoding, with {@code copied} (counted while copying) added. */
  synchronized LossCounters losses(LossCounters copied) {
    return copied.plus(
        new LossCounters(
            decoder.overwritten(),
            decoder.overrun(),
            decoder.undecodable(),
            decoder.quotaDropped(),
            0));
  }

  synchronized void finish(TraceEnd end) {
    sink.onFinish(end);
  }
}
