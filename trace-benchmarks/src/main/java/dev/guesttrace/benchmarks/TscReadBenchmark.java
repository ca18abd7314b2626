package dev.guesttrace.benchmarks;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import dev.guesttrace.vm.emulated.GuestTsc;
import dev.guesttrace.vm.emulated.RdtscStub;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Ways to read the TSC from Java on JDK 25, side by side in one run: what the emulated backend's
 * guest {@code rdtsc} could be built on. docs/performance.md, "The TSC read", has the numbers.
 *
 * <ul>
 *   <li>{@link #stub}: {@link RdtscStub#rdtsc()}, the FFM critical downcall to {@code rdtsc; shl
 *       rdx,32; or rax,rdx; ret}, as the emulated backend reads it.
 *   <li>{@link #guestTsc}: {@link GuestTsc#read}, the stub plus the guest TSC's offset arithmetic.
 *   <li>{@link #killFlagGuestTsc}: the emulated vCPU's read: an opaque read of its kill flag, then
 *       {@link GuestTsc#read}.
 *   <li>{@link #viaState}: the same on an object held by a JMH state, one load deeper, as {@code
 *       GuestRecordBenchmark.rdtsc} reads it; {@link #viaStateFlat}: that object holding the offset
 *       itself and calling the stub directly.
 *   <li>{@link #stubLfence}, {@link #stubRdtscp}: ordered reads, for comparison.
 *   <li>{@link #stubLowHalf}: {@code rdtsc; ret} returning EAX, what joining EDX:EAX costs.
 *   <li>{@link #stubNotCritical}: the same stub through a plain (not critical) downcall, with its
 *       thread state transitions.
 *   <li>{@link #jfrCounterTime}: JFR's internal {@code jdk.jfr.internal.JVM.counterTime()}, a C2
 *       intrinsic (a leaf call to the JVM's own {@code rdtsc} minus an epoch, or to its nanosecond
 *       clock, whichever JFR's time source is). Needs {@code --add-exports
 *       jdk.jfr/jdk.jfr.internal=ALL-UNNAMED}; the fork passes it.
 *   <li>{@link #nanoTime}: {@link System#nanoTime()}, the JVM's intrinsic clock.
 *   <li>{@link #baseline}: a method returning a field.
 * </ul>
 *
 * <p>How to run: {@code ./build -q -pl trace-benchmarks -am package -DskipTests} then {@code java
 * -jar trace-benchmarks/target/benchmarks.jar TscReadBenchmark -prof
 * dev.guesttrace.benchmarks.CpuTimeProfiler} (2 forks of 5 x 1 s, the defaults below).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 2,
    jvmArgsAppend = {
      "--enable-native-access=ALL-UNNAMED",
      "--add-exports=jdk.jfr/jdk.jfr.internal=ALL-UNNAMED"
    })
@State(Scope.Thread)
public class TscReadBenchmark {
  private static final MethodHandle LFENCE_RDTSC =
      stub(
          true, 0x0F, 0xAE, 0xE8, // lfence
          0x0F, 0x31, // rdtsc
          0x48, 0xC1, 0xE2, 0x20, // shl rdx, 32
          0x48, 0x09, 0xD0, // or rax, rdx
          0xC3); // ret
  private static final MethodHandle RDTSCP =
      stub(
          true, 0x0F, 0x01, 0xF9, // rdtscp
          0x48, 0xC1, 0xE2, 0x20, // shl rdx, 32
          0x48, 0x09, 0xD0, // or rax, rdx
          0xC3); // ret
  private static final MethodHandle NOT_CRITICAL =
      stub(
          false, 0x0F, 0x31, // rdtsc
          0x48, 0xC1, 0xE2, 0x20, // shl rdx, 32
          0x48, 0x09, 0xD0, // or rax, rdx
          0xC3); // ret
  private static final MethodHandle LOW_HALF =
      stub(
          true, JAVA_INT, 0x0F, 0x31, // rdtsc
          0xC3); // ret
  private static final MethodHandle COUNTER_TIME = counterTime();

  private static final VarHandle KILLED;

  static {
    try {
      KILLED =
          MethodHandles.lookup().findVarHandle(TscReadBenchmark.class, "killed", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final GuestTsc tsc = GuestTsc.create(new TscConfig(0, 0, 0, TscSource.HARDWARE));
  private long field = 42;
  private volatile boolean killed;

  /** The harness's own cost. */
  @Benchmark
  public long baseline() {
    return field;
  }

  /** The emulated backend's TSC read: the FFM critical downcall. */
  @Benchmark
  public long stub() {
    return RdtscStub.rdtsc();
  }

  /** {@link GuestTsc#read}: the stub plus the guest TSC's offset arithmetic. */
  @Benchmark
  public long guestTsc() {
    return tsc.read(0);
  }

  /**
   * What the emulated vCPU's {@code rdtsc()} does: an opaque read of its kill flag, then {@link
   * GuestTsc#read}.
   */
  @Benchmark
  public long killFlagGuestTsc() {
    if ((boolean) KILLED.getOpaque(this)) {
      throw new IllegalStateException("killed");
    }
    return tsc.read(0);
  }

  /** A vCPU-like object in its own JMH state, read as {@code GuestRecordBenchmark.rdtsc} does. */
  @State(Scope.Thread)
  public static class Vcpu {
    VcpuLike cpu;

    @org.openjdk.jmh.annotations.Setup
    public void setUp() {
      cpu = new VcpuLike(GuestTsc.create(new TscConfig(0, 0, 0, TscSource.HARDWARE)));
    }
  }

  /** The emulated vCPU's read on an object of its own. */
  static final class VcpuLike {
    private static final VarHandle VCPU_KILLED;

    static {
      try {
        VCPU_KILLED = MethodHandles.lookup().findVarHandle(VcpuLike.class, "killed", boolean.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final GuestTsc tsc;
    private final long offsetTicks;
    private volatile boolean killed;

    VcpuLike(GuestTsc tsc) {
      this.tsc = tsc;
      this.offsetTicks = tsc.config().offsetTicks();
    }

    long rdtscFlat() {
      if ((boolean) VCPU_KILLED.getOpaque(this)) {
        throw new IllegalStateException("killed");
      }
      long offset = offsetTicks;
      return RdtscStub.rdtsc() + offset;
    }

    long rdtsc() {
      if ((boolean) VCPU_KILLED.getOpaque(this)) {
        throw new IllegalStateException("killed");
      }
      return tsc.read(0);
    }
  }

  /** {@link #viaState} with the offset held by the vCPU itself: one load less before the call. */
  @Benchmark
  public long viaStateFlat(Vcpu v) {
    return v.cpu.rdtscFlat();
  }

  /** {@link #killFlagGuestTsc} through a state object, as {@code GuestRecordBenchmark.rdtsc}. */
  @Benchmark
  public long viaState(Vcpu v) {
    return v.cpu.rdtsc();
  }

  /** {@code lfence; rdtsc}: ordered after every earlier load. */
  @Benchmark
  public long stubLfence() throws Throwable {
    return (long) LFENCE_RDTSC.invokeExact();
  }

  /** {@code rdtscp}: waits for earlier instructions, also reads the processor id. */
  @Benchmark
  public long stubRdtscp() throws Throwable {
    return (long) RDTSCP.invokeExact();
  }

  /**
   * {@code rdtsc; ret} returning EAX only: not a TSC read (the high half is lost), the stub without
   * the two instructions that join EDX:EAX, to see what they cost.
   */
  @Benchmark
  public int stubLowHalf() throws Throwable {
    return (int) LOW_HALF.invokeExact();
  }

  /** The plain stub through a downcall that is not critical. */
  @Benchmark
  public long stubNotCritical() throws Throwable {
    return (long) NOT_CRITICAL.invokeExact();
  }

  /** JFR's internal counter time (intrinsic), if exported; else 0 after one failed lookup. */
  @Benchmark
  public long jfrCounterTime() throws Throwable {
    return (long) COUNTER_TIME.invokeExact();
  }

  /** {@link System#nanoTime()}. */
  @Benchmark
  public long nanoTime() {
    return System.nanoTime();
  }

  private static MethodHandle counterTime() {
    try {
      return MethodHandles.lookup()
          .findStatic(
              Class.forName("jdk.jfr.internal.JVM"),
              "counterTime",
              MethodType.methodType(long.class));
    } catch (ReflectiveOperationException | IllegalAccessError e) {
      System.err.println("TscReadBenchmark: no JFR counterTime: " + e);
      return MethodHandles.constant(long.class, 0L);
    }
  }

  private static MethodHandle stub(boolean critical, int... code) {
    return stub(critical, JAVA_LONG, code);
  }

  @SuppressWarnings("restricted") // machine code by design, as RdtscStub
  private static MethodHandle stub(
      boolean critical, java.lang.foreign.ValueLayout returned, int... code) {
    try {
      Linker linker = Linker.nativeLinker();
      MethodHandle mmap =
          linker.downcallHandle(
              linker.defaultLookup().find("mmap").orElseThrow(),
              FunctionDescriptor.of(
                  ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
      MethodHandle mprotect =
          linker.downcallHandle(
              linker.defaultLookup().find("mprotect").orElseThrow(),
              FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
      MemorySegment page =
          ((MemorySegment) mmap.invokeExact(MemorySegment.NULL, 4096L, 3, 0x22, -1, 0L))
              .reinterpret(4096);
      for (int i = 0; i < code.length; i++) {
        page.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) code[i]);
      }
      if ((int) mprotect.invokeExact(page, 4096L, 5) != 0) {
        throw new IllegalStateException("mprotect failed");
      }
      return critical
          ? linker.downcallHandle(
              page, FunctionDescriptor.of(returned), Linker.Option.critical(false))
          : linker.downcallHandle(page, FunctionDescriptor.of(returned));
    } catch (Throwable e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
