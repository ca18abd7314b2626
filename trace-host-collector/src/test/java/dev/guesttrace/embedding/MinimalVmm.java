package dev.guesttrace.embedding;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
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
import java.util.function.Consumer;

/**
 * A complete, minimal VMM that traces its guest with guesttrace's host API: one vCPU, guest memory
 * in a {@link MemorySegment}, a run loop that reports every entry and exit to a {@link VcpuTracer}.
 * The "hypervisor" is the Java guest library running on this thread (an emulator, in effect): a KVM
 * or other VMM reports the same entries and exits from its own run loop. docs/embedding.md shows
 * this file verbatim; {@code EmbeddingExampleTest} compiles it, runs it and checks both.
 *
 * <p>Run: {@code MinimalVmm [FILE.gtrace]}; prints the span tree, writes the trace file.
 */
public final class MinimalVmm {
  static final long MEMORY_BYTES = 1 << 20;
  static final long NAME_TABLE = 0x10000;
  static final long TRACE_REGION = 0x20000;

  private MinimalVmm() {}

  public static void main(String[] args) throws Exception {
    Path output = Path.of(args.length > 0 ? args[0] : "minimal.gtrace");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment ram = arena.allocate(MEMORY_BYTES, 4096); // guest physical memory
      GuestTracer tracer =
          GuestTracer.builder(ram, 1)
              .setBackend("minimal-vmm")
              .setGuestName("hello")
              .setMode(TraceMode.STREAM)
              .setGuestTscReader(vcpu -> Vcpu.tsc()) // the host reads the guest TSC itself
              .setOutput(output)
              .build();
      Vcpu vcpu = new Vcpu(ram, tracer.vcpu(0));
      String outcome = vcpu.run(MinimalVmm::guest);
      GuestTrace trace = tracer.finish(outcome, !outcome.equals("halted"));
      System.out.print(trace.spanTree());
      System.out.println(trace.recordCount() + " records, " + trace.lostRecords() + " lost");
    }
  }

  /** The guest: registers its trace ring, traces a little work, flushes, halts. */
  static void guest(GuestCpu cpu) {
    NameTableWriter names = new NameTableWriter(cpu.memory(), NAME_TABLE, 4096);
    Tracer tracer =
        Tracer.register(cpu, names, TRACE_REGION, 256, TraceRegionDescriptor.MODE_STREAM);
    int hello = tracer.name("hello");
    int step = tracer.name("step");
    tracer.begin(hello);
    for (int i = 0; i < 3; i++) {
      tracer.begin(step, i, 0);
      tracer.end(step);
    }
    tracer.end(hello);
    tracer.flush();
    cpu.hlt();
  }

  /** One vCPU: its registers, and the exits a hypervisor reports, fed to the tracer. */
  static final class Vcpu implements GuestCpu {
    private static final RuntimeException HALT = new RuntimeException("hlt");
    private final MemorySegment ram;
    private final VcpuTracer tracer;
    private final long[] registers = new long[Register.COUNT];

    Vcpu(MemorySegment ram, VcpuTracer tracer) {
      this.ram = ram;
      this.tracer = tracer;
    }

    /** The guest's TSC: here a 1 GHz counter, what the guest and the host both read. */
    static long tsc() {
      return System.nanoTime();
    }

    /** The run loop: enter the guest, run it to HLT (or a fault), report how it ended. */
    String run(Consumer<GuestCpu> entryPoint) {
      tracer.entering(); // before every VM entry
      try {
        entryPoint.accept(this);
        tracer.onFault("returned without HLT");
        return "guest fault: returned without HLT";
      } catch (RuntimeException e) {
        if (e == HALT) {
          tracer.onHalt();
          return "halted";
        }
        tracer.onFault(e.toString());
        return "guest fault: " + e;
      }
    }

    /** An OUT exit: the tracer first, then this VMM's own ports; then resume the guest. */
    @Override
    public void out(int port, int value) {
      OutResult r =
          tracer.onOut(
              port,
              value,
              registers[Register.RDI.ordinal()],
              registers[Register.RSI.ordinal()],
              registers[Register.RCX.ordinal()]);
      if (r.setsRax()) {
        registers[Register.RAX.ordinal()] = r.rax(); // the REGISTER status
      }
      if (!r.isTracePort() && port != ExitPorts.LOG) {
        System.err.println("unknown port " + port); // a real VMM: host calls, devices, ...
      }
      tracer.entering(); // resume
    }

    @Override
    public void hlt() {
      throw HALT;
    }

    @Override
    public int vcpuId() {
      return 0;
    }

    @Override
    public MemorySegment memory() {
      return ram;
    }

    @Override
    public long rdtsc() {
      return tsc();
    }

    @Override
    public long register(Register register) {
      return registers[register.ordinal()];
    }

    @Override
    public void register(Register register, long value) {
      registers[register.ordinal()] = value;
    }
  }
}
