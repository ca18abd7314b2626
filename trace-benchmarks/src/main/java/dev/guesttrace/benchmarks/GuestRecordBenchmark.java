package dev.guesttrace.benchmarks;

import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.NameTableWriter;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import dev.guesttrace.vm.emulated.GuestTsc;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Recording;
import jdk.jfr.StackTrace;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one traced span, side by side in one JMH run: a guesttrace span (a begin and an end
 * record, each with a real TSC timestamp), a JFR duration event and an OpenTelemetry SDK span.
 * docs/performance.md, "Guest record cost", has the numbers and the machine.
 *
 * <ul>
 *   <li>{@link #guesttraceSpan}: the Java guest runtime's {@link Tracer} in stream mode on a {@link
 *       GuestCpu} whose {@code rdtsc} is the emulated backend's TSC ({@link GuestTsc}, the host's
 *       real TSC through an FFM {@code rdtsc} stub, unscaled), as {@code EmulatedVcpu} reads it.
 *       The ring (2048 slots, the runtime's default) fills every 1024 spans and flushes through
 *       {@code out()}; here {@code out()} only acknowledges, which is all a host that drains lazily
 *       must do at that moment, so the number is the guest's cost, not the host's decode.
 *   <li>{@link #jfrEvent}: a JFR event {@code begin()} and {@code commit()} with a recording
 *       running, the event enabled, threshold 0, no stack trace.
 *   <li>{@link #otelSpan}: an SDK span started and ended; always-on sampler, {@link
 *       BatchSpanProcessor}, an exporter that drops everything.
 *   <li>{@link #guesttraceSpanCounterClock}: the same span with a counter for a clock, the record
 *       path alone.
 *   <li>{@link #rdtsc} and {@link #nanoTime}: one timestamp alone, the floor under a record.
 *   <li>{@link #baseline}: an empty benchmark returning a field, the harness's own cost.
 * </ul>
 *
 * <p>How to run: {@code ./build -q -pl trace-benchmarks -am package -DskipTests} then {@code java
 * -jar trace-benchmarks/target/benchmarks.jar GuestRecordBenchmark -prof gc -prof
 * dev.guesttrace.benchmarks.CpuTimeProfiler} (the forks and iterations below are the defaults;
 * {@code -f 1 -wi 3 -i 5 -w 1s -r 1s} for a quick look). On a machine shared with other work, read
 * the {@code cpu.worker} and {@code cpu.process} lines next to the wall-clock score: see {@link
 * CpuTimeProfiler}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 2,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class GuestRecordBenchmark {

  /** The guest side: memory, a name table, a stream-mode tracer and its span name. */
  @State(Scope.Thread)
  public static class Guest {
    Arena arena;
    BenchCpu cpu;
    Tracer tracer;
    int spanName;
    Tracer counterClockTracer;
    int counterClockSpanName;

    @Setup(Level.Trial)
    public void setUp() {
      // A shared arena, as the emulated backend allocates guest memory (EmulatedVm).
      arena = Arena.ofShared();
      GuestTsc tsc = GuestTsc.create(new TscConfig(0, 0, 0, TscSource.HARDWARE));
      if (tsc.effectiveSource() != TscSource.HARDWARE) {
        System.err.println(
            "GuestRecordBenchmark: no hardware TSC ("
                + GuestTsc.hardwareUnavailableReason().orElse("unknown")
                + "), timestamps come from System.nanoTime()");
      }
      cpu = new BenchCpu(arena.allocate(1 << 20, 4096), tsc);
      tracer = tracer(cpu);
      spanName = tracer.name("span");
      CounterCpu counterCpu = new CounterCpu(arena.allocate(1 << 20, 4096));
      counterClockTracer = tracer(counterCpu);
      counterClockSpanName = counterClockTracer.name("span");
    }

    private static Tracer tracer(GuestCpu cpu) {
      NameTableWriter names = new NameTableWriter(cpu.memory(), 0x1000, 4096);
      int capacity = TraceRegionDescriptor.capacityForRingBytes(64 * 1024);
      return Tracer.register(cpu, names, 0x10000, capacity, TraceRegionDescriptor.MODE_STREAM);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      arena.close();
    }
  }

  /**
   * The guest CPU of the emulated backend, reduced to what the record path touches: the TSC as
   * {@code EmulatedVcpu.rdtsc()} reads it (an opaque read of the kill flag, then {@link
   * GuestTsc#read}), and an {@code out()} that acknowledges the exit.
   */
  static final class BenchCpu implements GuestCpu {
    private static final VarHandle KILLED;

    static {
      try {
        KILLED = MethodHandles.lookup().findVarHandle(BenchCpu.class, "killed", boolean.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final MemorySegment memory;
    private final GuestTsc tsc;
    private final long[] registers = new long[Register.COUNT];
    private volatile boolean killed;
    long exits;

    BenchCpu(MemorySegment memory, GuestTsc tsc) {
      this.memory = memory;
      this.tsc = tsc;
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
      if ((boolean) KILLED.getOpaque(this)) {
        throw new IllegalStateException("killed");
      }
      return tsc.read(0);
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
      exits++; // the host acknowledges; it drains the ring later, on its own thread or exit
    }

    @Override
    public void hlt() {
      killed = true;
    }
  }

  /**
   * A guest CPU whose "TSC" is a plain counter: no kill flag, no timestamp, so a span on it costs
   * the record path alone. Its {@code out()} acknowledges, as {@link BenchCpu}'s.
   */
  static final class CounterCpu implements GuestCpu {
    private final MemorySegment memory;
    private final long[] registers = new long[Register.COUNT];
    private long counter;
    long exits;

    CounterCpu(MemorySegment memory) {
      this.memory = memory;
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
      return ++counter;
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
      exits++;
    }

    @Override
    public void hlt() {
      throw new IllegalStateException("hlt");
    }
  }

  /** A JFR duration event with no fields: begin and commit only. */
  @Name("dev.guesttrace.benchmarks.Span")
  @Label("Benchmark span")
  @StackTrace(false)
  static final class JfrSpan extends Event {}

  /** A JFR recording with {@link JfrSpan} enabled, threshold 0, no stack traces, in memory. */
  @State(Scope.Benchmark)
  public static class Jfr {
    Recording recording;

    @Setup(Level.Trial)
    public void setUp() {
      recording = new Recording();
      recording.enable(JfrSpan.class).withThreshold(Duration.ZERO).withoutStackTrace();
      recording.setToDisk(false);
      recording.start();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      recording.stop();
      recording.close();
    }
  }

  /** An exporter that drops every span and succeeds. */
  static final class DroppingExporter implements SpanExporter {
    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return CompletableResultCode.ofSuccess();
    }
  }

  /** An OpenTelemetry SDK tracer: always-on sampler, batch processor, dropping exporter. */
  @State(Scope.Benchmark)
  public static class Otel {
    /**
     * The processor logs every queue-full drop (its worker cannot keep up with a loop that does
     * nothing but make spans); held here so the logger and its level are not collected.
     */
    static final Logger BATCH_LOGGER = Logger.getLogger(BatchSpanProcessor.class.getName());

    SdkTracerProvider provider;
    io.opentelemetry.api.trace.Tracer tracer;

    @Setup(Level.Trial)
    public void setUp() {
      BATCH_LOGGER.setLevel(java.util.logging.Level.OFF);
      provider =
          SdkTracerProvider.builder()
              .setSampler(Sampler.alwaysOn())
              .addSpanProcessor(BatchSpanProcessor.builder(new DroppingExporter()).build())
              .build();
      tracer = provider.get("dev.guesttrace.benchmarks");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      provider.close();
    }
  }

  private long field = 42;

  /** The harness's own cost: a call that returns a field. */
  @Benchmark
  public long baseline() {
    return field;
  }

  /** One guesttrace span: a SPAN_BEGIN and a SPAN_END record, each with its own TSC read. */
  @Benchmark
  public long guesttraceSpan(Guest g) {
    g.tracer.begin(g.spanName);
    g.tracer.end(g.spanName);
    return g.tracer.writeSequence();
  }

  /**
   * The same span with a counter instead of the TSC: what the record path costs apart from its two
   * timestamps ({@code guesttraceSpan - 2 * rdtsc} should come out near this).
   */
  @Benchmark
  public long guesttraceSpanCounterClock(Guest g) {
    g.counterClockTracer.begin(g.counterClockSpanName);
    g.counterClockTracer.end(g.counterClockSpanName);
    return g.counterClockTracer.writeSequence();
  }

  /** One timestamp as the guest reads it: the emulated TSC (FFM rdtsc stub). */
  @Benchmark
  public long rdtsc(Guest g) {
    return g.cpu.rdtsc();
  }

  /** {@link System#nanoTime()}, for comparison with {@link #rdtsc}. */
  @Benchmark
  public long nanoTime() {
    return System.nanoTime();
  }

  /**
   * One JFR duration event. Returns nothing: {@code commit()} writes to the recording's buffer, a
   * side effect the JIT cannot remove, and returning the event would make it escape and allocate.
   */
  @Benchmark
  public void jfrEvent(Jfr jfr) {
    JfrSpan event = new JfrSpan();
    event.begin();
    event.commit();
  }

  /** One OpenTelemetry SDK span, started and ended. */
  @Benchmark
  public Span otelSpan(Otel otel) {
    Span span = otel.tracer.spanBuilder("span").startSpan();
    span.end();
    return span;
  }
}
