package dev.guesttrace.collect;

import dev.guesttrace.abi.Register;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.NameTableWriter;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.vm.VcpuState;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A guest without a VM: guest memory in a segment, vCPUs whose OUT calls the collector at once (as
 * an exit dispatcher would), and a deterministic TSC and host clock. The real {@link Tracer} writes
 * the rings.
 */
final class FakeGuest {
  static final long MEMORY_BYTES = 4 << 20;
  static final long NAME_TABLE_ADDRESS = 0x10000;
  static final int NAME_TABLE_LENGTH = 64 * 1024;
  static final long REGIONS_ADDRESS = 0x40000;
  static final long REGION_STRIDE = 0x80000;

  final MemorySegment memory;
  final NameTableWriter names;
  final TraceData.Builder data = TraceData.builder();
  final TraceCollector collector;

  /** Host monotonic time: advances 100 ns per exit. */
  long hostNanos = 1_000_000;

  /**
   * When set, the host sees each exit at exactly the time the guest TSC in RCX says: a 2 GHz guest
   * TSC that read {@link #TSC_ORIGIN} at host time {@link #HOST_ORIGIN}. Exact trees need that.
   */
  boolean linearHostClock;

  static final long TSC_ORIGIN = 5_000_000_000L;
  static final long HOST_ORIGIN = 1_000_000;

  FakeGuest(TraceHeader header, long maxRecords) {
    this(header, maxRecords, null);
  }

  FakeGuest(TraceHeader header, long maxRecords, TraceSink also) {
    this(header, maxRecords, also, b -> b);
  }

  /** With the collector's builder adjusted by {@code options} (e.g. small queues). */
  FakeGuest(
      TraceHeader header,
      long maxRecords,
      TraceSink also,
      java.util.function.UnaryOperator<TraceCollector.Builder> options) {
    this(header, maxRecords, also, options, MEMORY_BYTES);
  }

  /** With {@code memoryBytes} of guest memory instead of {@link #MEMORY_BYTES}. */
  FakeGuest(
      TraceHeader header,
      long maxRecords,
      TraceSink also,
      java.util.function.UnaryOperator<TraceCollector.Builder> options,
      long memoryBytes) {
    memory = Arena.ofAuto().allocate(memoryBytes, 4096);
    names = new NameTableWriter(memory, NAME_TABLE_ADDRESS, NAME_TABLE_LENGTH);
    collector =
        options
            .apply(
                TraceCollector.builder(also == null ? data : TraceSinks.tee(data, also))
                    .setMaxRecords(maxRecords)
                    .setBatchRecords(64)
                    .setClock(() -> hostNanos))
            .build();
    collector.start(header);
  }

  FakeGuest(int vcpus, long maxRecords) {
    this(TraceDataTest.header(vcpus), maxRecords);
  }

  FakeGuest(int vcpus) {
    this(vcpus, TraceCollector.DEFAULT_MAX_RECORDS);
  }

  Cpu cpu(int vcpuId) {
    return new Cpu(vcpuId);
  }

  Tracer tracer(Cpu cpu, int capacity, int mode) {
    return Tracer.register(
        cpu, names, REGIONS_ADDRESS + REGION_STRIDE * cpu.vcpuId, capacity, mode);
  }

  TraceData finish() {
    collector.finish(memory, "halted", false, List.of());
    return data.build();
  }

  /** One vCPU: a guest's view and the host's paused view at once. */
  final class Cpu implements GuestCpu, VcpuState {
    final int vcpuId;
    final long[] registers = new long[Register.COUNT];

    /** Guest TSC: advances {@code tscStep} per read. */
    long tsc = TSC_ORIGIN;

    long tscStep = 10;
    java.util.function.LongSupplier stepper;
    int exits;

    Cpu(int vcpuId) {
      this.vcpuId = vcpuId;
    }

    @Override
    public int vcpuId() {
      return vcpuId;
    }

    @Override
    public MemorySegment memory() {
      return memory;
    }

    @Override
    public long rdtsc() {
      tsc += stepper != null ? stepper.getAsLong() : tscStep;
      return tsc;
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
      if (linearHostClock) {
        hostNanos = HOST_ORIGIN + (registers[Register.RCX.ordinal()] - TSC_ORIGIN) / 2;
      } else {
        hostNanos += 100;
      }
      int status =
          collector.onOut(
              vcpuId,
              memory,
              port,
              value,
              registers[Register.RDI.ordinal()],
              registers[Register.RSI.ordinal()],
              registers[Register.RCX.ordinal()],
              hostNanos);
      if (status != TraceCollector.NOT_REGISTER) {
        registers[Register.RAX.ordinal()] = status;
      }
    }

    @Override
    public void hlt() {
      throw new UnsupportedOperationException("hlt");
    }
  }
}
