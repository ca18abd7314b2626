package dev.guesttrace.collect;

import java.util.List;

/** Sink combinators. */
public final class TraceSinks {
  private TraceSinks() {}

  /** A sink that passes every call to each of {@code sinks}, in order. */
  public static TraceSink tee(TraceSink... sinks) {
    List<TraceSink> all = List.of(sinks);
    return new TraceSink() {
      @Override
      public void onHeader(TraceHeader header) {
        for (TraceSink s : all) {
          s.onHeader(header);
        }
      }

      @Override
      public void onName(int vcpu, int nameId, String name) {
        for (TraceSink s : all) {
          s.onName(vcpu, nameId, name);
        }
      }

      @Override
      public void onRecords(RecordBatch batch) {
        for (TraceSink s : all) {
          s.onRecords(batch);
        }
      }

      @Override
      public void onCalibration(CalibrationPair pair) {
        for (TraceSink s : all) {
          s.onCalibration(pair);
        }
      }

      @Override
      public void onHostSpan(HostSpan span) {
        for (TraceSink s : all) {
          s.onHostSpan(span);
        }
      }

      @Override
      public void onDiagnostic(Diagnostic diagnostic) {
        for (TraceSink s : all) {
          s.onDiagnostic(diagnostic);
        }
      }

      @Override
      public void onFinish(TraceEnd end) {
        for (TraceSink s : all) {
          s.onFinish(end);
        }
      }
    };
  }

  /** A sink that ignores everything. */
  public static TraceSink discard() {
    return new Adapter() {};
  }

  /**
   * A sink whose every method does nothing: extend it and override what the sink wants (a record
   * counter, a summary that keeps no records), rather than writing seven empty methods.
   */
  public abstract static class Adapter implements TraceSink {
    /** For subclasses. */
    protected Adapter() {}

    @Override
    public void onHeader(TraceHeader header) {}

    @Override
    public void onName(int vcpu, int nameId, String name) {}

    @Override
    public void onRecords(RecordBatch batch) {}

    @Override
    public void onCalibration(CalibrationPair pair) {}

    @Override
    public void onHostSpan(HostSpan span) {}

    @Override
    public void onDiagnostic(Diagnostic diagnostic) {}

    @Override
    public void onFinish(TraceEnd end) {}
  }
}
