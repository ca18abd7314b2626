package dev.guesttrace.guest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * The guest side of the REGISTER status (docs/abi.md): a refused region is never written to and
 * never flushed; "no answer" (RAX still the OUT value) traces as if accepted.
 */
class RegisterStatusTest {
  private static final long TABLE = 0x10000;
  private static final long REGION = 0x20000;

  /** The test CPU, with a host that answers REGISTER with {@code answer} in RAX. */
  private static final class AnsweringCpu implements GuestCpu {
    final TestCpu inner = new TestCpu(0, 1 << 20);
    final long answer;

    AnsweringCpu(long answer) {
      this.answer = answer;
    }

    @Override
    public int vcpuId() {
      return inner.vcpuId();
    }

    @Override
    public MemorySegment memory() {
      return inner.memory();
    }

    @Override
    public long rdtsc() {
      return inner.rdtsc();
    }

    @Override
    public long register(Register register) {
      return inner.register(register);
    }

    @Override
    public void register(Register register, long value) {
      inner.register(register, value);
    }

    @Override
    public void out(int port, int value) {
      inner.register(Register.RAX, Integer.toUnsignedLong(value));
      inner.out(port, value);
      if (port == ExitPorts.TRACE && value == ExitPorts.TRACE_OP_REGISTER) {
        inner.register(Register.RAX, answer);
      }
    }

    @Override
    public void hlt() {
      inner.hlt();
    }
  }

  private static Tracer registerWith(AnsweringCpu cpu) {
    NameTableWriter names = new NameTableWriter(cpu.memory(), TABLE, 4096);
    Tracer t = Tracer.register(cpu, names, REGION, 256, 0);
    int span = t.name("work");
    t.begin(span);
    t.message("hello");
    t.end(span);
    t.flush();
    return t;
  }

  @Test
  void refused_tracerRecordsNothingAndNeverFlushes() {
    AnsweringCpu cpu = new AnsweringCpu(2); // REGISTER_REFUSED_TRACING_OFF
    Tracer t = registerWith(cpu);
    assertThat(t.enabled()).isFalse();
    assertThat(t.registerStatus()).isEqualTo(2);
    assertThat(t.writeSequence()).isZero();
    assertThat(cpu.inner.exits())
        .extracting(e -> e.port() + ":" + e.value())
        .containsExactly(ExitPorts.TRACE + ":" + ExitPorts.TRACE_OP_REGISTER);
  }

  @Test
  void unknownRefusalCode_isARefusalToo() {
    AnsweringCpu cpu = new AnsweringCpu(99);
    Tracer t = registerWith(cpu);
    assertThat(t.enabled()).isFalse();
    assertThat(t.registerStatus()).isEqualTo(99);
  }

  @Test
  void accepted_orNoAnswer_traces() {
    for (long answer : new long[] {0, ExitPorts.TRACE_OP_REGISTER}) {
      AnsweringCpu cpu = new AnsweringCpu(answer);
      Tracer t = registerWith(cpu);
      assertThat(t.enabled()).as("answer %d", answer).isTrue();
      assertThat(t.registerStatus()).isEqualTo(answer);
      assertThat(t.writeSequence()).isEqualTo(3);
      assertThat(cpu.inner.exits())
          .extracting(e -> e.port() + ":" + e.value())
          .containsExactly(
              ExitPorts.TRACE + ":" + ExitPorts.TRACE_OP_REGISTER,
              ExitPorts.TRACE + ":" + ExitPorts.TRACE_OP_FLUSH);
    }
  }
}
