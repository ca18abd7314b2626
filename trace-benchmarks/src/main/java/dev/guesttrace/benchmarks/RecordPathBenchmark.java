package dev.guesttrace.benchmarks;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
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
 * Variants of the record path's stores (a 32-byte slot and the release store of the write
 * sequence), two records per operation with a counter for a clock, side by side in one run: which
 * way of writing guest memory from Java the JIT compiles best. docs/performance.md, "The record
 * path", has the numbers. Scratch ring, not the runtime's {@code Tracer}; the guest runtime uses
 * the winner.
 *
 * <p>How to run: {@code java -jar trace-benchmarks/target/benchmarks.jar RecordPathBenchmark -prof
 * dev.guesttrace.benchmarks.CpuTimeProfiler}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 2,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class RecordPathBenchmark {
  private static final ValueLayout.OfLong U64 =
      JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** The slot as four words: handles derived from it check the 32 bytes once per slot. */
  private static final StructLayout SLOT =
      MemoryLayout.structLayout(
          U64.withName("header"), U64.withName("tsc"), U64.withName("arg0"), U64.withName("arg1"));

  private static final VarHandle HEADER =
      SLOT.varHandle(MemoryLayout.PathElement.groupElement("header"));
  private static final VarHandle TSC = SLOT.varHandle(MemoryLayout.PathElement.groupElement("tsc"));
  private static final VarHandle ARG0 =
      SLOT.varHandle(MemoryLayout.PathElement.groupElement("arg0"));
  private static final VarHandle ARG1 =
      SLOT.varHandle(MemoryLayout.PathElement.groupElement("arg1"));

  /** The region header, unaligned (as TraceRegionDescriptor.LAYOUT) and aligned. */
  private static final StructLayout REGION =
      MemoryLayout.structLayout(
          MemoryLayout.paddingLayout(24),
          U64.withName("writeSequence"),
          MemoryLayout.paddingLayout(32));

  private static final StructLayout REGION_ALIGNED =
      MemoryLayout.structLayout(
          MemoryLayout.paddingLayout(24),
          JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).withName("writeSequence"),
          MemoryLayout.paddingLayout(32));

  /** The header up to and with an aligned writeSequence: 32 bytes, as a slot. */
  private static final StructLayout REGION_ALIGNED_32 =
      MemoryLayout.structLayout(
          MemoryLayout.paddingLayout(24),
          JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).withName("writeSequence"));

  private static final VarHandle WRITE_SEQUENCE_ALIGNED_32 =
      REGION_ALIGNED_32.varHandle(MemoryLayout.PathElement.groupElement("writeSequence"));

  private static final VarHandle WRITE_SEQUENCE =
      REGION.varHandle(MemoryLayout.PathElement.groupElement("writeSequence"));
  private static final VarHandle WRITE_SEQUENCE_ALIGNED =
      REGION_ALIGNED.varHandle(MemoryLayout.PathElement.groupElement("writeSequence"));

  /** A ring as the Tracer keeps one: a native shared-arena segment, fields, a counter clock. */
  @State(Scope.Thread)
  public static class Ring {
    Arena arena;
    MemorySegment memory;
    long regionAddress = 0x10000;
    long slotsAddress = regionAddress + 64;
    long writeSequenceAddress = regionAddress + 24;
    long mask = 2047;
    long writeSequence;
    long slowPathSequence = Long.MAX_VALUE;
    long counter;
    long[] array = new long[2048 * 4 + 8];

    @Setup(Level.Trial)
    public void setUp() {
      arena = Arena.ofShared();
      memory = arena.allocate(1 << 20, 4096);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      arena.close();
    }

    /** The record path as it was: a checked store per word, the fence, a checked store. */
    void segmentSet(long header, long arg0, long arg1) {
      long sequence = writeSequence;
      if (sequence >= slowPathSequence) {
        throw new IllegalStateException();
      }
      long slot = slotsAddress + ((sequence & mask) << 5);
      long next = sequence + 1;
      MemorySegment m = memory;
      long tsc = ++counter;
      writeSequence = next;
      m.set(U64, slot, header);
      m.set(U64, slot + 8, tsc);
      m.set(U64, slot + 16, arg0);
      m.set(U64, slot + 24, arg1);
      VarHandle.releaseFence();
      m.set(U64, writeSequenceAddress, next);
    }

    /** Slot handles from one layout (one bounds check), fence, checked plain store. */
    void slotHandles(long header, long arg0, long arg1) {
      long sequence = writeSequence;
      if (sequence >= slowPathSequence) {
        throw new IllegalStateException();
      }
      long slot = slotsAddress + ((sequence & mask) << 5);
      long next = sequence + 1;
      MemorySegment m = memory;
      long tsc = ++counter;
      writeSequence = next;
      HEADER.set(m, slot, header);
      TSC.set(m, slot, tsc);
      ARG0.set(m, slot, arg0);
      ARG1.set(m, slot, arg1);
      VarHandle.releaseFence();
      WRITE_SEQUENCE.set(m, regionAddress, next);
    }

    /** Slot handles, then an aligned release store (its checks before the fence it implies). */
    void slotHandlesSetRelease(long header, long arg0, long arg1) {
      long sequence = writeSequence;
      if (sequence >= slowPathSequence) {
        throw new IllegalStateException();
      }
      long slot = slotsAddress + ((sequence & mask) << 5);
      long next = sequence + 1;
      MemorySegment m = memory;
      long tsc = ++counter;
      writeSequence = next;
      HEADER.set(m, slot, header);
      TSC.set(m, slot, tsc);
      ARG0.set(m, slot, arg0);
      ARG1.set(m, slot, arg1);
      WRITE_SEQUENCE_ALIGNED.setRelease(m, regionAddress, next);
    }

    /** As {@link #slotHandlesSetRelease}, the sequence's layout 32 bytes long, as a slot. */
    void slotHandlesSetRelease32(long header, long arg0, long arg1) {
      long sequence = writeSequence;
      if (sequence >= slowPathSequence) {
        throw new IllegalStateException();
      }
      long slot = slotsAddress + ((sequence & mask) << 5);
      long next = sequence + 1;
      MemorySegment m = memory;
      long tsc = ++counter;
      writeSequence = next;
      HEADER.set(m, slot, header);
      TSC.set(m, slot, tsc);
      ARG0.set(m, slot, arg0);
      ARG1.set(m, slot, arg1);
      WRITE_SEQUENCE_ALIGNED_32.setRelease(m, regionAddress, next);
    }

    /** As {@link #slotHandlesSetRelease}, the TSC word stored first. */
    void slotHandlesSetReleaseTscFirst(long header, long arg0, long arg1) {
      long sequence = writeSequence;
      if (sequence >= slowPathSequence) {
        throw new IllegalStateException();
      }
      long slot = slotsAddress + ((sequence & mask) << 5);
      long next = sequence + 1;
      MemorySegment m = memory;
      long tsc = ++counter;
      writeSequence = next;
      TSC.set(m, slot, tsc);
      HEADER.set(m, slot, header);
      ARG0.set(m, slot, arg0);
      ARG1.set(m, slot, arg1);
      WRITE_SEQUENCE_ALIGNED.setRelease(m, regionAddress, next);
    }

    /** Not correct (no release order): what the fence costs. */
    void slotHandlesNoFence(long header, long arg0, long arg1) {
      long sequence = writeSequence;
      if (sequence >= slowPathSequence) {
        throw new IllegalStateException();
      }
      long slot = slotsAddress + ((sequence & mask) << 5);
      long next = sequence + 1;
      MemorySegment m = memory;
      long tsc = ++counter;
      writeSequence = next;
      HEADER.set(m, slot, header);
      TSC.set(m, slot, tsc);
      ARG0.set(m, slot, arg0);
      ARG1.set(m, slot, arg1);
      WRITE_SEQUENCE.set(m, regionAddress, next);
    }

    /** The floor: a heap long[] with the fence (not guest memory). */
    void longArray(long header, long arg0, long arg1) {
      long sequence = writeSequence;
      if (sequence >= slowPathSequence) {
        throw new IllegalStateException();
      }
      int slot = 8 + (int) ((sequence & mask) << 2);
      long next = sequence + 1;
      long[] a = array;
      long tsc = ++counter;
      writeSequence = next;
      a[slot] = header;
      a[slot + 1] = tsc;
      a[slot + 2] = arg0;
      a[slot + 3] = arg1;
      VarHandle.releaseFence();
      a[3] = next;
    }
  }

  private static final long BEGIN = 1L | 1L << 32;
  private static final long END = 2L | 1L << 32;

  @Benchmark
  public long segmentSet(Ring r) {
    r.segmentSet(BEGIN, 0, 0);
    r.segmentSet(END, 0, 0);
    return r.writeSequence;
  }

  @Benchmark
  public long slotHandles(Ring r) {
    r.slotHandles(BEGIN, 0, 0);
    r.slotHandles(END, 0, 0);
    return r.writeSequence;
  }

  @Benchmark
  public long slotHandlesSetRelease(Ring r) {
    r.slotHandlesSetRelease(BEGIN, 0, 0);
    r.slotHandlesSetRelease(END, 0, 0);
    return r.writeSequence;
  }

  @Benchmark
  public long slotHandlesSetRelease32(Ring r) {
    r.slotHandlesSetRelease32(BEGIN, 0, 0);
    r.slotHandlesSetRelease32(END, 0, 0);
    return r.writeSequence;
  }

  @Benchmark
  public long slotHandlesSetReleaseTscFirst(Ring r) {
    r.slotHandlesSetReleaseTscFirst(BEGIN, 0, 0);
    r.slotHandlesSetReleaseTscFirst(END, 0, 0);
    return r.writeSequence;
  }

  @Benchmark
  public long slotHandlesNoFence(Ring r) {
    r.slotHandlesNoFence(BEGIN, 0, 0);
    r.slotHandlesNoFence(END, 0, 0);
    return r.writeSequence;
  }

  @Benchmark
  public long longArray(Ring r) {
    r.longArray(BEGIN, 0, 0);
    r.longArray(END, 0, 0);
    return r.writeSequence;
  }
}
