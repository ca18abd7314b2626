package dev.guesttrace.vm.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.vm.GuestMemoryLayout;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The C sample guests (built by sample-guests with gcc) running on KVM. */
class KvmGuestsTest {
  private static final long MEMORY = 8 << 20;

  @BeforeAll
  static void needsKvmAndGcc() {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    assumeTrue(KvmGuests.find("hello").isPresent(), "skipped: no gcc (C guests were not built)");
  }

  private record Run(Vm vm, TestHost host, GuestMemoryLayout layout) implements AutoCloseable {
    @Override
    public void close() {
      vm.close();
    }
  }

  private static Run start(String guest, int vcpus, int mode, Map<String, String> args)
      throws Exception {
    GuestSource.Elf elf = KvmGuests.find(guest).orElseThrow();
    GuestMemoryLayout layout = TestHost.layout(MEMORY, vcpus);
    Vm vm =
        new KvmBackend()
            .create(
                new VmConfig(MEMORY, vcpus, Duration.ofSeconds(10), VmConfig.TscConfig.HOST), elf);
    layout.bootInfo(0, mode, args).write(vm.memory());
    return new Run(vm, new TestHost(layout), layout);
  }

  private static final List<String> BOOT =
      List.of(
          "B entrypoint",
          "B load_gdt",
          "E load_gdt",
          "B load_idt",
          "B init_idt",
          "E init_idt",
          "E load_idt",
          "B hyperlight_main",
          "E hyperlight_main",
          "E entrypoint",
          "B halt",
          "E halt");

  @Test
  void hello_bootAndPrintOutput_produceTheJavaHelloTreeShape() throws Exception {
    try (Run run = start("hello", 1, BootInfo.MODE_STREAM, Map.of())) {
      assertThat(run.vm.run(0, Vm.Entry.BOOT, run.host)).isEqualTo(new RunOutcome.Halted());
      run.host.call(run.vm.memory(), 0, "PrintOutput", "Hello, World!");
      assertThat(run.vm.run(0, Vm.Entry.DISPATCH, run.host)).isEqualTo(new RunOutcome.Halted());
      run.host.drain(run.vm.memory(), 0);

      assertThat(run.host.printed).containsExactly("Hello, World!");
      assertThat(run.host.result(run.vm.memory(), 0)).isEqualTo(13L);
      List<String> expected = new ArrayList<>(BOOT);
      expected.addAll(
          List.of(
              "B dispatch_function",
              "B internal_dispatch_function",
              "B try_pop_shared_input_data_into",
              "M Start converting buffer",
              "M Finish converting buffer",
              "E try_pop_shared_input_data_into",
              "B call_guest_function",
              "M Calling guest function",
              "B call_host_function",
              "B call_host_function_without_returning_result",
              "B push_shared_output_data",
              "M Start copy of data",
              "M Finish copy of data",
              "E push_shared_output_data",
              "B out32",
              "E out32",
              "E call_host_function_without_returning_result",
              "B get_host_return_value",
              "B try_pop_shared_input_data_into",
              "M Start converting buffer",
              "M Finish converting buffer",
              "E try_pop_shared_input_data_into",
              "E get_host_return_value",
              "E call_host_function",
              "E call_guest_function",
              "B push_shared_output_data",
              "M Start copy of data",
              "M Finish copy of data",
              "E push_shared_output_data",
              "E internal_dispatch_function",
              "E dispatch_function",
              "B halt",
              "E halt"));
      assertThat(run.host.rendered(run.vm.memory(), 0)).containsExactlyElementsOf(expected);
    }
  }

  @Test
  void hello_timestamps_increaseAndFlushesCarryTheTsc() throws Exception {
    try (Run run = start("hello", 1, BootInfo.MODE_STREAM, Map.of())) {
      run.vm.run(0, Vm.Entry.BOOT, run.host);
      run.host.drain(run.vm.memory(), 0);
      List<long[]> records = run.host.raw(0);
      assertThat(records).hasSize(BOOT.size());
      for (int i = 1; i < records.size(); i++) {
        assertThat(records.get(i)[1]).isGreaterThanOrEqualTo(records.get(i - 1)[1]);
      }
      assertThat(run.host.flushes).isEqualTo(1);
    }
  }

  @Test
  void fib_wrapsTheRingManyTimes_everyRecordReachesTheHost() throws Exception {
    try (Run run = start("fib", 1, BootInfo.MODE_STREAM, Map.of("n", "15"))) {
      run.vm.run(0, Vm.Entry.BOOT, run.host);
      run.host.call(run.vm.memory(), 0, "Fib");
      assertThat(run.vm.run(0, Vm.Entry.DISPATCH, run.host)).isEqualTo(new RunOutcome.Halted());
      run.host.drain(run.vm.memory(), 0);

      assertThat(run.host.result(run.vm.memory(), 0)).isEqualTo(610L);
      List<String> records = run.host.rendered(run.vm.memory(), 0);
      // fib(15) makes 1973 calls: a begin and an end each.
      assertThat(records.stream().filter(r -> r.equals("B fib")).count()).isEqualTo(1973);
      assertThat(records.stream().filter(r -> r.equals("E fib")).count()).isEqualTo(1973);
      assertThat(run.host.flushes).isGreaterThan(2);
    }
  }

  @Test
  void fib_flightMode_neverExitsUntilHaltAndCountsOverwrittenSlots() throws Exception {
    try (Run run = start("fib", 1, BootInfo.MODE_FLIGHT, Map.of("n", "15"))) {
      run.vm.run(0, Vm.Entry.BOOT, run.host);
      run.host.call(run.vm.memory(), 0, "Fib");
      run.vm.run(0, Vm.Entry.DISPATCH, run.host);
      assertThat(run.host.flushes).isZero();
      long region = run.host.region(0);
      long written =
          run.vm
              .memory()
              .get(ValueLayout.JAVA_LONG, region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
      long overwritten =
          run.vm
              .memory()
              .get(ValueLayout.JAVA_LONG, region + TraceRegionDescriptor.OVERWRITTEN_SLOTS_OFFSET);
      // 2048 slots (default ring): everything past the first 2048 slots overwrote an older one.
      assertThat(overwritten).isEqualTo(written - 2048);
      assertThat(written).isGreaterThan(2 * 1973);
    }
  }

  @Test
  void alloc_allocAndFreeRecordsBalance() throws Exception {
    try (Run run = start("alloc", 1, BootInfo.MODE_STREAM, Map.of("ops", "300", "leak", "2"))) {
      run.vm.run(0, Vm.Entry.BOOT, run.host);
      run.host.call(run.vm.memory(), 0, "Churn");
      assertThat(run.vm.run(0, Vm.Entry.DISPATCH, run.host)).isEqualTo(new RunOutcome.Halted());
      run.host.drain(run.vm.memory(), 0);

      assertThat(run.host.result(run.vm.memory(), 0)).isEqualTo(2L);
      long allocs = 0;
      long frees = 0;
      long liveBytes = 0;
      for (long[] r : run.host.raw(0)) {
        int kind = (int) (r[0] & 0xFF);
        if (kind == 5) {
          allocs++;
          liveBytes += r[3];
        } else if (kind == 6) {
          frees++;
          liveBytes -= r[3];
        }
      }
      assertThat(allocs - frees).isEqualTo(2);
      assertThat(liveBytes).isPositive();
    }
  }

  @Test
  void abort_recordsStayInTheRingAndTheHostGetsCodeAndMessage() throws Exception {
    try (Run run = start("abort", 1, BootInfo.MODE_STREAM, Map.of("step", "3"))) {
      run.vm.run(0, Vm.Entry.BOOT, run.host);
      run.host.call(run.vm.memory(), 0, "Run");
      assertThat(run.vm.run(0, Vm.Entry.DISPATCH, run.host)).isEqualTo(new RunOutcome.Stopped());
      run.host.drain(run.vm.memory(), 0);

      assertThat(run.host.abortCode).isEqualTo(42);
      assertThat(run.host.abortMessage).isEqualTo("deliberate abort in step 3");
      List<String> records = run.host.rendered(run.vm.memory(), 0);
      assertThat(records.subList(records.size() - 3, records.size()))
          .containsExactly("B compute", "E compute", "M step 3 failed: giving up");
    }
  }

  @Test
  void runaway_isStoppedAtTheTimeout() throws Exception {
    GuestSource.Elf elf = KvmGuests.find("runaway").orElseThrow();
    GuestMemoryLayout layout = TestHost.layout(MEMORY, 1);
    Duration timeout = Duration.ofMillis(300);
    try (Vm vm =
        new KvmBackend().create(new VmConfig(MEMORY, 1, timeout, VmConfig.TscConfig.HOST), elf)) {
      layout.bootInfo(0, BootInfo.MODE_FLIGHT, Map.of("at", "boot")).write(vm.memory());
      assertThat(vm.run(0, Vm.Entry.BOOT, new TestHost(layout)))
          .isEqualTo(new RunOutcome.TimedOut(timeout, true));
    }
  }

  @Test
  void multiVcpu_fourVcpusOnFourThreads_eachHasItsOwnRing() throws Exception {
    try (Run run = start("multi-vcpu", 4, BootInfo.MODE_STREAM, Map.of("units", "4"))) {
      ExecutorService threads = Executors.newFixedThreadPool(4);
      try {
        List<Future<RunOutcome>> outcomes = new ArrayList<>();
        for (int v = 0; v < 4; v++) {
          int vcpu = v;
          outcomes.add(threads.submit(() -> run.vm.run(vcpu, Vm.Entry.BOOT, run.host)));
        }
        for (Future<RunOutcome> outcome : outcomes) {
          assertThat(outcome.get()).isEqualTo(new RunOutcome.Halted());
        }
      } finally {
        threads.shutdownNow();
      }
      for (int v = 0; v < 4; v++) {
        run.host.drain(run.vm.memory(), v);
        List<String> records = run.host.rendered(run.vm.memory(), v);
        // units / 2 = 2 at boot: vCPU v runs (v + 1) * 2 work spans.
        assertThat(records.stream().filter(r -> r.equals("B work")).count())
            .isEqualTo((v + 1) * 2L);
        assertThat(records.stream().filter(r -> r.equals("B mix")).count()).isEqualTo((v + 1) * 8L);
        assertThat(records.getFirst()).isEqualTo("B entrypoint");
        assertThat(records.getLast()).isEqualTo("E halt");
      }
    }
  }
}
