package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.span.SpanTreeBuilder;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A hostile guest: random bytes over its region header, its slots and its name table, random write
 * sequences and random registers at random exits. The host must keep going: no exception, no read
 * outside guest memory (the segment would throw), the quota respected, a tree built.
 */
class TraceCollectorFuzzTest {
  @Test
  void randomGuestMemoryAndExits_neverThrowAndStayWithinQuota() {
    for (long seed = 1; seed <= 20; seed++) {
      Random random = new Random(seed);
      FakeGuest g = new FakeGuest(2, 5_000);
      FakeGuest.Cpu cpu = g.cpu(random.nextInt(2));
      Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
      int a = t.name("a");
      long region = FakeGuest.REGIONS_ADDRESS + FakeGuest.REGION_STRIDE * cpu.vcpuId;
      long regionLength = TraceRegionDescriptor.regionLength(256);
      for (int step = 0; step < 300; step++) {
        switch (random.nextInt(8)) {
          case 0 -> t.begin(a, random.nextLong(), 0);
          case 1 -> t.message("m".repeat(random.nextInt(300)));
          case 2 -> {
            long at = region + random.nextInt((int) regionLength);
            g.memory.set(ValueLayout.JAVA_BYTE, at, (byte) random.nextInt());
          }
          case 3 -> {
            long at = FakeGuest.NAME_TABLE_ADDRESS + random.nextInt(256);
            g.memory.set(ValueLayout.JAVA_BYTE, at, (byte) random.nextInt());
          }
          case 4 ->
              g.memory.set(
                  ValueLayout.JAVA_LONG_UNALIGNED,
                  region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET,
                  random.nextBoolean() ? random.nextLong() : random.nextInt(2048));
          case 5 -> {
            cpu.register(Register.RDI, random.nextBoolean() ? region : random.nextLong());
            cpu.register(Register.RSI, random.nextBoolean() ? regionLength : random.nextLong());
            cpu.register(Register.RCX, random.nextLong());
            cpu.out(ExitPorts.TRACE, random.nextInt(4));
          }
          case 6 -> cpu.out(0x70 + random.nextInt(5), random.nextInt());
          default -> t.end(a);
        }
      }
      TraceData data = g.finish();
      assertThat(data.recordCount()).isLessThanOrEqualTo(5_000);
      assertThat(SpanTreeBuilder.build(data).vcpus()).hasSize(2);
    }
  }
}
