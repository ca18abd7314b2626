package dev.guesttrace.span;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.Diagnostics;
import dev.guesttrace.collect.FakeGuestAccess;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.guest.Tracer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

public class SpanTreeBuilderTest {
  public static final long START = 1_000_000;

  public static TraceHeader header(int vcpus) {
    return new TraceHeader(
        "hello",
        "emulated",
        vcpus,
        "stream",
        0,
        List.of(),
        1_700_000_000_000_000_000L,
        START,
        "host-a",
        "Test CPU",
        "Linux 6.1.0",
        "amd64",
        "OpenJDK 25",
        true,
        0,
        "1.0.0");
  }

  /** The tree as lines: two spaces per level, events after the span line with a '*'. */
  public static List<String> lines(TraceTree tree) {
    List<String> out = new ArrayList<>();
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      out.add("vcpu " + v.vcpu());
      for (SpanNode n : v.roots()) {
        lines(n, 1, out);
      }
    }
    return out;
  }

  private static void lines(SpanNode n, int depth, List<String> out) {
    String pad = "  ".repeat(depth);
    out.add(
        pad
            + n.kind()
            + " "
            + n.name()
            + " ["
            + n.startNanos()
            + ","
            + n.endNanos()
            + "]"
            + (n.unclosed() ? " unclosed" : "")
            + (n.arg0() != 0 || n.arg1() != 0 ? " args=" + n.arg0() + "," + n.arg1() : ""));
    for (SpanEvent e : n.events()) {
      out.add(
          pad
              + "  * "
              + e.kind()
              + " "
              + e.text()
              + " @"
              + e.timeNanos()
              + " "
              + e.address()
              + " "
              + e.value());
    }
    for (SpanNode c : n.children()) {
      lines(c, depth + 1, out);
    }
  }

  @Test
  void build_realTracerRingWithHostSpans_exactTree() {
    FakeGuestAccess g = new FakeGuestAccess(header(1));
    g.linearHostClock(true);
    g.tscStep(0, 2_000); // 1 µs per TSC read at 2 GHz
    Tracer t = g.tracer(0, 256, TraceRegionDescriptor.MODE_STREAM); // register at 1000 ns
    int entry = t.name("entrypoint");
    int call = t.name("call_host_function");
    int halt = t.name("halt");
    int orphan = t.name("orphan");
    t.begin(entry, 7, 8); // 2000
    t.begin(call); // 3000
    t.message("Start copy of data"); // 4000
    g.register(0, Register.RCX, g.rdtsc(0)); // 5000
    g.out(0, ExitPorts.HOST_CALL, 0);
    g.collector()
        .hostSpan(new HostSpan(0, SpanKind.HOST_CALL, "print", START + 5_200, START + 5_800));
    t.end(call); // 6000
    t.alloc(0x9000, 48); // 7000
    t.end(entry); // 8000
    t.begin(halt); // 9000
    t.flush(); // 10000
    t.end(halt); // 11000, never flushed: the final drain finds it
    t.begin(orphan); // 12000, never ended
    g.collector().hostSpan(new HostSpan(0, SpanKind.HOST_RUN, "run", START, START + 20_000));
    TraceData data = g.finish(START + 20_000);

    SpanTreeBuilder.Result result = SpanTreeBuilder.buildWithDetails(data);
    assertThat(data.calibrationPairs())
        .containsExactly(
            new CalibrationPair(0, 5_000_002_000L, START + 1_000),
            new CalibrationPair(0, 5_000_010_000L, START + 5_000),
            new CalibrationPair(0, 5_000_020_000L, START + 10_000));
    assertThat(lines(result.tree()))
        .containsExactly(
            "vcpu 0",
            "  HOST_RUN run [0,20000]",
            "    GUEST entrypoint [2000,8000] args=7,8",
            "      * ALLOC  @7000 36864 48",
            "      GUEST call_host_function [3000,6000]",
            "        * MESSAGE Start copy of data @4000 0 0",
            "        HOST_CALL print [5200,5800]",
            "    GUEST halt [9000,11000]",
            "    GUEST orphan [12000,20000] unclosed");
    assertThat(result.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.SPAN_UNCLOSED,
                0,
                1,
                "span never ended, closed where its call or the run ended: orphan on vCPU 0"));
    RunSummary s = result.tree().summary();
    assertThat(s.ticksPerSecond()).isEqualTo(2e9);
    assertThat(s.calibrationWorstResidualNanos()).isZero();
    assertThat(s.outcome()).isEqualTo("halted");
    assertThat(s.guest()).isEqualTo("hello");
  }

  /** A trace from hand-made records: 1 tick per ns, tick 0 at the run's start. */
  private static TraceData handMade(int[][] records, String... names) {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(header(1));
    for (int i = 0; i < names.length; i++) {
      b.onName(0, i + 1, names[i]);
    }
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 1_000_000, START + 1_000_000));
    RecordBatch batch = new RecordBatch(64);
    batch.reset(0);
    for (int[] r : records) {
      if (r[0] == RecordKind.MESSAGE) {
        batch.addMessage(r[2], "m" + r[2]);
      } else {
        batch.add(r[0], r[1], r[2], 0, 0);
      }
    }
    b.onRecords(batch);
    return b.build();
  }

  private static final int B = RecordKind.SPAN_BEGIN;
  private static final int E = RecordKind.SPAN_END;

  @Test
  void build_hostWorkDuringAnExit_nestsByRecordPositionWhateverTheClockSays() {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(header(1));
    b.onName(0, 1, "a");
    b.onName(0, 2, "b");
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 1_000_000, START + 1_000_000));
    RecordBatch batch = new RecordBatch(8);
    batch.reset(0);
    batch.add(B, 1, 10, 0, 0);
    batch.add(B, 2, 20, 0, 0);
    batch.add(E, 2, 30, 0, 0);
    batch.add(E, 1, 60, 0, 0);
    b.onRecords(batch);
    // The exit came after record 1 (inside b), but the host clock puts it after b ended.
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_EXIT, "trace flush", START + 40, START + 45, 2));
    // The same work with no position falls back to time: inside a, after b.
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_CALL, "HostPrint", START + 40, START + 45));

    SpanTreeBuilder.Result result = SpanTreeBuilder.buildWithDetails(b.build());
    // Inside b by position, after it by time: clamped into b, never shown outside it.
    assertThat(lines(result.tree()))
        .containsExactly(
            "vcpu 0",
            "  GUEST a [10,60]",
            "    GUEST b [20,30]",
            "      HOST_EXIT trace flush [30,30]",
            "    HOST_CALL HostPrint [40,45]");
    assertThat(result.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.SPAN_OUTSIDE_PARENT,
                0,
                1,
                "child span outside its parent, clamped into it (worst by 15 ns): trace flush"
                    + " [40, 45] outside b [20, 30] by 15 ns"));
  }

  @Test
  void build_unbalancedInputIsRepairedAndCounted() {
    TraceData data =
        handMade(
            new int[][] {
              {E, 1, 5}, // end without begin
              {B, 1, 10},
              {B, 2, 20},
              {B, 3, 30},
              {E, 1, 40}, // names the outer span: closes c and b as unclosed, then a
              {B, 2, 50},
              {E, 3, 60}, // names nothing open: ends the innermost (b)
              {RecordKind.MESSAGE, 0, 70}, // no span open or around: the span before it keeps it
              {B, 1, 80},
              {E, 0, 90}, // id 0: ends the innermost whatever it is
            },
            "a",
            "b",
            "c");
    SpanTreeBuilder.Result result = SpanTreeBuilder.buildWithDetails(data);
    assertThat(lines(result.tree()))
        .containsExactly(
            "vcpu 0",
            "  GUEST a [10,40]",
            "    GUEST b [20,40] unclosed",
            "      GUEST c [30,40] unclosed",
            "  GUEST b [50,60]",
            "    * MESSAGE m70 @70 0 0",
            "  GUEST a [80,90]");
    assertThat(result.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.SPAN_END_WITHOUT_BEGIN,
                0,
                1,
                "span end without a begin: a on vCPU 0 record 0"),
            new Diagnostic(
                Diagnostics.SPAN_END_MISMATCH,
                0,
                2,
                "span end names a but the innermost open span is c on vCPU 0 record 4"));
  }

  @Test
  void build_looseEventGoesToTheSpanAroundItInTime() {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(header(1));
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 1_000, START + 1_000));
    RecordBatch batch = new RecordBatch(4);
    batch.reset(0);
    batch.addMessage(500, "between spans");
    b.onRecords(batch);
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_RUN, "run", START, START + 1_000));
    b.onHostSpan(new HostSpan(0, SpanKind.HOST_GUEST_CALL, "f", START + 400, START + 600));
    assertThat(lines(SpanTreeBuilder.build(b.build())))
        .containsExactly(
            "vcpu 0",
            "  HOST_RUN run [0,1000]",
            "    HOST_GUEST_CALL f [400,600]",
            "      * MESSAGE between spans @500 0 0");
  }

  @Test
  void build_twoVcpusWithDistinctOffsetsLineUpOnTheHostClock() {
    TraceData.Builder b = TraceData.builder();
    b.onHeader(header(2));
    b.onName(0, 1, "x");
    b.onName(1, 1, "x");
    // vCPU 1's TSC runs 1_000_000 ticks ahead of vCPU 0's; both 1 tick per ns.
    b.onCalibration(new CalibrationPair(0, 0, START));
    b.onCalibration(new CalibrationPair(0, 1_000, START + 1_000));
    b.onCalibration(new CalibrationPair(1, 1_000_000, START));
    b.onCalibration(new CalibrationPair(1, 1_001_000, START + 1_000));
    RecordBatch batch = new RecordBatch(4);
    batch.reset(0);
    batch.add(B, 1, 100, 0, 0);
    batch.add(E, 1, 200, 0, 0);
    b.onRecords(batch);
    batch.reset(1);
    batch.add(B, 1, 1_000_100, 0, 0);
    batch.add(E, 1, 1_000_200, 0, 0);
    b.onRecords(batch);
    assertThat(lines(SpanTreeBuilder.build(b.build())))
        .containsExactly("vcpu 0", "  GUEST x [100,200]", "vcpu 1", "  GUEST x [100,200]");
  }
}
