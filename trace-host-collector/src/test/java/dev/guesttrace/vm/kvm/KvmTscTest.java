package dev.guesttrace.vm.kvm;

import static dev.guesttrace.vm.kvm.TestElf.code;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.abi.Register;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host's reads of a KVM vCPU's guest TSC against what the guest itself reads with {@code
 * rdtsc}, and {@code --tsc-ghz} on KVM: applied or refused in one line, never ignored. Skipped,
 * saying why, without {@code /dev/kvm}.
 */
class KvmTscTest {
  private static final int HLT = 0xF4;
  private static final int[] RDTSC_OUT = {0x0F, 0x31, 0xE7, 0x71}; // rdtsc; out 0x71, eax

  private final KvmBackend backend = new KvmBackend();

  @TempDir Path dir;

  @BeforeAll
  static void needsKvm() {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
  }

  private Vm vm(VmConfig.TscConfig tsc, int... code) throws Exception {
    return backend.create(
        new VmConfig(4 << 20, 1, Duration.ofSeconds(10), tsc),
        new GuestSource.Elf("tsc", TestElf.write(dir, code(code))));
  }

  /**
   * Each guest {@code rdtsc} before an OUT is at most the host's read right after that exit, and
   * the host's read right before the resume is at most the guest's next {@code rdtsc}: the
   * host-read pairs bound the guest's clock from both sides, as the calibration relies on. The MSR
   * (exact, slow) lies between two offset reads around it.
   */
  @Test
  void readGuestTsc_boundsTheGuestsOwnReadsFromBothSides() throws Exception {
    int[] code = new int[RDTSC_OUT.length * 5 + 1];
    for (int i = 0; i < 5; i++) {
      System.arraycopy(RDTSC_OUT, 0, code, i * RDTSC_OUT.length, RDTSC_OUT.length);
    }
    code[code.length - 1] = HLT;
    try (Vm vm = vm(VmConfig.TscConfig.HOST, code)) {
      KvmTsc tsc = ((KvmVm) vm).guestTsc();
      List<long[]> seen = new ArrayList<>(); // {host read before entry, guest, host read at exit}
      long[] beforeEntry = {tsc.readGuestTsc(0)};
      RunOutcome outcome =
          vm.run(
              0,
              Vm.Entry.BOOT,
              (vcpu, port, value) -> {
                long atExit = tsc.readGuestTsc(0);
                long guest =
                    vcpu.register(Register.RDX) << 32 | (vcpu.register(Register.RAX) & 0xFFFFFFFFL);
                long before = tsc.readGuestTsc(0);
                long msr;
                try {
                  msr = tsc.readGuestTscMsr(0);
                } catch (VmException e) {
                  throw new AssertionError(e);
                }
                long after = tsc.readGuestTsc(0);
                assertThat(msr).isBetween(before, after);
                seen.add(new long[] {beforeEntry[0], guest, atExit});
                beforeEntry[0] = tsc.readGuestTsc(0);
                return ExitAction.RESUME;
              });

      assertThat(outcome).isEqualTo(new RunOutcome.Halted());
      assertThat(seen).hasSize(5);
      for (long[] s : seen) {
        assertThat(s[1]).as("guest rdtsc after the host's read before entry").isGreaterThan(s[0]);
        assertThat(s[2]).as("host's read at exit after the guest's rdtsc").isGreaterThan(s[1]);
      }
    }
  }

  @Test
  void tscGhz_theHostsOwnRate_isAcceptedUnscaled() throws Exception {
    long khz;
    try (Vm vm = vm(VmConfig.TscConfig.HOST, HLT)) {
      khz = vm.tscKhz().orElseThrow();
    }
    assertThat(KvmTsc.rateUnavailableReason(khz * 1000.0)).isEmpty();
    try (Vm vm = vm(new VmConfig.TscConfig(khz * 1000.0, 0, 0, VmConfig.TscSource.HARDWARE), HLT)) {
      assertThat(vm.tscKhz()).hasValue(khz);
      assertThat(((KvmVm) vm).guestTsc().readsMsr()).isFalse();
      assertThat(vm.run(0, Vm.Entry.BOOT, (v, p, x) -> ExitAction.RESUME))
          .isEqualTo(new RunOutcome.Halted());
    }
  }

  /** Another rate is applied with KVM_SET_TSC_KHZ where the kernel can scale, else refused. */
  @Test
  void tscGhz_anotherRate_isAppliedOrRefusedWithTheReason() throws Exception {
    VmConfig.TscConfig odd = new VmConfig.TscConfig(1.234567e9, 0, 0, VmConfig.TscSource.HARDWARE);
    var reason = KvmTsc.rateUnavailableReason(1.234567e9);
    if (reason.isPresent()) {
      assertThat(reason.get())
          .startsWith("--tsc-ghz 1.234567 needs TSC scaling, which this host's KVM lacks")
          .contains("KVM_CAP_TSC_CONTROL is 0");
      assertThatThrownBy(() -> vm(odd, HLT))
          .isInstanceOf(VmException.class)
          .hasMessage(reason.get());
    } else {
      try (Vm vm = vm(odd, HLT)) {
        assertThat(vm.tscKhz()).hasValue(1_234_567L);
        assertThat(((KvmVm) vm).guestTsc().readsMsr()).isTrue();
      }
    }
  }
}
