package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.span.SpanKind;
import java.util.List;
import org.junit.jupiter.api.Test;

class TraceDataTest {
  static TraceHeader header(int vcpus) {
    return new TraceHeader(
        "hello",
        "emulated",
        vcpus,
        "stream",
        0,
        List.of("n=3"),
        1_700_000_000_000_000_000L,
        5_000_000L,
        "host-a",
        "Test CPU",
        "Linux 6.1.0",
        "amd64",
        "OpenJDK 25",
        true,
        0,
        "1.0.0");
  }

  @Test
  void builder_keepsBatchesInColumnsAcrossReusedBatch() {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(header(2));
    b.onName(1, 1, "main");
    RecordBatch batch = new RecordBatch(2);
    batch.reset(1);
    batch.add(RecordKind.SPAN_BEGIN, 1, 100, 7, 8);
    batch.addMessage(110, "hi");
    b.onRecords(batch);
    batch.reset(1);
    batch.add(RecordKind.SPAN_END, 1, 120, 0, 0);
    b.onRecords(batch);
    b.onCalibration(new CalibrationPair(1, 130, 9_000));
    b.onHostSpan(new HostSpan(1, SpanKind.HOST_RUN, "run", 5_000_000, 6_000_000));
    TraceData data = b.build();

    VcpuRecords r = data.records(1);
    assertThat(r.size()).isEqualTo(3);
    assertThat(new int[] {r.kind(0), r.kind(1), r.kind(2)})
        .containsExactly(RecordKind.SPAN_BEGIN, RecordKind.MESSAGE, RecordKind.SPAN_END);
    assertThat(new long[] {r.tscTicks(0), r.tscTicks(1), r.tscTicks(2)})
        .containsExactly(100, 110, 120);
    assertThat(r.arg0(0)).isEqualTo(7);
    assertThat(r.arg1(0)).isEqualTo(8);
    assertThat(r.message(1)).isEqualTo("hi");
    assertThat(r.arg0(1)).isZero();
    assertThat(r.message(0)).isNull();
    assertThat(r.name(1)).isEqualTo("main");
    assertThat(r.name(2)).isNull();
    assertThat(data.records(0).size()).isZero();
    assertThat(data.recordCount()).isEqualTo(3);
    assertThat(data.outcome()).isEqualTo("incomplete");
    assertThat(data.end()).isEmpty();
  }

  @Test
  void builder_finalDiagnosticsReplaceFirstOccurrences() {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(header(1));
    b.onDiagnostic(new Diagnostic(Diagnostics.EMPTY_SLOT, 0, 1, "empty slot at sequence 3"));
    assertThat(b.build().diagnostics())
        .containsExactly(new Diagnostic(Diagnostics.EMPTY_SLOT, 0, 1, "empty slot at sequence 3"));
    LossCounters losses = new LossCounters(1, 2, 3, 4, 5);
    b.onFinish(
        new TraceEnd(
            "halted",
            false,
            7_000_000,
            losses,
            List.of(new Diagnostic(Diagnostics.EMPTY_SLOT, 0, 4, "empty slot at sequence 3")),
            List.of(
                new ExitProfileRow("out", 0x70, "trace", 2, 0, 300, 100, 150, 200, 200, 2, 0))));
    TraceData data = b.build();
    assertThat(data.diagnostics())
        .containsExactly(new Diagnostic(Diagnostics.EMPTY_SLOT, 0, 4, "empty slot at sequence 3"));
    assertThat(data.losses().total()).isEqualTo(15);
    assertThat(data.outcome()).isEqualTo("halted");
    assertThat(data.exitProfile()).hasSize(1);
  }

  @Test
  void builder_rejectsVcpuOutsideHeader() {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(header(1));
    assertThatThrownBy(() -> b.onName(1, 1, "x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("vcpu out of range 0..0: vcpu=1");
  }

  @Test
  void diagnostics_countsAndKeepsFirst() {
    Diagnostics d = new Diagnostics();
    assertThat(d.count("a", 0, "first")).isEqualTo(new Diagnostic("a", 0, 1, "first"));
    assertThat(d.count("a", 1, "second")).isNull();
    assertThat(d.count("b", -1, 5, "b")).isEqualTo(new Diagnostic("b", -1, 5, "b"));
    assertThat(d.countIfSeen("a")).isTrue();
    assertThat(d.countIfSeen("c")).isFalse();
    assertThat(d.snapshot())
        .containsExactly(new Diagnostic("a", 0, 3, "first"), new Diagnostic("b", -1, 5, "b"));
  }
}
