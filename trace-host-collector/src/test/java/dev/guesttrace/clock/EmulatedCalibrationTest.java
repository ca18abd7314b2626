package dev.guesttrace.clock;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import dev.guesttrace.vm.emulated.GuestTsc;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Known answer, end to end: the emulated backend's virtual TSC at an odd rate and a large offset,
 * per-vCPU offsets on two vCPUs, a run of well over 100 ms; the collector's pairs and the fit must
 * find the rate within 10 ppm and put every record within 1 µs of when the guest really read it.
 */
class EmulatedCalibrationTest {
  private static final double RATE = 2.345678901e9;

  @Test
  void virtualTscAtOddRate_fitWithinTenPpmAndRecordsWithinOneMicrosecond() throws Exception {
    VmConfig.TscConfig tsc =
        new VmConfig.TscConfig(RATE, 7_000_000_000_000L, 123_456_789L, VmConfig.TscSource.VIRTUAL);
    GuestProgram fib = SampleGuests.find("fib").orElseThrow();
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java("fib", GuestRuntime.image(fib)), new EmulatedBackend())
            .setVcpus(2)
            .setCalls(1_600) // 800 per vCPU, each spinning 200 µs: 160 ms per vCPU at least
            .setCall(fib.defaultCall())
            .setArgs(Map.of("n", "6", "slow", "fib", "slowMicros", "200"))
            .setTsc(tsc)
            .build();
    // Warm the exit path up first: interpreted, an exit takes the host microseconds longer to
    // notice than compiled, and the floor of that delay is what no calibration can see through.
    GuestRun.builder(
            RunConfig.builder(
                    new GuestSource.Java("fib", GuestRuntime.image(fib)), new EmulatedBackend())
                .setCalls(20_000)
                .setCall(fib.defaultCall())
                .setArgs(Map.of("n", "1"))
                .setTsc(tsc)
                .build())
        .build()
        .execute();
    TraceData data = GuestRun.builder(config).build().execute().data();

    long first = Long.MAX_VALUE;
    long last = Long.MIN_VALUE;
    for (CalibrationPair p : data.calibrationPairs()) {
      first = Math.min(first, p.hostNanos());
      last = Math.max(last, p.hostNanos());
    }
    assertThat(last - first).isGreaterThanOrEqualTo(100_000_000L);

    TscCalibration c = SpanTreeBuilder.calibrate(data);
    assertThat(c.rateSource()).isEqualTo(TscCalibration.RateSource.FIT);
    assertThat(Math.abs(c.ticksPerSecond() - RATE) / RATE * 1e6).isLessThan(10);
    assertThat(c.jumpCount()).isZero();

    GuestTsc truth = GuestTsc.create(tsc);
    long oneMicrosecondOfTicks = Math.round(RATE / 1e6);
    for (int v = 0; v < 2; v++) {
      TscClock clock = c.clock(v).orElseThrow();
      VcpuRecords r = data.records(v);
      assertThat(r.size()).isGreaterThan(10_000);
      for (int i = 0; i < r.size(); i += 97) {
        long hostNanos = clock.toHostNanos(r.tscTicks(i));
        long ticksThen = truth.guestTicksAtNanoTime(hostNanos, v);
        assertThat(ticksThen - r.tscTicks(i))
            .as("vCPU %d record %d", v, i)
            .isBetween(-oneMicrosecondOfTicks, oneMicrosecondOfTicks);
      }
    }
  }
}
