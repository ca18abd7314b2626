package dev.guesttrace.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class GuestRunTest {
  /** Greets through the host, and aborts when asked to. */
  static final class Greeter implements GuestProgram {
    @Override
    public String name() {
      return "greeter";
    }

    @Override
    public String summary() {
      return "test guest";
    }

    @Override
    public void main(GuestRuntime runtime) {
      runtime.tracer().message("booted on vCPU " + runtime.cpu().vcpuId());
    }

    @Override
    public Object call(GuestRuntime runtime, FunctionCall call) {
      if (runtime.arg("abort", "no").equals("yes")) {
        runtime.tracer().begin(runtime.tracer().name("doomed"));
        runtime.abortWithoutFlush(7, "gave up");
      }
      return runtime.callHost("HostPrint", call.stringArg(0, "?"));
    }
  }

  static RunConfig.Builder config() {
    return RunConfig.builder(
            new GuestSource.Java("greeter", GuestRuntime.image(new Greeter())),
            new EmulatedBackend())
        .setCall(new FunctionCall("Greet", List.of("hi")))
        .setTimeout(Duration.ofSeconds(10));
  }

  @Test
  void run_bootsCallsAndCollectsEveryVcpu() throws Exception {
    List<String> printed = new CopyOnWriteArrayList<>();
    GuestRun.Result result =
        GuestRun.builder(config().setVcpus(2).setCalls(3).build())
            .setHostPrint(printed::add)
            .build()
            .execute();

    assertThat(result.failed()).isFalse();
    assertThat(result.outcome()).isEqualTo("halted");
    // Calls alternate between the two vCPUs; the results come back in call order all the same.
    assertThat(result.firstCallResults())
        .containsExactly(
            new GuestRun.CallReturn(0, "2"),
            new GuestRun.CallReturn(1, "2"),
            new GuestRun.CallReturn(2, "2"));
    assertThat(result.callsReturned()).isEqualTo(3);
    assertThat(printed).containsExactly("hi", "hi", "hi");
    TraceData data = result.data();
    assertThat(data.vcpuCount()).isEqualTo(2);
    assertThat(data.losses().total()).isZero();
    List<HostSpan> spans = data.hostSpans();
    assertThat(spans.stream().filter(s -> s.kind() == SpanKind.HOST_RUN)).hasSize(2);
    assertThat(spans.stream().filter(s -> s.kind() == SpanKind.HOST_GUEST_CALL)).hasSize(3);
    assertThat(spans.stream().filter(s -> s.kind() == SpanKind.HOST_CALL))
        .extracting(HostSpan::name)
        .containsExactly("HostPrint", "HostPrint", "HostPrint");
    // vCPU 0 booted and made calls 0 and 2: every begin has its end.
    VcpuRecords v0 = data.records(0);
    long begins = 0;
    long ends = 0;
    for (int i = 0; i < v0.size(); i++) {
      begins += v0.kind(i) == RecordKind.SPAN_BEGIN ? 1 : 0;
      ends += v0.kind(i) == RecordKind.SPAN_END ? 1 : 0;
    }
    assertThat(begins).isEqualTo(ends).isGreaterThan(20);
    assertThat(data.calibrationPairs()).isNotEmpty();
  }

  @Test
  void run_abortWithUnflushedRecords_recoversThemAndReportsTheAbort() throws Exception {
    GuestRun.Result result =
        GuestRun.builder(config().setArgs(java.util.Map.of("abort", "yes")).build())
            .build()
            .execute();

    assertThat(result.failed()).isTrue();
    assertThat(result.outcome()).isEqualTo("aborted on vCPU 0 code=7: gave up");
    VcpuRecords v0 = result.data().records(0);
    // The last record is the begin of "doomed", written after the last flush.
    assertThat(v0.kind(v0.size() - 1)).isEqualTo(RecordKind.SPAN_BEGIN);
    assertThat(result.data().records(0).name(v0.nameId(v0.size() - 1))).isEqualTo("doomed");
  }

  @Test
  void run_tracingOff_collectsNothingButRuns() throws Exception {
    GuestRun.Result result =
        GuestRun.builder(config().setMode(BootInfo.MODE_OFF).build()).build().execute();
    assertThat(result.failed()).isFalse();
    assertThat(result.data().recordCount()).isZero();
  }

  @Test
  void run_manyCalls_keepsTheFirstResultsAndCountsTheRest() throws Exception {
    int calls = GuestRun.KEPT_CALL_RESULTS * 4 + 3;
    GuestRun.Result result =
        GuestRun.builder(config().setVcpus(2).setCalls(calls).setMode(BootInfo.MODE_OFF).build())
            .build()
            .execute();

    assertThat(result.failed()).isFalse();
    assertThat(result.callsReturned()).isEqualTo(calls);
    assertThat(result.firstCallResults()).hasSize(GuestRun.KEPT_CALL_RESULTS);
    for (int c = 0; c < GuestRun.KEPT_CALL_RESULTS; c++) {
      assertThat(result.firstCallResults().get(c)).isEqualTo(new GuestRun.CallReturn(c, "2"));
    }
  }

  /** Counts the records a sink receives. */
  private static final class CountingSink extends dev.guesttrace.collect.TraceSinks.Adapter {
    final java.util.concurrent.atomic.AtomicLong records =
        new java.util.concurrent.atomic.AtomicLong();

    @Override
    public void onRecords(dev.guesttrace.collect.RecordBatch batch) {
      records.addAndGet(batch.size());
    }
  }

  @Test
  void run_keepingRecords_theQuotaDropsWhatIsPastIt() throws Exception {
    CountingSink sink = new CountingSink();
    GuestRun.Result result =
        GuestRun.builder(config().setCalls(20).setMaxRecords(100).build())
            .setSink(sink)
            .build()
            .execute();

    assertThat(result.data().recordCount()).isLessThanOrEqualTo(100);
    assertThat(result.data().losses().total()).isPositive();
    assertThat(sink.records.get()).isEqualTo(result.data().recordCount());
  }

  @Test
  void run_notKeepingRecords_streamsThemAllToTheSinkPastTheQuota() throws Exception {
    CountingSink kept = new CountingSink();
    GuestRun.Result keeping =
        GuestRun.builder(config().setCalls(20).build()).setSink(kept).build().execute();
    CountingSink streamed = new CountingSink();
    GuestRun.Result streaming =
        GuestRun.builder(config().setCalls(20).setMaxRecords(100).build())
            .setSink(streamed)
            .setKeepRecords(false)
            .build()
            .execute();

    assertThat(streaming.failed()).isFalse();
    // Every record the unbounded run kept reached the sink, far past the quota of 100.
    assertThat(streamed.records.get()).isEqualTo(kept.records.get()).isGreaterThan(100);
    assertThat(streaming.data().recordCount()).isZero();
    assertThat(streaming.data().hostSpans()).isEmpty();
    assertThat(streaming.data().losses().total()).isZero();
    assertThat(streaming.data().vcpuCount()).isEqualTo(1);
    assertThat(streaming.callsReturned()).isEqualTo(20);
  }

  @Test
  void run_notKeepingRecordsWithoutASink_isRefused() {
    assertThatThrownBy(() -> GuestRun.builder(config().build()).setKeepRecords(false).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("setKeepRecords(false) needs a sink: setSink");
  }
}
