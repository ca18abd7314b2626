package dev.guesttrace.embedding;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.NameTableWriter;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.host.GuestTrace;
import dev.guesttrace.host.GuestTracer;
import dev.guesttrace.host.OutResult;
import dev.guesttrace.host.TraceMode;
import dev.guesttrace.host.VcpuTracer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drives a guest through the public host API only ({@code dev.guesttrace.host}), from a package of
 * its own: a VMM of a few lines whose "vCPU" runs the Java guest library on the test's thread. The
 * guest's TSC is an exact 2 GHz function of the test's host clock, so the tree's times are exact.
 */
class HostApiTest {
  static final long MEMORY_BYTES = 1 << 20;
  static final long NAME_TABLE = 0x10000;
  static final long REGION = 0x20000;
  static final long TSC_ORIGIN = 1_000_000_000L;

  @TempDir Path dir;

  /** A one-vCPU VMM: OUT goes to the tracer, then to its own (empty) port handling. */
  static final class MiniVmm implements GuestCpu {
    final MemorySegment memory = Arena.ofAuto().allocate(MEMORY_BYTES, 4096);
    final long[] registers = new long[Register.COUNT];
    final List<Integer> otherPorts = new ArrayList<>();
    VcpuTracer vcpu;
    long hostNanos = 5_000;

    long guestTsc() {
      return TSC_ORIGIN + 2 * hostNanos;
    }

    @Override
    public int vcpuId() {
      return 0;
    }

    @Override
    public MemorySegment memory() {
      return memory;
    }

    @Override
    public long rdtsc() {
      hostNanos += 100; // every TSC read is 100 ns of guest work
      return guestTsc();
    }

    @Override
    public long register(Register register) {
      return registers[register.ordinal()];
    }

    @Override
    public void register(Register register, long value) {
      registers[register.ordinal()] = value;
    }

    @Override
    public void out(int port, int value) {
      registers[Register.RAX.ordinal()] = value;
      OutResult r =
          vcpu.onOut(
              port,
              value,
              registers[Register.RDI.ordinal()],
              registers[Register.RSI.ordinal()],
              registers[Register.RCX.ordinal()]);
      if (r.setsRax()) {
        registers[Register.RAX.ordinal()] = r.rax();
      }
      if (!r.isTracePort()) {
        otherPorts.add(port);
      }
      hostNanos += 1_000; // the exit costs 1 us of host time
      vcpu.entering();
    }

    @Override
    public void hlt() {
      throw new UnsupportedOperationException("hlt");
    }
  }

  private static GuestTracer.Builder tracer(MiniVmm vmm) {
    return GuestTracer.builder(vmm.memory, 1)
        .setBackend("mini-vmm")
        .setGuestName("api-test")
        .setClock(() -> vmm.hostNanos);
  }

  /** The guest: register, a span with three children, flush. Returns the REGISTER status. */
  private static long runGuest(MiniVmm vmm, int mode) {
    vmm.vcpu.entering();
    NameTableWriter names = new NameTableWriter(vmm.memory, NAME_TABLE, 4096);
    Tracer t = Tracer.register(vmm, names, REGION, 256, mode);
    long status = vmm.registers[Register.RAX.ordinal()];
    int main = t.name("main");
    int work = t.name("work");
    t.begin(main);
    for (int i = 0; i < 3; i++) {
      t.begin(work);
      t.end(work);
    }
    t.end(main);
    t.flush();
    vmm.vcpu.onHalt();
    return status;
  }

  @Test
  void streamGuest_registeredTracedAndWrittenThroughThePublicApiOnly() throws Exception {
    MiniVmm vmm = new MiniVmm();
    Path file = dir.resolve("api.gtrace");
    GuestTracer tracer = tracer(vmm).setOutput(file).build();
    vmm.vcpu = tracer.vcpu(0);

    long status = runGuest(vmm, TraceRegionDescriptor.MODE_STREAM);
    GuestTrace trace = tracer.finish("halted", false);

    assertThat(status).isEqualTo(ExitPorts.REGISTER_ACCEPTED);
    assertThat(vmm.otherPorts).isEmpty();
    assertThat(trace.outcome()).isEqualTo("halted");
    assertThat(trace.failed()).isFalse();
    assertThat(trace.recordCount()).isEqualTo(8);
    assertThat(trace.lostRecords()).isZero();
    assertThat(trace.refusal()).isEmpty();
    assertThat(trace.file()).contains(file);
    assertThat(trace.spanTree())
        .isEqualTo(
            """
            [0µs      ] > [host] trace register
            [0µs      ] < [host] trace register 0ns
            [1µs      ] > main
            [1µs      ]   work ×3, total 300ns, min/median/max 100ns/100ns/100ns
            [2µs      ] < main 700ns
            [2µs      ] > [host] trace flush
            [2µs      ] < [host] trace flush 0ns
            """);
    TraceData read = TraceFileReader.read(file, w -> {});
    assertThat(read.recordCount()).isEqualTo(8);
    // No GuestTscReader: only the guest's own TSC at its two OUTs (REGISTER, FLUSH).
    assertThat(read.calibrationPairs()).hasSize(2);
  }

  @Test
  void guestTscReader_givesAPairAtEveryEntryAndExit() throws Exception {
    MiniVmm vmm = new MiniVmm();
    Path file = dir.resolve("pairs.gtrace");
    GuestTracer tracer = tracer(vmm).setOutput(file).setGuestTscReader(v -> vmm.guestTsc()).build();
    vmm.vcpu = tracer.vcpu(0);

    runGuest(vmm, TraceRegionDescriptor.MODE_FLIGHT);
    tracer.finish("halted", false);

    TraceData read = TraceFileReader.read(file, w -> {});
    assertThat(read.recordCount()).isEqualTo(8);
    // Flight mode never flushes: REGISTER is the one OUT. Pairs: the guest's RCX at REGISTER,
    // the host's reads at 2 exits (REGISTER, HLT) and 2 entries (boot, resume after REGISTER).
    assertThat(read.calibrationPairs()).hasSize(5);
    // Every pair is exact here (this guest's OUT takes no time): guest TSC = origin + 2 x host ns.
    assertThat(read.calibrationPairs())
        .allSatisfy(p -> assertThat(p.guestTscTicks()).isEqualTo(TSC_ORIGIN + 2 * p.hostNanos()));
  }

  @Test
  void guestTscReader_aReadWindowStretchedByPreemption_isReadAgain() throws Exception {
    MiniVmm vmm = new MiniVmm();
    Path file = dir.resolve("stretched.gtrace");
    int[] reads = {0};
    GuestTracer tracer =
        tracer(vmm)
            .setOutput(file)
            .setGuestTscReader(
                v -> {
                  if (reads[0]++ % 2 == 0) {
                    // Every other read is preempted for 5 ms between the TSC read and the
                    // host's second clock read: its midpoint would be 2.5 ms off.
                    long tsc = vmm.guestTsc();
                    vmm.hostNanos += 5_000_000;
                    return tsc;
                  }
                  return vmm.guestTsc();
                })
            .build();
    vmm.vcpu = tracer.vcpu(0);

    runGuest(vmm, TraceRegionDescriptor.MODE_FLIGHT);
    tracer.finish("halted", false);

    TraceData read = TraceFileReader.read(file, w -> {});
    assertThat(read.calibrationPairs()).hasSize(5);
    // Each of the four host pairs was read twice; the narrow read was kept, so every host pair is
    // exact as in the test above. (The guest's own pair at REGISTER is not: the simulated
    // preemption moved the host clock during that exit.)
    assertThat(reads[0]).isEqualTo(8);
    assertThat(read.calibrationPairs())
        .filteredOn(p -> p.source() != dev.guesttrace.collect.CalibrationPair.Source.GUEST_EXIT)
        .hasSize(4)
        .allSatisfy(p -> assertThat(p.guestTscTicks()).isEqualTo(TSC_ORIGIN + 2 * p.hostNanos()));
  }

  @Test
  void modeOff_registerRefusedWithItsStatusAndCounted() throws Exception {
    MiniVmm vmm = new MiniVmm();
    GuestTracer tracer = tracer(vmm).setMode(TraceMode.OFF).build();
    vmm.vcpu = tracer.vcpu(0);

    long status = runGuest(vmm, TraceRegionDescriptor.MODE_STREAM);
    GuestTrace trace = tracer.finish("halted", false);

    assertThat(status).isEqualTo(ExitPorts.REGISTER_REFUSED_TRACING_OFF);
    assertThat(trace.recordCount()).isZero();
    assertThat(trace.refusal())
        .contains("trace region registered while tracing is off: regionAddress=0x20000");
  }

  @Test
  void regionOutsideMemory_refusedWithItsStatus() throws Exception {
    MiniVmm vmm = new MiniVmm();
    GuestTracer tracer = tracer(vmm).build();
    vmm.vcpu = tracer.vcpu(0);
    vmm.vcpu.entering();

    vmm.registers[Register.RDI.ordinal()] = MEMORY_BYTES - 64;
    vmm.registers[Register.RSI.ordinal()] = 8256;
    vmm.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_REGISTER);
    vmm.vcpu.onHalt();
    GuestTrace trace = tracer.finish("halted", false);

    assertThat(vmm.registers[Register.RAX.ordinal()])
        .isEqualTo(ExitPorts.REGISTER_REFUSED_OUTSIDE_MEMORY);
    assertThat(trace.refusal().orElseThrow()).startsWith("trace region outside guest memory");
  }
}
