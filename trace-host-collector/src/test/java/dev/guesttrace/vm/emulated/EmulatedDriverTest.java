package dev.guesttrace.vm.emulated;

import static dev.guesttrace.vm.emulated.TestImages.boot;
import static dev.guesttrace.vm.emulated.TestImages.config;
import static dev.guesttrace.vm.emulated.TestImages.source;
import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Runs made from a vCPU's driver thread ({@link Vm#startDriver}): the guest runs on that thread.
 */
class EmulatedDriverTest {
  private static final ExitHandler RESUME = (vcpu, port, value) -> ExitAction.RESUME;
  private static final Duration LONG = Duration.ofSeconds(30);

  private final EmulatedBackend backend = new EmulatedBackend();

  @Test
  void startDriver_guestAndItsExitsRunOnTheDriverThread() throws Exception {
    List<String> threads = new ArrayList<>();
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      threads.add("guest " + Thread.currentThread().getName());
                      cpu.out(0x70, 1);
                      cpu.hlt();
                    })))) {
      ExitHandler exits =
          (vcpu, port, value) -> {
            threads.add("exit " + Thread.currentThread().getName());
            return ExitAction.RESUME;
          };
      RunOutcome outcome = drive(vm, () -> vm.run(0, Vm.Entry.BOOT, exits));

      assertThat(outcome).isEqualTo(new RunOutcome.Halted());
      assertThat(threads).containsExactly("guest driver-0", "exit driver-0");
    }
  }

  @Test
  void startDriver_deepGuest_hasTheVcpuThreadsStack() throws Exception {
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      cpu.memory().set(ValueLayout.JAVA_LONG, 0x20000, depth(cpu, 200_000));
                      cpu.hlt();
                    })))) {
      RunOutcome outcome = drive(vm, () -> vm.run(0, Vm.Entry.BOOT, RESUME));

      assertThat(outcome).isEqualTo(new RunOutcome.Halted());
      assertThat(vm.memory().get(ValueLayout.JAVA_LONG, 0x20000)).isEqualTo(200_000L);
    }
  }

  private static long depth(GuestCpu cpu, long left) {
    return left == 0 ? 0 : depth(cpu, left - 1) + 1;
  }

  @Test
  void startDriver_runawayGuest_isStoppedAndTheDriverGoesOn() throws Exception {
    Duration timeout = Duration.ofMillis(100);
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
      AtomicReference<RunOutcome.TimedOut> abandoned = new AtomicReference<>();
      CompletableFuture<RunOutcome> result = new CompletableFuture<>();
      vm.startDriver(
          0, "driver-0", () -> result.complete(vm.run(0, Vm.Entry.BOOT, RESUME)), abandoned::set);

      assertThat(result.get(20, TimeUnit.SECONDS))
          .isEqualTo(new RunOutcome.TimedOut(timeout, true));
      assertThat(abandoned.get()).isNull();
    }
  }

  @Test
  void startDriver_guestThatNeverExits_isAbandonedAndItsDriverNeverResumes() throws Exception {
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
      CompletableFuture<RunOutcome.TimedOut> abandoned = new CompletableFuture<>();
      CompletableFuture<String> driverEnd = new CompletableFuture<>();
      Thread driver =
          vm.startDriver(
              0,
              "driver-0",
              () -> {
                try {
                  driverEnd.complete("returned " + vm.run(0, Vm.Entry.BOOT, RESUME));
                } finally {
                  driverEnd.complete("unwound");
                }
              },
              abandoned::complete);

      assertThat(abandoned.get(20, TimeUnit.SECONDS))
          .isEqualTo(new RunOutcome.TimedOut(timeout, false));
      // Another thread's run finds the vCPU abandoned; the guest, once it lets go, never returns
      // into the driver's code: the driver unwinds.
      RunOutcome again = vm.run(0, Vm.Entry.BOOT, RESUME);
      spin.running = false;
      driver.join(20_000);

      assertThat(((RunOutcome.Faulted) again).reason())
          .isEqualTo("vCPU 0 was abandoned after a timeout and is still running");
      assertThat(driverEnd.getNow("running")).isEqualTo("unwound");
      assertThat(driver.isAlive()).isFalse();
    }
  }

  @Test
  void startDriver_exitHandlerThrows_failsTheRunOnTheDriver() throws Exception {
    try (Vm vm = backend.create(config(), source(boot(cpu -> cpu.out(0x70, 2))))) {
      CompletableFuture<Throwable> thrown = new CompletableFuture<>();
      vm.startDriver(
          0,
          "driver-0",
          () -> {
            try {
              vm.run(
                  0,
                  Vm.Entry.BOOT,
                  (vcpu, port, value) -> {
                    throw new IllegalArgumentException("boom");
                  });
              thrown.complete(null);
            } catch (RuntimeException e) {
              thrown.complete(e);
            }
          },
          t -> {});

      assertThat(thrown.get(20, TimeUnit.SECONDS))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "exit handler failed on port trace: java.lang.IllegalArgumentException: boom");
    }
  }

  @Test
  void startDriver_otherThreadsStillRunTheVcpuOnItsOwnThread() throws Exception {
    AtomicReference<String> thread = new AtomicReference<>();
    try (Vm vm =
        backend.create(
            config(1, LONG, TestImages.VIRTUAL),
            source(
                boot(
                    cpu -> {
                      thread.set(Thread.currentThread().getName());
                      cpu.hlt();
                    })))) {
      assertThat(drive(vm, () -> vm.run(0, Vm.Entry.BOOT, RESUME)))
          .isEqualTo(new RunOutcome.Halted());
      assertThat(thread.get()).isEqualTo("driver-0");

      assertThat(vm.run(0, Vm.Entry.BOOT, RESUME)).isEqualTo(new RunOutcome.Halted());
      assertThat(thread.get()).isEqualTo("vcpu-0");
    }
  }

  @Test
  void runsFromTheDriverAndFromOtherThreads_alternate_eachSeesItsOwnExitHandler() throws Exception {
    try (Vm vm =
        backend.create(
            config(),
            source(
                boot(
                    cpu -> {
                      cpu.out(0x70, 1);
                      cpu.hlt();
                    })))) {
      int[] exits = new int[2];
      ExitHandler viaVcpuThread =
          (vcpu, port, value) -> {
            exits[0]++;
            return ExitAction.RESUME;
          };
      ExitHandler viaDriver =
          (vcpu, port, value) -> {
            exits[1]++;
            return ExitAction.RESUME;
          };
      CompletableFuture<String> driverRuns = new CompletableFuture<>();
      AtomicInteger turn = new AtomicInteger(); // odd: the driver's turn; -1: stop
      AtomicReference<RunOutcome> last = new AtomicReference<>();
      vm.startDriver(
          0,
          "driver-0",
          () -> {
            int seen = 0;
            while (true) {
              int t = turn.get();
              if (t < 0) {
                break;
              }
              if (t % 2 == 1 && t != seen) {
                seen = t;
                try {
                  last.set(vm.run(0, Vm.Entry.BOOT, viaDriver));
                } catch (RuntimeException e) {
                  driverRuns.complete(e.toString());
                  return;
                }
                turn.incrementAndGet();
              }
              Thread.onSpinWait();
            }
            driverRuns.complete("ok");
          },
          t -> driverRuns.complete("abandoned"));
      List<RunOutcome> outcomes = new ArrayList<>();
      // The vCPU thread's run ends just before the driver's starts (both spin, no sleep between):
      // the driver's handler must be the one its exits see, whatever the vCPU thread does last.
      for (int i = 0; i < 500; i++) {
        outcomes.add(vm.run(0, Vm.Entry.BOOT, viaVcpuThread));
        int mine = turn.incrementAndGet();
        while (turn.get() == mine && !driverRuns.isDone()) {
          Thread.onSpinWait();
        }
        outcomes.add(last.get());
      }
      turn.set(-1);

      assertThat(driverRuns.get(20, TimeUnit.SECONDS)).isEqualTo("ok");
      assertThat(outcomes).hasSize(1000).containsOnly(new RunOutcome.Halted());
      assertThat(exits).containsExactly(500, 500);
    }
  }

  /** Runs {@code run} on vCPU 0's driver thread and returns its outcome. */
  private static RunOutcome drive(Vm vm, java.util.function.Supplier<RunOutcome> run)
      throws Exception {
    CompletableFuture<RunOutcome> result = new CompletableFuture<>();
    vm.startDriver(
        0,
        "driver-0",
        () -> {
          try {
            result.complete(run.get());
          } catch (RuntimeException | Error e) {
            result.completeExceptionally(e);
          }
        },
        t -> result.completeExceptionally(new AssertionError("abandoned: " + t)));
    return result.get(20, TimeUnit.SECONDS);
  }

  private static final class SpinFlag {
    volatile boolean running = true;
  }
}
