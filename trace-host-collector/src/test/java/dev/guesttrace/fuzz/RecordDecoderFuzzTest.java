package dev.guesttrace.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.TraceCollector;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.collect.TraceSinks;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.NameTableWriter;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.vm.VcpuState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The record decoder fed mutated guest memory: a valid ring written by the real {@link Tracer},
 * then bytes of its header, its slots and its name table mutated (biased to the fields that carry
 * lengths, kinds, ids and sequences) between exits. The collector must not throw, must keep within
 * its quota, and what it keeps must survive the trace file: written, read back with the same
 * records, built into a tree.
 *
 * <p>CI runs {@value #DEFAULT_ITERATIONS} seeds; {@code -Dguesttrace.fuzz.iterations=N} runs more,
 * {@code -Dguesttrace.fuzz.seed=S} starts elsewhere (docs/robustness.md).
 */
class RecordDecoderFuzzTest {
  static final int DEFAULT_ITERATIONS = 200;
  static final long MEMORY_BYTES = 1 << 20;
  static final long TABLE = 0x1000;
  static final int TABLE_LENGTH = 4096;
  static final long REGION = 0x10000;
  static final int CAPACITY = 256;
  static final long MAX_RECORDS = 20_000;

  @Test
  void mutatedRing_neverThrowsStaysInQuotaAndRoundTripsThroughTheFile() {
    int iterations = Integer.getInteger("guesttrace.fuzz.iterations", DEFAULT_ITERATIONS);
    long seed0 = Long.getLong("guesttrace.fuzz.seed", 1);
    for (long seed = seed0; seed < seed0 + iterations; seed++) {
      try {
        runOne(seed);
      } catch (Throwable e) {
        fail("seed " + seed + ": " + e, e);
      }
    }
  }

  private static void runOne(long seed) throws Exception {
    Random random = new Random(seed);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment memory = arena.allocate(MEMORY_BYTES, 4096);
      TraceData.Builder data = TraceData.builder();
      ByteArrayOutputStream file = new ByteArrayOutputStream();
      TraceFileWriter writer = new TraceFileWriter(file, "fuzz");
      TraceCollector collector =
          TraceCollector.builder(TraceSinks.tee(data, writer))
              .setMaxRecords(MAX_RECORDS)
              .setBatchRecords(64)
              .setClock(new java.util.concurrent.atomic.AtomicLong(1_000)::incrementAndGet)
              .build();
      collector.start(header());
      Cpu cpu = new Cpu(memory, collector);
      NameTableWriter names = new NameTableWriter(memory, TABLE, TABLE_LENGTH);
      int mode = random.nextInt(4) == 0 ? TraceRegionDescriptor.MODE_FLIGHT : 0;
      Tracer t = Tracer.register(cpu, names, REGION, CAPACITY, mode);
      int[] ids = {t.name("a"), t.name("bb"), t.name("ccc")};
      for (int round = 0; round < 8; round++) {
        for (int i = random.nextInt(120); i > 0; i--) {
          int id = ids[random.nextInt(ids.length)];
          switch (random.nextInt(5)) {
            case 0 -> t.begin(id, random.nextLong(), 0);
            case 1 -> t.end(id);
            case 2 -> t.message("é".repeat(random.nextInt(200)));
            case 3 -> t.counter(id, random.nextLong());
            default -> t.alloc(random.nextLong(), random.nextInt());
          }
        }
        for (int m = random.nextInt(6); m > 0; m--) {
          mutate(memory, random);
        }
        switch (random.nextInt(3)) {
          case 0 -> t.flush();
          case 1 -> cpu.out(ExitPorts.LOG, 0); // a drain on another exit
          default -> {} // left for the final drain
        }
      }
      if (random.nextBoolean()) {
        // As after a fault or timeout: the torn-record check reads the mutated ring too.
        collector.finalDrain(0, memory);
      }
      collector.finish(memory, "halted", false, List.of());
      writer.close();
      TraceData kept = data.build();
      assertThat(kept.recordCount()).isLessThanOrEqualTo(MAX_RECORDS);
      List<String> warnings = new ArrayList<>();
      TraceData read =
          TraceFileReader.read(
              new ByteArrayInputStream(file.toByteArray()), warnings::add, Long.MAX_VALUE);
      assertThat(warnings).isEmpty();
      assertThat(read.recordCount()).isEqualTo(kept.recordCount());
      assertThat(read.losses()).isEqualTo(kept.losses());
      assertThat(SpanTreeBuilder.build(read).vcpus()).hasSize(1);
    }
  }

  /** One mutation, mostly of fields that carry kinds, lengths, ids and sequences. */
  private static void mutate(MemorySegment memory, Random random) {
    long slot = REGION + TraceRegionDescriptor.HEADER_LENGTH + random.nextInt(CAPACITY) * 32L;
    switch (random.nextInt(8)) {
      case 0 -> memory.set(ValueLayout.JAVA_BYTE, slot, (byte) random.nextInt(10));
      case 1 ->
          memory.set(
              ValueLayout.JAVA_SHORT_UNALIGNED,
              slot + TraceRecordDescriptor.AUX_OFFSET,
              (short) random.nextInt());
      case 2 ->
          memory.set(
              ValueLayout.JAVA_INT_UNALIGNED,
              slot + TraceRecordDescriptor.NAME_ID_OFFSET,
              random.nextBoolean() ? random.nextInt(8) : random.nextInt());
      case 3 ->
          memory.set(
              ValueLayout.JAVA_LONG_UNALIGNED,
              slot + TraceRecordDescriptor.TSC_OFFSET,
              random.nextLong());
      case 4 -> {
        long sequence =
            memory.get(
                ValueLayout.JAVA_LONG_UNALIGNED,
                REGION + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
        long delta = random.nextBoolean() ? random.nextInt(600) - 300 : random.nextLong();
        memory.set(
            ValueLayout.JAVA_LONG_UNALIGNED,
            REGION + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET,
            sequence + delta);
      }
      case 5 ->
          memory.set(
              ValueLayout.JAVA_BYTE, TABLE + random.nextInt(TABLE_LENGTH), (byte) random.nextInt());
      case 6 ->
          memory.set(
              ValueLayout.JAVA_BYTE,
              REGION + random.nextInt(TraceRegionDescriptor.HEADER_LENGTH),
              (byte) random.nextInt());
      default ->
          memory.set(ValueLayout.JAVA_BYTE, slot + random.nextInt(32), (byte) random.nextInt());
    }
  }

  private static TraceHeader header() {
    return new TraceHeader(
        "fuzz", "fake", 1, "stream", 0, List.of(), 0, 1_000, "host", "cpu", "os", "arch", "jvm",
        true, 0, "1.0.0");
  }

  /** One vCPU: the guest's view and the host's paused view at once. */
  private static final class Cpu implements GuestCpu, VcpuState {
    final MemorySegment memory;
    final TraceCollector collector;
    final long[] registers = new long[Register.COUNT];
    long tsc = 1_000_000;

    Cpu(MemorySegment memory, TraceCollector collector) {
      this.memory = memory;
      this.collector = collector;
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
      return tsc += 7;
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
      collector.onOut(
          vcpuId(),
          memory(),
          port,
          value,
          registers[Register.RDI.ordinal()],
          registers[Register.RSI.ordinal()],
          registers[Register.RCX.ordinal()]);
    }

    @Override
    public void hlt() {
      throw new UnsupportedOperationException("hlt");
    }
  }
}
