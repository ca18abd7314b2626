package dev.guesttrace.guest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.Register;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * The record path allocates nothing: bytes allocated by this thread (HotSpot's per-thread counter)
 * around 100,000 spans, after warm-up, are zero. Not a timing assertion: the count of bytes does
 * not depend on the machine's speed. The ring is small so the count includes flush exits.
 */
class ZeroAllocationTest {
  private static final int SPANS = 100_000;

  /** A CPU whose host only acknowledges, as a cheap host does; allocates nothing itself. */
  private static final class AckCpu implements GuestCpu {
    private final MemorySegment memory = Arena.ofAuto().allocate(1 << 20, 4096);
    private final long[] registers = new long[Register.COUNT];
    private long tsc;
    long exits;

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
      return tsc += 3;
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

  private static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  private static long allocatedBytes() {
    return THREADS.getCurrentThreadAllocatedBytes();
  }

  private static void spans(Tracer tracer, int id, int count) {
    for (int i = 0; i < count; i++) {
      tracer.begin(id);
      tracer.end(id);
      try (Tracer.Span s = tracer.span(id)) {
        tracer.counter(id, i + (s == null ? 1 : 0));
      }
    }
  }

  private static void messages(Tracer tracer, String text, int count) {
    for (int i = 0; i < count; i++) {
      tracer.message(text);
    }
  }

  private static Tracer tracer(AckCpu cpu, int mode) {
    NameTableWriter names = new NameTableWriter(cpu.memory(), 0x1000, 4096);
    return Tracer.register(cpu, names, 0x10000, 256, mode);
  }

  /**
   * Allocated bytes of the best of a few measured rounds: JIT deoptimization in one round can make
   * the interpreter allocate; an allocation in the code itself shows up in every round.
   */
  private static long leastAllocated(Runnable work) {
    for (int i = 0; i < 5; i++) {
      work.run(); // warm-up: let the JIT compile the record path
    }
    long least = Long.MAX_VALUE;
    for (int round = 0; round < 3; round++) {
      long before = allocatedBytes();
      work.run();
      least = Math.min(least, allocatedBytes() - before);
    }
    return least;
  }

  @Test
  void measurement_ofNothing_isZero() {
    assertThat(leastAllocated(() -> {})).isZero();
  }

  @Test
  void spans_streamModeWithFlushes_allocateNothing() {
    AckCpu cpu = new AckCpu();
    Tracer tracer = tracer(cpu, 0);
    int id = tracer.name("hot");

    long bytes = leastAllocated(() -> spans(tracer, id, SPANS));

    assertThat(bytes).isZero();
    assertThat(cpu.exits).isGreaterThan(1000); // the flush path ran inside the measurement
  }

  @Test
  void spans_flightMode_allocateNothing() {
    AckCpu cpu = new AckCpu();
    Tracer tracer = tracer(cpu, 1);
    int id = tracer.name("hot");

    assertThat(leastAllocated(() -> spans(tracer, id, SPANS))).isZero();
  }

  @Test
  void messages_allocateNothing() {
    AckCpu cpu = new AckCpu();
    Tracer tracer = tracer(cpu, 0);
    String text = "r\u00e9sum\u00e9 \u20ac \uD83D\uDE00 " + "x".repeat(60);

    assertThat(leastAllocated(() -> messages(tracer, text, SPANS / 10))).isZero();
  }

  @Test
  void messageTexts_streamAndFlight_allocateNothing() {
    Tracer.Text text = Tracer.Text.of("r\u00e9sum\u00e9 \u20ac \uD83D\uDE00 " + "x".repeat(60));
    for (int mode : new int[] {0, 1}) {
      AckCpu cpu = new AckCpu();
      Tracer tracer = tracer(cpu, mode);

      assertThat(
              leastAllocated(
                  () -> {
                    for (int i = 0; i < SPANS / 10; i++) {
                      tracer.message(text);
                    }
                  }))
          .isZero();
    }
  }
}
