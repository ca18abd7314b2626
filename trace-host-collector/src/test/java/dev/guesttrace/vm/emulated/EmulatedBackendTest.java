package dev.guesttrace.vm.emulated;

import static dev.guesttrace.vm.emulated.TestImages.boot;
import static dev.guesttrace.vm.emulated.TestImages.config;
import static dev.guesttrace.vm.emulated.TestImages.source;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.Register;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import dev.guesttrace.vm.VmException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class EmulatedBackendTest {
  private static final ExitHandler RESUME = (vcpu, port, value) -> ExitAction.RESUME;

  private final EmulatedBackend backend = new EmulatedBackend();

  @Test
  void run_guestHalts_returnsHaltedAfterRunningOnItsVcpuThread() throws VmException {
    AtomicReference<String> threadName = new AtomicReference<>();
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      threadName.set(Thread.currentThread().getName());
                      cpu.memory().set(ValueLayout.JAVA_LONG, 0x20000, 42L);
                      cpu.hlt();
                    })))) {
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);

      assertThat(outcome).isEqualTo(new RunOutcome.Halted());
      assertThat(threadName.get()).isEqualTo("vcpu-0");
      assertThat(vm.memory().get(ValueLayout.JAVA_LONG, 0x20000)).isEqualTo(42L);
      assertThat(vm.memory().byteSize()).isEqualTo(4 << 20);
      assertThat(vm.backendName()).isEqualTo("emulated");
    }
  }

  @Test
  void run_dispatchEntry_runsDispatch() throws VmException {
    try (Vm vm =
        backend.create(
            config(),
            source(
                TestImages.image(
                    cpu -> cpu.hlt(),
                    cpu -> {
                      cpu.memory().set(ValueLayout.JAVA_INT, 0x20000, 7);
                      cpu.hlt();
                    })))) {
      assertThat(vm.run(0, Vm.Entry.DISPATCH, RESUME)).isEqualTo(new RunOutcome.Halted());
      assertThat(vm.memory().get(ValueLayout.JAVA_INT, 0x20000)).isEqualTo(7);
    }
  }

  @Test
  void run_guestReadsOutsideMemory_faultsWithOneLineReasonAndRegisters() throws VmException {
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      cpu.register(Register.RBX, 0x1234);
                      cpu.memory().get(ValueLayout.JAVA_LONG, 5L << 20);
                      cpu.hlt();
                    })))) {
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);

      assertThat(outcome).isInstanceOf(RunOutcome.Faulted.class);
      RunOutcome.Faulted fault = (RunOutcome.Faulted) outcome;
      assertThat(fault.reason())
          .isEqualTo(
              "guest accessed memory outside its range: address=0x500000 length=8"
                  + " memoryBytes=0x400000");
      assertThat(fault.registers()).hasSize(Register.COUNT);
      assertThat(fault.registers()[Register.RBX.ordinal()]).isEqualTo(0x1234);
    }
  }

  @Test
  void run_guestThrows_faultsAndTheVmRunsAgain() throws VmException {
    int[] calls = {0};
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      if (calls[0]++ == 0) {
                        throw new ArithmeticException("/ by zero");
                      }
                      cpu.hlt();
                    })))) {
      RunOutcome first = vm.run(0, Vm.Entry.BOOT, RESUME);
      RunOutcome second = vm.run(0, Vm.Entry.BOOT, RESUME);

      assertThat(((RunOutcome.Faulted) first).reason())
          .isEqualTo("guest faulted: ArithmeticException: / by zero");
      assertThat(second).isEqualTo(new RunOutcome.Halted());
    }
  }

  @Test
  void run_guestRecursesForever_faultsWithStackOverflow() throws VmException {
    try (Vm vm = backend.create(config(), source(boot(cpu -> recurse(cpu, 0))))) {
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);

      assertThat(((RunOutcome.Faulted) outcome).reason()).isEqualTo("guest overflowed its stack");
    }
  }

  private static long recurse(dev.guesttrace.guest.GuestCpu cpu, long depth) {
    return recurse(cpu, depth + 1) + 1;
  }

  @Test
  void run_guestReturnsWithoutHlt_faults() throws VmException {
    try (Vm vm = backend.create(config(), source(boot(cpu -> {})))) {
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);

      assertThat(((RunOutcome.Faulted) outcome).reason())
          .isEqualTo("guest boot returned without executing HLT");
    }
  }

  @Test
  void run_outExit_handlerSeesPortValueRegistersAndGuestSeesHandlerWrites() throws VmException {
    List<String> exits = new ArrayList<>();
    long[] seenByGuest = new long[1];
    ExitHandler handler =
        (vcpu, port, value) -> {
          exits.add(
              port
                  + ":"
                  + value
                  + ":"
                  + vcpu.register(Register.RDI)
                  + ":"
                  + Thread.currentThread().getName());
          vcpu.register(Register.RAX, 99);
          return ExitAction.RESUME;
        };
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      cpu.register(Register.RDI, 5);
                      cpu.out(0x71, 3);
                      seenByGuest[0] = cpu.register(Register.RAX);
                      cpu.hlt();
                    })))) {
      assertThat(vm.run(0, Vm.Entry.BOOT, handler)).isEqualTo(new RunOutcome.Halted());
      assertThat(exits).containsExactly("113:3:5:vcpu-0");
      assertThat(seenByGuest[0]).isEqualTo(99);
    }
  }

  @Test
  void run_handlerReturnsStop_unwindsGuestToStopped() throws VmException {
    boolean[] continued = {false};
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      cpu.out(0x73, 1);
                      continued[0] = true;
                      cpu.hlt();
                    })))) {
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, (vcpu, port, value) -> ExitAction.STOP);

      assertThat(outcome).isEqualTo(new RunOutcome.Stopped());
      assertThat(continued[0]).isFalse();
    }
  }

  @Test
  void run_handlerThrows_failsTheRunNotTheGuest() throws VmException {
    try (Vm vm = backend.create(config(), source(boot(cpu -> cpu.out(0x70, 2))))) {
      assertThatThrownBy(
              () ->
                  vm.run(
                      0,
                      Vm.Entry.BOOT,
                      (vcpu, port, value) -> {
                        throw new IllegalArgumentException("boom");
                      }))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "exit handler failed on port trace: java.lang.IllegalArgumentException: boom");
    }
  }

  @Test
  void run_runawayGuest_isStoppedWithinTwiceItsTimeout() throws VmException {
    Duration timeout = Duration.ofMillis(300);
    try (Vm vm =
        backend.create(
            config(1, timeout, TestImages.VIRTUAL),
            source(
                boot(
                    cpu -> {
                      while (true) {
                        cpu.rdtsc();
                      }
                    })))) {
      long start = System.nanoTime();
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);
      long elapsed = System.nanoTime() - start;

      assertThat(outcome).isEqualTo(new RunOutcome.TimedOut(timeout, true));
      assertThat(elapsed).isGreaterThanOrEqualTo(timeout.toNanos());
      assertThat(elapsed).isLessThan(2 * timeout.toNanos());
    }
  }

  @Test
  void run_guestThatNeverExits_isAbandonedAfterTwiceItsTimeout() throws VmException {
    Duration timeout = Duration.ofMillis(100);
    SpinFlag spin = new SpinFlag();
    try (Vm vm =
        backend.create(
            config(1, timeout, TestImages.VIRTUAL),
            source(
                boot(
                    cpu -> {
                      // Touches neither TSC nor registers nor ports: the kill flag cannot reach it.
                      while (spin.running) {
                        Thread.onSpinWait();
                      }
                      cpu.hlt();
                    })))) {
      // stopped=false: the run waited the timeout, asked the guest to stop, waited again, gave up.
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);
      RunOutcome again = vm.run(0, Vm.Entry.BOOT, RESUME);
      spin.running = false;

      assertThat(outcome).isEqualTo(new RunOutcome.TimedOut(timeout, false));
      assertThat(((RunOutcome.Faulted) again).reason())
          .isEqualTo("vCPU 0 was abandoned after a timeout and is still running");
    }
  }

  @Test
  void run_fourVcpus_runConcurrentlyWithDistinctTscOffsets() throws Exception {
    long vcpuOffset = 1_000_000_000_000L;
    TscConfig tsc = new TscConfig(0, 500, vcpuOffset, TscSource.VIRTUAL);
    CyclicBarrier allRunning = new CyclicBarrier(4);
    long[] tscs = new long[4];
    long[][] window = new long[4][2];
    try (EmulatedVm vm =
        backend.create(
            config(4, Duration.ofSeconds(10), tsc),
            source(
                boot(
                    cpu -> {
                      try {
                        // Every vCPU must be inside the guest at once to pass.
                        allRunning.await(5, TimeUnit.SECONDS);
                      } catch (Exception e) {
                        throw new IllegalStateException(e);
                      }
                      window[cpu.vcpuId()][0] = System.nanoTime();
                      tscs[cpu.vcpuId()] = cpu.rdtsc();
                      window[cpu.vcpuId()][1] = System.nanoTime();
                      cpu.hlt();
                    })))) {
      List<Thread> callers = new ArrayList<>();
      RunOutcome[] outcomes = new RunOutcome[4];
      for (int i = 0; i < 4; i++) {
        int vcpu = i;
        callers.add(
            Thread.ofPlatform().start(() -> outcomes[vcpu] = vm.run(vcpu, Vm.Entry.BOOT, RESUME)));
      }
      for (Thread t : callers) {
        t.join();
      }

      assertThat(outcomes).containsOnly(new RunOutcome.Halted());
      for (int i = 0; i < 4; i++) {
        assertThat(tscs[i])
            .isBetween(
                vm.tsc().guestTicksAtNanoTime(window[i][0], i),
                vm.tsc().guestTicksAtNanoTime(window[i][1], i));
        assertThat(vm.tsc().guestTicksAtNanoTime(window[i][0], i))
            .isEqualTo(vm.tsc().guestTicksAtNanoTime(window[i][0], 0) + i * vcpuOffset);
      }
    }
  }

  @Test
  void close_freesGuestMemoryAndRejectsRuns() throws VmException {
    Vm vm = backend.create(config(), source(boot(cpu -> cpu.hlt())));
    var memory = vm.memory();
    vm.run(0, Vm.Entry.BOOT, RESUME);

    vm.close();
    vm.close();

    assertThatThrownBy(() -> memory.get(ValueLayout.JAVA_BYTE, 0))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> vm.run(0, Vm.Entry.BOOT, RESUME))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("VM is closed: guest=test");
  }

  @Test
  void create_nativeGuest_isRefusedWithOneLine() {
    assertThatThrownBy(
            () -> backend.create(config(), new GuestSource.Elf("hello", Path.of("hello.elf"))))
        .isInstanceOf(VmException.class)
        .hasMessage(
            "the emulated backend runs Java guests, found a native binary: guest=hello (use"
                + " --backend kvm)");
  }

  @Test
  void outOfRange_unexpectedMessage_keepsIt() {
    assertThat(EmulatedVcpu.outOfRange(new IndexOutOfBoundsException("Index 9 out of bounds"), 16))
        .isEqualTo("guest accessed memory outside its range: Index 9 out of bounds");
  }

  private static final class SpinFlag {
    volatile boolean running = true;
  }
}
