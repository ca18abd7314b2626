package dev.guesttrace.vm.kvm;

import static dev.guesttrace.vm.kvm.TestElf.code;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.abi.Register;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KVM backend with hand-assembled guests: exits, faults, timeouts, resources. */
class KvmVmTest {
  private static final ExitHandler RESUME = (vcpu, port, value) -> ExitAction.RESUME;
  private static final int HLT = 0xF4;

  private final KvmBackend backend = new KvmBackend();

  @TempDir Path dir;

  @BeforeAll
  static void needsKvm() {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
  }

  private static VmConfig config(int vcpus, Duration timeout) {
    return new VmConfig(4 << 20, vcpus, timeout, VmConfig.TscConfig.HOST);
  }

  private Vm vm(int vcpus, Duration timeout, int... code) throws IOException, VmException {
    return backend.create(
        config(vcpus, timeout), new GuestSource.Elf("test", TestElf.write(dir, code(code))));
  }

  private Vm vm(int... code) throws IOException, VmException {
    return vm(1, Duration.ofSeconds(10), code);
  }

  @Test
  void run_hlt_returnsHalted() throws Exception {
    try (Vm vm = vm(HLT)) {
      assertThat(vm.run(0, Vm.Entry.BOOT, RESUME)).isEqualTo(new RunOutcome.Halted());
      assertThat(vm.backendName()).isEqualTo("kvm");
      assertThat(vm.memory().byteSize()).isEqualTo(4 << 20);
    }
  }

  @Test
  void run_outRoundTrip_handlerSeesPortValueRegistersAndItsWritesReachTheGuest() throws Exception {
    // mov eax,5; mov edi,7; out 0x71,eax; out 0x72,eax; hlt
    try (Vm vm = vm(0xB8, 5, 0, 0, 0, 0xBF, 7, 0, 0, 0, 0xE7, 0x71, 0xE7, 0x72, HLT)) {
      List<String> seen = new ArrayList<>();
      ExitHandler handler =
          (vcpu, port, value) -> {
            seen.add(
                Integer.toHexString(port) + ":" + value + ":rdi=" + vcpu.register(Register.RDI));
            if (port == 0x71) {
              vcpu.register(Register.RAX, vcpu.register(Register.RDI) * 2);
            }
            return ExitAction.RESUME;
          };

      assertThat(vm.run(0, Vm.Entry.BOOT, handler)).isEqualTo(new RunOutcome.Halted());
      assertThat(seen).containsExactly("71:5:rdi=7", "72:14:rdi=7");
    }
  }

  @Test
  void run_in_readsZero() throws Exception {
    // mov eax,0xffffffff; in eax,0x71; out 0x72,eax; hlt
    try (Vm vm = vm(0xB8, 0xFF, 0xFF, 0xFF, 0xFF, 0xE5, 0x71, 0xE7, 0x72, HLT)) {
      List<Integer> values = new ArrayList<>();
      vm.run(
          0,
          Vm.Entry.BOOT,
          (vcpu, port, value) -> {
            values.add(value);
            return ExitAction.RESUME;
          });
      assertThat(values).containsExactly(0);
    }
  }

  @Test
  void run_handlerStops_returnsStopped() throws Exception {
    // out 0x73,eax; jmp $ (never reached)
    try (Vm vm = vm(0xE7, 0x73, 0xEB, 0xFE)) {
      assertThat(vm.run(0, Vm.Entry.BOOT, (vcpu, port, value) -> ExitAction.STOP))
          .isEqualTo(new RunOutcome.Stopped());
    }
  }

  @Test
  void run_entryKindAndVcpuId_arriveInRdiAndRsi() throws Exception {
    // mov eax,edi; out 0x71,eax; mov eax,esi; out 0x72,eax; hlt
    try (Vm vm =
        vm(2, Duration.ofSeconds(10), 0x89, 0xF8, 0xE7, 0x71, 0x89, 0xF0, 0xE7, 0x72, HLT)) {
      List<Integer> values = Collections.synchronizedList(new ArrayList<>());
      ExitHandler record =
          (vcpu, port, value) -> {
            values.add(value);
            return ExitAction.RESUME;
          };
      vm.run(0, Vm.Entry.BOOT, record);
      vm.run(1, Vm.Entry.DISPATCH, record);
      assertThat(values).containsExactly(0, 0, 1, 1);
    }
  }

  @Test
  void run_undefinedInstruction_faultsAsTripleFaultWithRegisters() throws Exception {
    // mov ebx,0xcafe; ud2
    try (Vm vm = vm(0xBB, 0xFE, 0xCA, 0, 0, 0x0F, 0x0B)) {
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);

      assertThat(outcome).isInstanceOf(RunOutcome.Faulted.class);
      RunOutcome.Faulted fault = (RunOutcome.Faulted) outcome;
      assertThat(fault.reason())
          .isEqualTo("guest triple fault (KVM_EXIT_SHUTDOWN): an exception with no handler");
      assertThat(fault.registers()).hasSize(Register.COUNT);
      assertThat(fault.registers()[Register.RBX.ordinal()]).isEqualTo(0xCAFE);
    }
  }

  @Test
  void run_readOutsideMemory_faultsWithAddress() throws Exception {
    // mov eax,[0x10000000]; hlt   (256 MiB: mapped by the page tables, backed by nothing)
    try (Vm vm = vm(0x8B, 0x04, 0x25, 0x00, 0x00, 0x00, 0x10, HLT)) {
      RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, RESUME);

      assertThat(outcome).isInstanceOf(RunOutcome.Faulted.class);
      assertThat(((RunOutcome.Faulted) outcome).reason())
          .isEqualTo("guest read outside its memory: address=0x10000000 length=4");
    }
  }

  @Test
  void run_afterFault_canRunAgain() throws Exception {
    // mov eax,edi; test eax,eax; jz +2 (to ud2); hlt ... : boot faults, dispatch halts
    try (Vm vm = vm(0x89, 0xF8, 0x85, 0xC0, 0x74, 0x01, HLT, 0x0F, 0x0B)) {
      assertThat(vm.run(0, Vm.Entry.BOOT, RESUME)).isInstanceOf(RunOutcome.Faulted.class);
      assertThat(vm.run(0, Vm.Entry.DISPATCH, RESUME)).isEqualTo(new RunOutcome.Halted());
    }
  }

  @Test
  void run_runawayGuest_isStoppedAsTimedOut() throws Exception {
    Duration timeout = Duration.ofMillis(200);
    // jmp $
    try (Vm vm = vm(1, timeout, 0xEB, 0xFE)) {
      assertThat(vm.run(0, Vm.Entry.BOOT, RESUME))
          .isEqualTo(new RunOutcome.TimedOut(timeout, true));
      // The vCPU is usable again afterwards.
      assertThat(vm.run(0, Vm.Entry.BOOT, RESUME))
          .isEqualTo(new RunOutcome.TimedOut(timeout, true));
    }
  }

  @Test
  void run_twoVcpusOnTwoThreads_eachRunsToHalt() throws Exception {
    // mov eax,esi; out 0x71,eax; hlt
    try (Vm vm = vm(2, Duration.ofSeconds(10), 0x89, 0xF0, 0xE7, 0x71, HLT)) {
      ExecutorService threads = Executors.newFixedThreadPool(2);
      try {
        List<Integer> values = Collections.synchronizedList(new ArrayList<>());
        ExitHandler handler =
            (vcpu, port, value) -> {
              values.add(vcpu.vcpuId() * 100 + value);
              return ExitAction.RESUME;
            };
        Future<RunOutcome> first = threads.submit(() -> vm.run(0, Vm.Entry.BOOT, handler));
        Future<RunOutcome> second = threads.submit(() -> vm.run(1, Vm.Entry.BOOT, handler));
        assertThat(first.get()).isEqualTo(new RunOutcome.Halted());
        assertThat(second.get()).isEqualTo(new RunOutcome.Halted());
        assertThat(values).containsExactlyInAnyOrder(0, 101);
      } finally {
        threads.shutdownNow();
      }
    }
  }

  @Test
  void close_releasesEveryFileDescriptorAndMapping() throws Exception {
    Path elf = TestElf.write(dir, code(0xEB, 0xFE));
    long fdsBefore = openFds();
    long vcpuMapsBefore = kvmMappings();
    for (int i = 0; i < 3; i++) {
      try (Vm vm =
          backend.create(config(2, Duration.ofMillis(50)), new GuestSource.Elf("t", elf))) {
        vm.run(0, Vm.Entry.BOOT, RESUME);
      }
    }
    Path faulting = TestElf.write(dir, code(0x0F, 0x0B));
    try (Vm vm =
        backend.create(config(1, Duration.ofSeconds(5)), new GuestSource.Elf("f", faulting))) {
      assertThat(vm.run(0, Vm.Entry.BOOT, RESUME)).isInstanceOf(RunOutcome.Faulted.class);
    }
    assertThat(openFds()).isEqualTo(fdsBefore);
    assertThat(kvmMappings()).isEqualTo(vcpuMapsBefore);
  }

  @Test
  void create_notAnElf_failsWithOneLine() throws Exception {
    Path file = dir.resolve("text.elf");
    Files.writeString(file, "hello, not a binary, but long enough to have an ELF header......");
    assertThatThrownBy(
            () -> backend.create(config(1, Duration.ofSeconds(1)), new GuestSource.Elf("t", file)))
        .isInstanceOf(VmException.class)
        .hasMessage("not an ELF file: expected magic 7f 45 4c 46");
  }

  @Test
  void tscKhz_isKnown() throws Exception {
    try (Vm vm = vm(HLT)) {
      assertThat(vm.tscKhz()).isPresent();
      assertThat(vm.tscKhz().getAsLong()).isGreaterThan(100_000L);
    }
  }

  private static long openFds() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.count();
    }
  }

  private static long kvmMappings() throws IOException {
    try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
      return lines.filter(l -> l.contains("kvm")).count();
    }
  }
}
