package dev.guesttrace.span;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.FakeGuestAccess;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.guest.Tracer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A view that frees the records as its tree takes them ({@code buildWithDetails(data, true)}) gets
 * the same tree as one that keeps them; afterwards the data still counts its records, and reading a
 * freed one is an error, not a wrong value.
 */
class ReleaseRecordsTest {
  @Test
  void releasingRecords_sameTreeAndDiagnostics_recordsCountedButGone() throws Exception {
    TraceData kept = fibTrace();
    TraceData released = fibTrace();
    long records = released.recordCount();
    assertThat(records).isGreaterThan(2L * VcpuRecords.BLOCK_RECORDS);

    SpanTreeBuilder.Result a = SpanTreeBuilder.buildWithDetails(kept);
    SpanTreeBuilder.Result b = SpanTreeBuilder.buildWithDetails(released, true);

    assertThat(flat(b.tree())).isEqualTo(flat(a.tree())).hasSizeGreaterThan(20_000);
    assertThat(b.diagnostics()).isEqualTo(a.diagnostics());
    assertThat(released.recordCount()).isEqualTo(records);
    assertThat(kept.records(0).message(0)).isEqualTo("before");
    assertThatThrownBy(() -> released.records(0).kind(0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("record 0 released (releaseBefore) after its use");
  }

  private static TraceData fibTrace() {
    FakeGuestAccess g = new FakeGuestAccess(SpanTreeBuilderTest.header(1));
    Random random = new Random(5);
    g.tscStepper(0, () -> 20 + random.nextInt(61));
    Tracer t = g.tracer(0, 4096, TraceRegionDescriptor.MODE_STREAM);
    int id = t.name("fib");
    t.message("before");
    fib(t, id, 20);
    t.begin(id); // left open: closed at the run's end, marked unclosed
    t.message("inside");
    t.flush();
    return g.finish(SpanTreeBuilderTest.START + 10_000_000, List.of());
  }

  /** Every span, depth first, with its times, flags and events. */
  private static List<String> flat(TraceTree tree) {
    List<String> out = new ArrayList<>();
    ArrayDeque<SpanNode> work = new ArrayDeque<>();
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      v.roots().reversed().forEach(work::push);
    }
    while (!work.isEmpty()) {
      SpanNode n = work.pop();
      out.add(n + " " + n.arg0() + " " + n.unclosed() + " " + n.events());
      n.children().reversed().forEach(work::push);
    }
    return out;
  }

  private static int fib(Tracer t, int id, int n) {
    t.begin(id, n, 0);
    int r = n < 2 ? n : fib(t, id, n - 1) + fib(t, id, n - 2);
    t.end(id);
    return r;
  }
}
