package dev.guesttrace.benchmarks;

import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.GuestMemoryLayout;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.VcpuState;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.kvm.KvmBackend;
import dev.guesttrace.vm.kvm.KvmGuests;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Exit and record costs of native guests on the KVM backend, measured inside the guest with its own
 * TSC (the {@code bench} C guest) and converted to ns with {@code KVM_GET_TSC_KHZ}. Not JMH: the
 * thing measured runs inside the VM, where JMH cannot reach; the guest times itself and the host
 * only reports. docs/performance.md, "KVM", has the numbers and the machine.
 *
 * <ol>
 *   <li>OUT round trip: guest {@code rdtsc}, {@code out}, host handler (returns at once), back in
 *       the guest, {@code rdtsc}: 2,000 x scale of them, min/median/p99/max.
 *   <li>Record cost: 5,000 x scale spans (two records each) in flight mode (no exits), best of 3;
 *       against the same loop with tracing off.
 *   <li>Amortized exit cost per record against ring size: the same in stream mode with rings of 256
 *       to 131,072 slots; the host copies each flushed batch out, as a collector would.
 *   <li>The seed's design for comparison: 80-byte records with the name as text, an OUT every 32.
 *   <li>Guest-call throughput of {@code hello} with tracing off and on (stream mode).
 * </ol>
 *
 * <p>How to run (after {@code ./build -q -pl trace-benchmarks -am package -DskipTests}):
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp "$(cat trace-benchmarks/target/classpath.txt)" \
 *     dev.guesttrace.benchmarks.KvmExitBenchmark
 * </pre>
 *
 * (with {@code classpath.txt} from {@code mvn -q -pl trace-benchmarks dependency:build-classpath
 * -Dmdep.outputFile=target/classpath.txt} plus {@code trace-benchmarks/target/classes}).
 */
public final class KvmExitBenchmark {
  private static final long MEMORY = 64 << 20;
  private static final int BENCH_PORT = 0x7E;
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private KvmExitBenchmark() {}

  /** Runs every measurement and prints a table. */
  public static void main(String[] args) throws Exception {
    // Counts are small by default: where KVM emulates the guest (PVM, see docs/performance.md) a
    // guest instruction costs microseconds. "scale=200" gives the counts for hardware KVM.
    long scale = 1;
    for (String arg : args) {
      if (arg.startsWith("scale=")) {
        scale = Math.max(1, Long.parseLong(arg.substring(6)));
      }
    }
    KvmBackend backend = new KvmBackend();
    String unavailable = backend.unavailableReason().orElse(null);
    if (unavailable != null) {
      System.out.println("skipped: " + unavailable);
      return;
    }
    GuestSource.Elf bench = KvmGuests.find("bench").orElse(null);
    GuestSource.Elf hello = KvmGuests.find("hello").orElse(null);
    if (bench == null || hello == null) {
      System.out.println("skipped: no gcc (C guests were not built)");
      return;
    }

    try (Session s = new Session(backend, bench, BootInfo.MODE_OFF, 0)) {
      double nsPerTick = 1e6 / s.vm.tscKhz().orElseThrow();
      System.out.printf("TSC: %d kHz (KVM_GET_TSC_KHZ)%n", s.vm.tscKhz().orElseThrow());
      int n = (int) Math.min(200_000, 2_000 * scale);
      long address = (long) s.call("Exits", (long) n);
      long[] ticks = new long[n];
      for (int i = 0; i < n; i++) {
        ticks[i] = s.vm.memory().get(U64, address + 8L * i);
      }
      Arrays.sort(ticks);
      System.out.printf(
          "OUT round trip (%d exits): min %.0f ns, median %.0f ns, p99 %.0f ns, max %.0f ns"
              + " (median %d ticks)%n",
          n,
          ticks[0] * nsPerTick,
          ticks[n / 2] * nsPerTick,
          ticks[n * 99 / 100] * nsPerTick,
          ticks[n - 1] * nsPerTick,
          ticks[n / 2]);

      long spans = 5_000 * scale;
      long off = best(s, "Records", spans);
      System.out.printf(
          "loop, tracing off: %.2f ns per iteration (%.1f ticks)%n",
          off * nsPerTick / spans, (double) off / spans);
      try (Session flight = new Session(backend, bench, BootInfo.MODE_FLIGHT, 0)) {
        long ticksFlight = best(flight, "Records", spans);
        System.out.printf(
            "record, flight mode (no exits): %.2f ns per record (%.1f ticks), %.2f ns net of the"
                + " loop%n",
            ticksFlight * nsPerTick / (2 * spans),
            (double) ticksFlight / (2 * spans),
            (ticksFlight - off) * nsPerTick / (2 * spans));
      }
      for (int slots : new int[] {256, 2048, 16_384, 131_072}) {
        try (Session stream = new Session(backend, bench, BootInfo.MODE_STREAM, slots * 32)) {
          long t = best(stream, "Records", spans);
          System.out.printf(
              "record, stream mode, ring %7d slots: %.2f ns per record, %d exits per %d records%n",
              slots, t * nsPerTick / (2 * spans), stream.host.flushes / 3, 2 * spans);
        }
      }
      long seed = best(s, "Seed", 2 * spans);
      System.out.printf(
          "seed design (80-byte text records, OUT every 32): %.2f ns per record%n",
          seed * nsPerTick / (2 * spans));
    }

    int calls = (int) (200 * scale);
    double offRate = throughput(backend, hello, BootInfo.MODE_OFF, calls);
    double onRate = throughput(backend, hello, BootInfo.MODE_STREAM, calls);
    System.out.printf(
        "hello calls/s: tracing off %.0f, on %.0f (%.1f %% loss)%n",
        offRate, onRate, 100 * (1 - onRate / offRate));
  }

  private static long best(Session s, String function, long n) {
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      best = Math.min(best, (long) s.call(function, n));
    }
    return best;
  }

  private static double throughput(KvmBackend backend, GuestSource.Elf hello, int mode, int calls)
      throws Exception {
    try (Session s = new Session(backend, hello, mode, 0)) {
      for (int i = 0; i < calls / 10; i++) {
        s.call("PrintOutput", "Hello, World!");
      }
      long start = System.nanoTime();
      for (int i = 0; i < calls; i++) {
        s.call("PrintOutput", "Hello, World!");
      }
      return calls / ((System.nanoTime() - start) / 1e9);
    }
  }

  /** A booted VM running one guest on one vCPU, with a host that reads flushed records. */
  private static final class Session implements AutoCloseable {
    final Vm vm;
    final Host host;

    Session(KvmBackend backend, GuestSource.Elf guest, int mode, int ringBytes) throws Exception {
      GuestMemoryLayout layout =
          GuestMemoryLayout.standard(MEMORY, 1, GuestLayout.DEFAULT_CALL_BUFFER_LENGTH);
      vm =
          backend.create(
              new VmConfig(MEMORY, 1, Duration.ofSeconds(60), VmConfig.TscConfig.HOST), guest);
      layout.bootInfo(ringBytes, mode, Map.of()).write(vm.memory());
      host = new Host(layout);
      check(vm.run(0, Vm.Entry.BOOT, host));
    }

    Object call(String function, Object... args) {
      CallCodec.writeCall(
          vm.memory(),
          host.layout.inputBuffer(0),
          host.layout.callBufferLength(),
          new CallCodec.FunctionCall(function, List.of(args)));
      check(vm.run(0, Vm.Entry.DISPATCH, host));
      return CallCodec.readValue(
          vm.memory(), host.layout.outputBuffer(0), host.layout.callBufferLength());
    }

    private static void check(RunOutcome outcome) {
      if (!(outcome instanceof RunOutcome.Halted)) {
        throw new IllegalStateException("bench guest did not halt: " + outcome);
      }
    }

    @Override
    public void close() {
      vm.close();
    }
  }

  /** Answers HostPrint, and on each flush copies the new records out of the ring. */
  private static final class Host implements ExitHandler {
    final GuestMemoryLayout layout;
    long region;
    long cursor;
    int flushes;
    private final byte[] sink = new byte[131_072 * 32];

    Host(GuestMemoryLayout layout) {
      this.layout = layout;
    }

    @Override
    public ExitAction onOut(VcpuState vcpu, int port, int value) {
      MemorySegment memory = vcpu.memory();
      if (port == ExitPorts.TRACE) {
        if (value == ExitPorts.TRACE_OP_REGISTER) {
          region = vcpu.register(Register.RDI);
          cursor = 0;
        } else {
          flushes++;
          int capacity = memory.get(ValueLayout.JAVA_INT_UNALIGNED, region + 12);
          long end = memory.get(U64, region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
          long count = Math.min(end - cursor, capacity);
          for (long s = end - count; s < end; s++) {
            long slot = region + TraceRegionDescriptor.slotOffset(s, capacity);
            int at = (int) ((s & (capacity - 1)) * 32);
            MemorySegment.copy(memory, ValueLayout.JAVA_BYTE, slot, sink, at, 32);
          }
          cursor = end;
        }
      } else if (port == ExitPorts.HOST_CALL) {
        CallCodec.FunctionCall call =
            CallCodec.readCall(memory, layout.outputBuffer(0), layout.callBufferLength());
        CallCodec.writeValue(
            memory,
            layout.inputBuffer(0),
            layout.callBufferLength(),
            (long) call.stringArg(0, "").length());
      } else if (port != BENCH_PORT) {
        throw new IllegalStateException("unexpected port " + port);
      }
      return ExitAction.RESUME;
    }
  }
}
