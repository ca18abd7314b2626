package dev.guesttrace.benchmarks;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.host.GuestTracer;
import dev.guesttrace.host.TraceMode;
import dev.guesttrace.host.VcpuTracer;
import dev.guesttrace.run.TracedExits;
import dev.guesttrace.samples.Guest02Fib;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.vm.ExitDispatcher;
import dev.guesttrace.vm.GuestMemoryLayout;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import dev.guesttrace.vm.calls.AbortHandler;
import dev.guesttrace.vm.calls.GuestCallResult;
import dev.guesttrace.vm.calls.GuestCalls;
import dev.guesttrace.vm.calls.HostCallHandler;
import dev.guesttrace.vm.calls.HostFunctions;
import dev.guesttrace.vm.calls.LogHandler;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import dev.guesttrace.vm.emulated.EmulatedVm;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * End-to-end guest-call throughput on the emulated backend, tracing on against tracing off: the
 * {@code fib} sample guest booted once, then one operation is one guest call {@code Fib(n)} made
 * the way {@code GuestRun} makes it (the call through the call buffers and the exit dispatcher, a
 * drain of the vCPU's ring, a host span around the call).
 *
 * <ul>
 *   <li>{@code mode}: {@code stream} (tracing on, the default mode) or {@code off} (the guest's
 *       tracer disabled, {@link BootInfo#MODE_OFF}; the host does the same work around the call).
 *   <li>{@code n}: fib's argument, so the call depth and the records per call ({@code 2 * calls},
 *       e.g. 354 records for n = 10).
 *   <li>{@code ringBytes}: the trace ring per vCPU ({@code --ring-bytes}); 0 is the guest's default
 *       (64 KiB, 2048 records). A smaller ring means more flush exits.
 *   <li>{@code vcpus}: vCPUs booted; run with as many JMH threads ({@code -t}), one per vCPU, each
 *       calling on its own vCPU as {@code GuestRun} does.
 *   <li>{@code thread}: {@code driver} (the default: the guest runs on the benchmark thread, as on
 *       {@code GuestRun}'s driver threads) or {@code handoff} (on the vCPU's own thread).
 * </ul>
 *
 * <p>Decoded records go to a sink that keeps nothing: the collector's decode is in the number,
 * keeping the trace in memory or writing the file is not (see {@link HostDecodeBenchmark}). Target
 * (../shared/DESIGN.md): at most 5 % fewer calls per second with tracing on; anchor: Hyperlight
 * loses 32 % to 40 % of its requests per second with tracing on. With {@code thread=handoff} the
 * guest runs on the emulated vCPU's own thread, and in stream mode the collector thread decodes:
 * read {@code cpu.process} of {@link CpuTimeProfiler} (CPU of the whole JVM per call), not {@code
 * cpu.worker}.
 *
 * <p>Run: {@code java -jar trace-benchmarks/target/benchmarks.jar GuestCallBenchmark -prof
 * dev.guesttrace.benchmarks.CpuTimeProfiler}; {@code -p n=1,5,10,15} for depth, {@code -p
 * ringBytes=8192,65536,1048576} for the ring, {@code -p vcpus=2 -t 2} for two vCPUs.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    // -Xss: the benchmark threads drive vCPUs, so they get the stack a vCPU thread has.
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xss64m"})
public class GuestCallBenchmark {

  /** The booted VM, its collector and dispatcher, shared by the threads (one per vCPU). */
  @State(Scope.Benchmark)
  public static class Machine {
    @Param({"stream", "off"})
    public String mode;

    @Param({"10"})
    public int n;

    @Param({"0"})
    public int ringBytes;

    @Param({"1"})
    public int vcpus;

    /**
     * Where the guest runs: {@code driver} on the calling thread, as {@code GuestRun}'s driver
     * threads run it ({@link EmulatedVm#adoptCurrentThread}); {@code handoff} on the vCPU's own
     * thread, as for any other caller (two thread hand-offs per call).
     */
    @Param({"driver"})
    public String thread;

    Vm vm;
    GuestCalls calls;
    TracedExits[] exits;
    GuestTracer tracer;
    FunctionCall call;
    final AtomicInteger nextSeat = new AtomicInteger();

    @Setup(Level.Trial)
    public void setUp() throws VmException {
      int modeValue =
          switch (mode) {
            case "stream" -> BootInfo.MODE_STREAM;
            case "flight" -> BootInfo.MODE_FLIGHT;
            case "off" -> BootInfo.MODE_OFF;
            default -> throw new IllegalArgumentException("mode: stream, flight or off: " + mode);
          };
      GuestProgram program = SampleGuests.find("fib").orElseThrow();
      long memoryBytes = 64L << 20;
      GuestMemoryLayout layout =
          GuestMemoryLayout.standard(memoryBytes, vcpus, GuestLayout.DEFAULT_CALL_BUFFER_LENGTH);
      BootInfo boot = layout.bootInfo(ringBytes, modeValue, Map.of());
      vm =
          new EmulatedBackend()
              .create(
                  new VmConfig(
                      memoryBytes,
                      vcpus,
                      Duration.ofSeconds(30),
                      new VmConfig.TscConfig(0, 0, 1_000_000, VmConfig.TscSource.HARDWARE)),
                  new GuestSource.Java(program.name(), GuestRuntime.image(program)));
      boot.write(vm.memory());
      try {
        tracer =
            GuestTracer.builder(vm.memory(), vcpus)
                .setBackend("emulated")
                .setGuestName("fib")
                .setMode(TraceMode.valueOf(mode.toUpperCase(java.util.Locale.ROOT)))
                .setRingBytes(ringBytes)
                .setMaxRecords(Long.MAX_VALUE)
                .setKeepInMemory(false)
                .build();
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
      ExitDispatcher vmmPorts =
          new ExitDispatcher()
              .register(
                  ExitPorts.HOST_CALL, new HostCallHandler(boot, HostFunctions.standard(s -> {})))
              .register(ExitPorts.LOG, new LogHandler(boot, (vcpu, level, text) -> {}))
              .register(ExitPorts.ABORT, new AbortHandler(boot, abort -> {}));
      exits = new TracedExits[vcpus];
      for (int v = 0; v < vcpus; v++) {
        exits[v] = new TracedExits(tracer.vcpu(v), vmmPorts);
      }
      calls = new GuestCalls(vm, boot);
      call = new FunctionCall(Guest02Fib.FIB, List.of((long) n));
      for (int v = 0; v < vcpus; v++) {
        RunOutcome booted = vm.run(v, Vm.Entry.BOOT, exits[v]);
        if (!(booted instanceof RunOutcome.Halted)) {
          throw new IllegalStateException("boot of vCPU " + v + ": " + booted);
        }
        tracer.vcpu(v).onHalt();
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      vm.close();
    }
  }

  /** The vCPU this benchmark thread drives. */
  @State(Scope.Thread)
  public static class Seat {
    int vcpu;

    @Setup(Level.Trial)
    public void setUp(Machine m) {
      vcpu = m.nextSeat.getAndIncrement();
      if (vcpu >= m.vcpus) {
        throw new IllegalStateException(
            "more benchmark threads than vCPUs: run with -t equal to vcpus=" + m.vcpus);
      }
      switch (m.thread) {
        case "driver" ->
            ((EmulatedVm) m.vm)
                .adoptCurrentThread(
                    vcpu,
                    timedOut -> {
                      throw new IllegalStateException("guest call abandoned: " + timedOut);
                    });
        case "handoff" -> {}
        default -> throw new IllegalArgumentException("thread: driver or handoff: " + m.thread);
      }
    }
  }

  /** One guest call, as {@code GuestRun} makes it. */
  @Benchmark
  public Object guestCall(Machine m, Seat seat) {
    long start = System.nanoTime();
    GuestCallResult result = m.calls.call(seat.vcpu, m.call, m.exits[seat.vcpu]);
    VcpuTracer tracer = m.tracer.vcpu(seat.vcpu);
    tracer.onHalt();
    tracer.recordGuestCall(Guest02Fib.FIB, start, System.nanoTime());
    if (!result.ok()) {
      throw new IllegalStateException("guest call failed: " + result.error());
    }
    return result.value();
  }
}
