package dev.guesttrace.benchmarks;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceCollector;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.collect.TraceSink;
import dev.guesttrace.collect.TraceSinks;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.NameTableWriter;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.TraceTree;
import dev.guesttrace.vm.VcpuState;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The host side's rate: records per second on one core, from guest memory to span events. One
 * operation is one record; every invocation handles a whole ring of {@link #RING_RECORDS} records
 * that the real guest {@link Tracer} wrote (fib-shaped nesting: begin and end records with
 * arguments, as {@code Guest02Fib} writes them) into a {@link MemorySegment}, read through a fake
 * vCPU ({@link VcpuState}), so the numbers are the host's cost alone, without a VM.
 *
 * <ul>
 *   <li>{@link #drain}: {@link TraceCollector#drain} of a full ring into decoded {@link
 *       RecordBatch}es, handed to a sink that keeps nothing: the collector's decode loop (bounds,
 *       kinds, name ids, timestamp order, batching). Before each drain the ring's write sequence
 *       moves on by one capacity, as if the guest had written the whole ring again; the first
 *       record then goes back in time against the last one drained, which costs one counted
 *       diagnostic per 65,536 records.
 *   <li>{@link #drainToFile}: the same drain into the {@link TraceFileWriter} (writing to a null
 *       stream): decode plus encoding the trace file, what {@code guesttrace run -o} pays.
 *   <li>{@link #spanTree}: {@link SpanTreeBuilder#build} on the {@link TraceData} of one drained
 *       ring: calibration, pairing begins and ends into span nodes. Reported separately: it runs
 *       once, after the run, not while the guest waits.
 * </ul>
 *
 * <p>Target (../shared/DESIGN.md): at least 50 M records/s per core; anchor: the Tracy server
 * ingests about 27 M zones/s. Read {@code cpu.worker} next to the throughput on a shared machine
 * (ns of CPU per record; 20 ns/record is 50 M records/s): see {@link CpuTimeProfiler}.
 *
 * <p>Run: {@code java -jar trace-benchmarks/target/benchmarks.jar HostDecodeBenchmark -prof gc
 * -prof dev.guesttrace.benchmarks.CpuTimeProfiler}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class HostDecodeBenchmark {
  /** Records in the ring: 2 MiB of 32-byte slots, the largest ring a drain sees at once here. */
  public static final int RING_RECORDS = 65_536;

  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long NAME_TABLE_ADDRESS = 0x1000;
  private static final int NAME_TABLE_LENGTH = 4096;
  private static final long REGION_ADDRESS = 0x10000;

  /** Guest TSC ticks between two records: about 15 ns at 2.6 GHz, a guest that only traces. */
  static final long TICKS_PER_RECORD = 40;

  Arena arena;
  FakeVcpu vcpu;
  TraceCollector collector;
  TraceCollector fileCollector;
  CountingSink sink;
  TraceFileWriter fileWriter;
  TraceData data;

  @Setup(Level.Trial)
  public void setUp() {
    arena = Arena.ofConfined();
    MemorySegment memory = arena.allocate(REGION_ADDRESS + (8L << 20), 4096);
    vcpu = new FakeVcpu(memory);

    sink = new CountingSink();
    collector = collector(sink);
    fileWriter = new TraceFileWriter(OutputStream.nullOutputStream(), "HostDecodeBenchmark");
    fileCollector = collector(fileWriter);
    TraceData.Builder dataSink = TraceData.builder();
    TraceCollector dataCollector = collector(dataSink);

    // The guest registers its ring once; every collector learns of it through the same exit.
    vcpu.collectors = List.of(collector, fileCollector, dataCollector);
    NameTableWriter names = new NameTableWriter(memory, NAME_TABLE_ADDRESS, NAME_TABLE_LENGTH);
    Tracer tracer =
        Tracer.register(
            vcpu, names, REGION_ADDRESS, RING_RECORDS, TraceRegionDescriptor.MODE_STREAM);
    fillFibShaped(tracer);
    if (tracer.writeSequence() != RING_RECORDS) {
      throw new IllegalStateException("ring not full: " + tracer.writeSequence());
    }
    // Two calibration pairs a run apart (1 tick = 1 ns), then the one drain the tree is built from.
    dataCollector.calibrationPair(0, 0, 1_000);
    dataCollector.calibrationPair(0, vcpu.tscTicks, 1_000 + vcpu.tscTicks);
    dataCollector.drain(0, memory);
    dataCollector.finish(memory, "halted", false, List.of());
    data = dataSink.build();
    if (data.recordCount() != RING_RECORDS) {
      throw new IllegalStateException("decoded " + data.recordCount() + " records");
    }
  }

  private static TraceCollector collector(TraceSink sink) {
    TraceCollector c =
        TraceCollector.builder(sink)
            .setMaxRecords(Long.MAX_VALUE)
            .setClock(() -> 0)
            .setCollectorThread(false) // decode inline: the benchmark measures it
            .build();
    c.start(header());
    return c;
  }

  /** Repeated fib(12) call trees, begin and end records with n as arg0, then flat pairs to fill. */
  private static void fillFibShaped(Tracer tracer) {
    int fib = tracer.name("fib");
    int fill = tracer.name("fill");
    long perTree = 2L * fibCalls(12);
    while (tracer.writeSequence() + perTree <= RING_RECORDS) {
      fib(tracer, fib, 12);
    }
    while (tracer.writeSequence() < RING_RECORDS) {
      tracer.begin(fill);
      tracer.end(fill);
    }
  }

  private static long fib(Tracer tracer, int nameId, long n) {
    tracer.begin(nameId, n, 0);
    long result = n < 2 ? n : fib(tracer, nameId, n - 1) + fib(tracer, nameId, n - 2);
    tracer.end(nameId);
    return result;
  }

  private static long fibCalls(int n) {
    return n < 2 ? 1 : 1 + fibCalls(n - 1) + fibCalls(n - 2);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    arena.close();
  }

  /** Moves the guest's write sequence on by one ring, as if the guest had written it again. */
  private void rewriteRing() {
    MemorySegment memory = vcpu.memory();
    long at = REGION_ADDRESS + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET;
    memory.set(U64, at, memory.get(U64, at) + RING_RECORDS);
  }

  /** One full ring drained and decoded into batches; one operation is one record. */
  @Benchmark
  @OperationsPerInvocation(RING_RECORDS)
  public long drain() {
    rewriteRing();
    collector.drain(0, vcpu.memory());
    return sink.records;
  }

  /** One full ring drained, decoded and encoded into the trace file (to a null stream). */
  @Benchmark
  @OperationsPerInvocation(RING_RECORDS)
  public long drainToFile() {
    rewriteRing();
    fileCollector.drain(0, vcpu.memory());
    return fileWriter.bytesWritten();
  }

  /** The span tree of one ring's decoded records; one operation is one record. */
  @Benchmark
  @OperationsPerInvocation(RING_RECORDS)
  public TraceTree spanTree() {
    return SpanTreeBuilder.build(data);
  }

  static TraceHeader header() {
    return new TraceHeader(
        "bench",
        "none",
        1,
        "stream",
        TraceRegionDescriptor.regionLength(RING_RECORDS),
        List.of(),
        0,
        0,
        "bench",
        "bench",
        "bench",
        "amd64",
        "bench",
        true,
        0,
        AbiVersion.CURRENT.toString());
  }

  /** Counts what it is handed and keeps nothing. */
  static final class CountingSink extends TraceSinks.Adapter {
    long records;

    @Override
    public void onRecords(RecordBatch batch) {
      records += batch.size();
    }
  }

  /**
   * vCPU 0 for both sides: the guest's {@link GuestCpu} (a counter TSC, an {@code out()} that hands
   * the trace port's exits to the collectors) and the host's {@link VcpuState}.
   */
  static final class FakeVcpu implements GuestCpu, VcpuState {
    private final MemorySegment memory;
    private final long[] registers = new long[Register.COUNT];
    List<TraceCollector> collectors = List.of();
    long tscTicks;

    FakeVcpu(MemorySegment memory) {
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
      tscTicks += TICKS_PER_RECORD;
      return tscTicks;
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
      if (port == ExitPorts.TRACE && value == ExitPorts.TRACE_OP_REGISTER) {
        for (TraceCollector c : collectors) {
          c.onOut(
              0,
              memory,
              port,
              value,
              registers[Register.RDI.ordinal()],
              registers[Register.RSI.ordinal()],
              registers[Register.RCX.ordinal()]);
        }
      }
    }

    @Override
    public void hlt() {}
  }
}
