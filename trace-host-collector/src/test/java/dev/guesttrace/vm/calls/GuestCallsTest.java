package dev.guesttrace.vm.calls;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.GuestImage;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.samples.Guest01Hello;
import dev.guesttrace.samples.Guest02Fib;
import dev.guesttrace.samples.Guest03Alloc;
import dev.guesttrace.samples.Guest04MultiVcpu;
import dev.guesttrace.samples.Guest05Abort;
import dev.guesttrace.samples.Guest06Runaway;
import dev.guesttrace.vm.ExitProfile;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import dev.guesttrace.vm.VmException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GuestCallsTest {
  private static final TscConfig VIRTUAL = new TscConfig(0, 0, 0, TscSource.VIRTUAL);
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  private static SampleHarness harness(GuestProgram program) throws VmException {
    return new SampleHarness(program, 1, TIMEOUT, VIRTUAL, Map.of());
  }

  @Test
  void call_helloPrintOutput_guestCallsHostPrintAndTheReturnValueComesBack() throws VmException {
    try (SampleHarness h = harness(new Guest01Hello())) {
      RunOutcome booted = h.vm.run(0, Vm.Entry.BOOT, h.exits);
      h.exits.recordOutcome(booted, 0);

      GuestCallResult result =
          h.calls.call(0, new FunctionCall("PrintOutput", List.of("Hello, World!")), h.exits);
      h.exits.recordOutcome(result.outcome(), 0);

      assertThat(booted).isEqualTo(new RunOutcome.Halted());
      assertThat(result).isEqualTo(new GuestCallResult(new RunOutcome.Halted(), 13L, ""));
      assertThat(h.printed).containsExactly("Hello, World!");
      assertThat(h.hostCallLog).containsExactly("0 HostPrint true ");
      assertThat(h.hostCalls.callCount()).isEqualTo(1);
      assertThat(h.hostCalls.errorCount()).isZero();
      // Boot: register + flush at halt; call: host call + flush at halt.
      assertThat(h.exits.profile().rows())
          .extracting(r -> r.reason() + "/" + r.portName() + "=" + r.count())
          .containsExactly("out/trace=3", "out/host_call=1", "hlt/-=2");
    }
  }

  @Test
  void call_unknownGuestFunction_returnsTheGuestsErrorString() throws VmException {
    try (SampleHarness h = harness(new Guest01Hello())) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);

      GuestCallResult result = h.calls.call(0, new FunctionCall("Nope", List.of()), h.exits);

      assertThat(result.value()).isEqualTo("error: unknown guest function: Nope");
    }
  }

  @Test
  void hostCall_unknownFunction_guestGetsErrorStatusAndTextAndHostCountsIt() throws VmException {
    GuestProgram caller =
        program(
            (runtime, call) -> {
              try {
                return runtime.callHost("NoSuchHostFunction", 1L);
              } catch (GuestRuntime.HostCallException e) {
                return "status " + e.status() + ": " + e.getMessage();
              }
            });
    try (SampleHarness h = harness(caller)) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);

      GuestCallResult result = h.calls.call(0, new FunctionCall("go", List.of()), h.exits);

      assertThat(result.value())
          .isEqualTo("status 1: error: unknown host function: NoSuchHostFunction");
      assertThat(h.hostCalls.errorCount()).isEqualTo(1);
      assertThat(h.hostCalls.firstError()).contains("unknown host function: NoSuchHostFunction");
      assertThat(h.hostCallLog)
          .containsExactly("0 NoSuchHostFunction true unknown host function: NoSuchHostFunction");
    }
  }

  @Test
  void hostCall_builtinsReturnTheirValues() throws VmException {
    GuestProgram caller =
        program(
            (runtime, call) -> {
              long before = (Long) runtime.callHost("HostTimeNanos");
              Object slept = runtime.callHost("HostSleepMicros", 10L);
              long after = (Long) runtime.callHost("HostTimeNanos");
              Object bad;
              try {
                bad = runtime.callHost("HostSleepMicros", "ten");
              } catch (GuestRuntime.HostCallException e) {
                bad = "status " + e.status() + ": " + e.getMessage();
              }
              return (after - before >= 10_000 ? "ok" : "short") + " " + slept + " " + bad;
            });
    try (SampleHarness h = harness(caller)) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);

      GuestCallResult result = h.calls.call(0, new FunctionCall("go", List.of()), h.exits);

      assertThat(result.value())
          .isEqualTo(
              "ok null status 3: error: host function HostSleepMicros failed: HostSleepMicros expects"
                  + " 0..1000000 microseconds");
    }
  }

  @Test
  void hostCall_malformedCallInOutputBuffer_guestGetsErrorValueAndHostSurvives()
      throws VmException {
    String[] seen = new String[1];
    GuestImage raw =
        image(
            cpu -> {
              BootInfo boot = BootInfo.read(cpu.memory());
              long out = boot.outputBuffer(cpu.vcpuId());
              cpu.memory().set(ValueLayout.JAVA_INT_UNALIGNED, out, 0x7FFFFFFF); // absurd length
              cpu.out(ExitPorts.HOST_CALL, 0);
              seen[0] =
                  "status "
                      + cpu.register(dev.guesttrace.abi.Register.RAX)
                      + ": "
                      + String.valueOf(
                          dev.guesttrace.abi.CallCodec.readValue(
                              cpu.memory(),
                              boot.inputBuffer(cpu.vcpuId()),
                              boot.callBufferLength()));
              cpu.hlt();
            });
    try (SampleHarness h = new SampleHarness(raw, "raw", 1, TIMEOUT, VIRTUAL, Map.of())) {
      assertThat(h.vm.run(0, Vm.Entry.BOOT, h.exits)).isEqualTo(new RunOutcome.Halted());
      assertThat(seen[0])
          .isEqualTo(
              "status 2: error: malformed host call: call message longer than its buffer: expected"
                  + " at most"
                  + " 16380 bytes, found 2147483647");
      assertThat(h.hostCalls.errorCount()).isEqualTo(1);
      assertThat(h.hostCallLog).singleElement().asString().startsWith("0 <malformed> true ");
    }
  }

  @Test
  void call_guestLeavesMalformedReturnValue_isReportedNotThrown() throws VmException {
    GuestImage raw =
        new GuestImage() {
          @Override
          public void boot(GuestCpu cpu) {
            cpu.hlt();
          }

          @Override
          public void dispatch(GuestCpu cpu) {
            BootInfo boot = BootInfo.read(cpu.memory());
            long out = boot.outputBuffer(cpu.vcpuId());
            cpu.memory().set(ValueLayout.JAVA_INT_UNALIGNED, out, 1);
            cpu.memory().set(ValueLayout.JAVA_BYTE, out + 4, (byte) 9); // no such type
            cpu.hlt();
          }
        };
    try (SampleHarness h = new SampleHarness(raw, "raw", 1, TIMEOUT, VIRTUAL, Map.of())) {
      GuestCallResult result = h.calls.call(0, new FunctionCall("f", List.of()), h.exits);

      assertThat(result.ok()).isFalse();
      assertThat(result.error())
          .isEqualTo(
              "guest call f returned a malformed value: unknown value type: expected 0..3, found 9");
    }
  }

  @Test
  void call_guestHaltsWithoutValue_isReported() throws VmException {
    GuestImage raw = image(GuestCpu::hlt);
    try (SampleHarness h = new SampleHarness(raw, "raw", 1, TIMEOUT, VIRTUAL, Map.of())) {
      GuestCallResult result = h.calls.call(0, new FunctionCall("f", List.of()), h.exits);

      assertThat(result.error())
          .isEqualTo(
              "guest call f returned a malformed value: call message cut short: expected 1 bytes"
                  + " of type, found 0");
    }
  }

  @Test
  void log_guestLogLine_reachesTheListener() throws VmException {
    GuestProgram logger =
        program(
            (runtime, call) -> {
              runtime.log(ExitPorts.LOG_WARN, "disk almost full: 93%");
              return null;
            });
    try (SampleHarness h = harness(logger)) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);

      GuestCallResult result = h.calls.call(0, new FunctionCall("go", List.of()), h.exits);

      assertThat(result).isEqualTo(new GuestCallResult(new RunOutcome.Halted(), null, ""));
      assertThat(h.logs).containsExactly("0:2:disk almost full: 93%");
    }
  }

  @Test
  void call_abortSample_stopsWithCodeMessageAndUnflushedRecords() throws VmException {
    try (SampleHarness h = harness(new Guest05Abort())) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);
      int exitsAfterBoot = h.traceExits.size();

      GuestCallResult result = h.calls.call(0, new Guest05Abort().defaultCall(), h.exits);

      assertThat(result.outcome()).isEqualTo(new RunOutcome.Stopped());
      assertThat(result.error()).isEqualTo("guest call Run did not complete: the guest aborted");
      assertThat(h.aborts.firstAbort())
          .contains(new AbortHandler.Abort(0, 42, "deliberate abort in step 7"));
      // No trace exit during the call: its records are in the ring, unflushed.
      assertThat(h.traceExits).hasSize(exitsAfterBoot);
      long region = h.traceExits.getFirst().guestTsc() >= 0 ? regionOf(h) : 0;
      long written = (long) TraceRegionDescriptor.WRITE_SEQUENCE_HANDLE.get(h.vm.memory(), region);
      assertThat(written).isGreaterThan(h.traceExits.getLast().writeSequence());
    }
  }

  @Test
  void call_runawaySample_isStoppedWithinTwiceItsTimeout() throws VmException {
    Duration timeout = Duration.ofMillis(300);
    try (SampleHarness h = new SampleHarness(new Guest06Runaway(), 1, timeout, VIRTUAL, Map.of())) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);
      long start = System.nanoTime();

      GuestCallResult result = h.calls.call(0, new Guest06Runaway().defaultCall(), h.exits);
      long elapsed = System.nanoTime() - start;
      h.exits.recordOutcome(result.outcome(), 0);

      assertThat(result.outcome()).isEqualTo(new RunOutcome.TimedOut(timeout, true));
      assertThat(result.error())
          .isEqualTo("guest call Spin did not complete: timed out after 300 ms");
      assertThat(elapsed).isLessThan(2 * timeout.toNanos());
      assertThat(
              h.exits.profile().row(ExitProfile.TIMEOUT, ExitProfile.NO_PORT).orElseThrow().count())
          .isEqualTo(1);
      // Stream mode: the runaway kept flushing full rings while it ran.
      assertThat(h.traceExits.size()).isGreaterThan(3);
    }
  }

  @Test
  void call_fibSample_returnsFibAndWrapsTheRingManyTimes() throws VmException {
    try (SampleHarness h = harness(new Guest02Fib())) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);
      int before = h.traceExits.size();

      GuestCallResult result = h.calls.call(0, new Guest02Fib().defaultCall(), h.exits);

      assertThat(result.value()).isEqualTo(6765L);
      // fib(20): 21,891 spans, 43,782 records through a 2048-slot ring.
      long written =
          h.traceExits.getLast().writeSequence() - h.traceExits.get(before - 1).writeSequence();
      assertThat(written).isGreaterThan(43_782);
      assertThat(h.traceExits.size() - before).isGreaterThanOrEqualTo(21);
    }
  }

  @Test
  void call_allocSample_freesEverythingUnlessAskedToLeak() throws VmException {
    try (SampleHarness h =
        new SampleHarness(new Guest03Alloc(), 1, TIMEOUT, VIRTUAL, Map.of("leak", "3"))) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);

      GuestCallResult result = h.calls.call(0, new Guest03Alloc().defaultCall(), h.exits);

      assertThat(result.value()).isEqualTo(3L);
    }
  }

  @Test
  void run_multiVcpuSample_fourVcpusWithDistinctTscOffsets() throws Exception {
    long vcpuOffset = 1_000_000_000_000L;
    TscConfig tsc = new TscConfig(2e9, 7_000, vcpuOffset, TscSource.VIRTUAL);
    GuestProgram program = new Guest04MultiVcpu();
    try (SampleHarness h = new SampleHarness(program, 4, TIMEOUT, tsc, Map.of())) {
      long start = System.nanoTime();
      List<Thread> threads = new ArrayList<>();
      RunOutcome[] boots = new RunOutcome[4];
      GuestCallResult[] results = new GuestCallResult[4];
      for (int i = 0; i < 4; i++) {
        int vcpu = i;
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      boots[vcpu] = h.vm.run(vcpu, Vm.Entry.BOOT, h.exits);
                      results[vcpu] = h.calls.call(vcpu, program.defaultCall(), h.exits);
                    }));
      }
      for (Thread t : threads) {
        t.join();
      }

      assertThat(boots).containsOnly(new RunOutcome.Halted());
      assertThat(results).allSatisfy(r -> assertThat(r.ok()).isTrue());
      assertThat(h.traceExits).extracting(SampleHarness.TraceExit::vcpuId).contains(0, 1, 2, 3);
      for (SampleHarness.TraceExit exit : List.copyOf(h.traceExits)) {
        // The guest read its TSC just before the OUT: after the run began, before the handler ran.
        assertThat(exit.guestTsc())
            .isBetween(
                h.vm.tsc().guestTicksAtNanoTime(start, exit.vcpuId()),
                h.vm.tsc().guestTicksAtNanoTime(exit.hostNanos(), exit.vcpuId()));
      }
    }
  }

  @Test
  void call_helloWithSlowPrintOutput_spendsAtLeastTheExtraTimeInTheGuest() throws VmException {
    try (SampleHarness h =
        new SampleHarness(
            new Guest01Hello(),
            1,
            TIMEOUT,
            VIRTUAL,
            Map.of("slow", "PrintOutput", "slowMicros", "2000"))) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);
      long start = System.nanoTime();

      GuestCallResult result = h.calls.call(0, new Guest01Hello().defaultCall(), h.exits);
      long elapsed = System.nanoTime() - start;

      assertThat(result.value()).isEqualTo(13L);
      // A lower bound only: the guest busy-waits 2 ms of host time inside PrintOutput.
      assertThat(elapsed).isGreaterThanOrEqualTo(2_000_000L);
    }
  }

  @Test
  void call_fibWithArgN_usesIt() throws VmException {
    try (SampleHarness h =
        new SampleHarness(new Guest02Fib(), 1, TIMEOUT, VIRTUAL, Map.of("n", "10"))) {
      h.vm.run(0, Vm.Entry.BOOT, h.exits);

      assertThat(h.calls.call(0, new Guest02Fib().defaultCall(), h.exits).value()).isEqualTo(55L);
      assertThat(h.calls.call(0, new FunctionCall("Fib", List.of(30L)), h.exits).value())
          .isEqualTo(832_040L);
    }
  }

  @Test
  void run_steppedTsc_sameGuestGivesTheSameTimestampsEveryRun() throws VmException {
    TscConfig stepped = new TscConfig(0, 0, 0, TscSource.STEPPED);
    List<List<Long>> runs = new ArrayList<>();
    for (int run = 0; run < 2; run++) {
      try (SampleHarness h = new SampleHarness(new Guest01Hello(), 1, TIMEOUT, stepped, Map.of())) {
        h.vm.run(0, Vm.Entry.BOOT, h.exits);
        h.calls.call(0, new Guest01Hello().defaultCall(), h.exits);
        runs.add(h.traceExits.stream().map(SampleHarness.TraceExit::guestTsc).toList());
      }
    }

    assertThat(runs.get(0)).hasSize(3).isEqualTo(runs.get(1));
  }

  private static long regionOf(SampleHarness h) {
    // The register exit's RDI is not kept; the region is the first after the name table.
    BootInfo boot = h.boot;
    return boot.heapAddress() + GuestRuntime.NAME_TABLE_LENGTH;
  }

  private interface Body {
    Object call(GuestRuntime runtime, FunctionCall call);
  }

  private static GuestProgram program(Body body) {
    return new GuestProgram() {
      @Override
      public String name() {
        return "test";
      }

      @Override
      public String summary() {
        return "test";
      }

      @Override
      public void main(GuestRuntime runtime) {}

      @Override
      public Object call(GuestRuntime runtime, FunctionCall call) {
        return body.call(runtime, call);
      }
    };
  }

  private static GuestImage image(java.util.function.Consumer<GuestCpu> both) {
    return new GuestImage() {
      @Override
      public void boot(GuestCpu cpu) {
        both.accept(cpu);
      }

      @Override
      public void dispatch(GuestCpu cpu) {
        both.accept(cpu);
      }
    };
  }

  @SuppressWarnings("unused")
  private static MemorySegment unused(Register r) {
    return MemorySegment.NULL;
  }
}
