package dev.guesttrace.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExitDispatcherTest {
  private static final VcpuState VCPU =
      new VcpuState() {
        @Override
        public int vcpuId() {
          return 0;
        }

        @Override
        public long register(Register register) {
          return 0;
        }

        @Override
        public void register(Register register, long value) {}

        @Override
        public MemorySegment memory() {
          return MemorySegment.NULL;
        }
      };

  @Test
  void onOut_registeredPort_routesToItsHandlerWithValue() {
    List<String> seen = new ArrayList<>();
    ExitDispatcher exits =
        new ExitDispatcher()
            .register(
                ExitPorts.TRACE,
                (vcpu, value) -> {
                  seen.add("trace " + value);
                  return ExitAction.RESUME;
                })
            .register(
                ExitPorts.ABORT,
                (vcpu, value) -> {
                  seen.add("abort " + value);
                  return ExitAction.STOP;
                });

    assertThat(exits.onOut(VCPU, ExitPorts.TRACE, 2)).isEqualTo(ExitAction.RESUME);
    assertThat(exits.onOut(VCPU, ExitPorts.ABORT, 9)).isEqualTo(ExitAction.STOP);
    assertThat(seen).containsExactly("trace 2", "abort 9");
  }

  @Test
  void profile_everyExitCountedByReasonAndPort() {
    ExitDispatcher exits =
        new ExitDispatcher()
            .register(ExitPorts.TRACE, (vcpu, value) -> ExitAction.RESUME)
            .register(ExitPorts.LOG, (vcpu, value) -> ExitAction.RESUME);
    for (int i = 0; i < 1000; i++) {
      exits.onOut(VCPU, ExitPorts.TRACE, 2);
    }
    exits.onOut(VCPU, ExitPorts.LOG, 3);
    exits.onOut(VCPU, 0x80, 0);
    exits.onOut(VCPU, 0x80, 0);
    exits.recordOutcome(new RunOutcome.Halted(), 500);
    exits.recordOutcome(new RunOutcome.Faulted("x", new long[0]), 0);
    exits.recordOutcome(new RunOutcome.TimedOut(Duration.ofSeconds(1), true), 0);
    exits.recordOutcome(new RunOutcome.Stopped(), 0);

    ExitProfile profile = exits.profile();

    assertThat(profile.rows())
        .extracting(r -> r.reason() + "/" + r.portName() + "=" + r.count())
        .containsExactly(
            "out/trace=1000",
            "out/log=1",
            "unknown_port/0x80=2",
            "hlt/-=1",
            "fault/-=1",
            "timeout/-=1");
    assertThat(profile.totalExits()).isEqualTo(1006);
    ExitProfile.Row hlt = profile.row(ExitProfile.HLT, ExitProfile.NO_PORT).orElseThrow();
    assertThat(hlt.totalNanos()).isEqualTo(500);
    assertThat(hlt.minNanos()).isEqualTo(500);
    assertThat(hlt.medianNanos()).isEqualTo(500);
    assertThat(hlt.maxNanos()).isEqualTo(500);
    ExitProfile.Row trace = profile.row(ExitProfile.OUT, ExitPorts.TRACE).orElseThrow();
    assertThat(trace.minNanos()).isLessThanOrEqualTo(trace.medianNanos());
    assertThat(trace.medianNanos()).isLessThanOrEqualTo(trace.p99Nanos());
    assertThat(trace.p99Nanos()).isLessThanOrEqualTo(trace.maxNanos());
    assertThat(trace.totalNanos()).isGreaterThanOrEqualTo(1000 * trace.minNanos());
  }

  @Test
  void onOut_unknownPort_resumesAndManyUnknownPortsStayBounded() {
    ExitDispatcher exits = new ExitDispatcher();
    for (int port = 0; port < 1000; port++) {
      assertThat(exits.onOut(VCPU, port, 0)).isEqualTo(ExitAction.RESUME);
    }

    ExitProfile profile = exits.profile();

    assertThat(profile.rows()).hasSize(ExitDispatcher.MAX_UNKNOWN_PORT_ROWS + 1);
    assertThat(profile.row(ExitProfile.UNKNOWN_PORT, ExitProfile.NO_PORT).orElseThrow().count())
        .isEqualTo(1000 - ExitDispatcher.MAX_UNKNOWN_PORT_ROWS);
    assertThat(profile.totalExits()).isEqualTo(1000);
  }

  @Test
  void onOut_handlerThrows_stopsCountsAndKeepsFirstError() {
    ExitDispatcher exits =
        new ExitDispatcher()
            .register(
                ExitPorts.TRACE,
                (vcpu, value) -> {
                  throw new IllegalStateException("bad ring");
                });

    assertThat(exits.onOut(VCPU, ExitPorts.TRACE, 2)).isEqualTo(ExitAction.STOP);
    assertThat(exits.firstHandlerError())
        .contains("exit handler failed on port trace: java.lang.IllegalStateException: bad ring");
    assertThat(exits.profile().row(ExitProfile.OUT, ExitPorts.TRACE).orElseThrow().errors())
        .isEqualTo(1);
  }

  @Test
  void addListener_seesEveryOutBeforeTheHandler() {
    List<String> order = new ArrayList<>();
    ExitDispatcher exits =
        new ExitDispatcher()
            .register(
                ExitPorts.HOST_CALL,
                (vcpu, value) -> {
                  order.add("handler");
                  return ExitAction.RESUME;
                })
            .addListener((vcpu, port, value) -> order.add("listener " + ExitPorts.name(port)));

    exits.onOut(VCPU, ExitPorts.HOST_CALL, 0);
    exits.onOut(VCPU, 0x99, 0);

    assertThat(order).containsExactly("listener host_call", "handler", "listener 0x99");
  }
}
