package dev.guesttrace.clock;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.guest.BootInfo;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The bar, end to end on the emulated backend, whose TSC has an exact truth: in stream,
 * flight and off mode, on 1 and 4 vCPUs, with another process keeping a core busy, a run of under a
 * second must give back the requested {@code --tsc-ghz} within 50 ppm and place the guest's TSC on
 * the host clock within 20 µs (the offset), without being told either. Flight and off mode exit
 * little: only the host's own reads at entries and exits make this possible there.
 */
class ClockAccuracyTest {
  private static final double RATE = 1.234567e9;
  private static final long OFFSET_TICKS = 3_000_000_000_000L;
  private static final long VCPU_OFFSET_TICKS = 987_654_321L;

  private static Process load;

  /** A busy loop in another process: the host under CPU load while the runs go. */
  @BeforeAll
  static void startLoad() throws Exception {
    load = new ProcessBuilder("sh", "-c", "while :; do :; done").start();
  }

  @AfterAll
  static void stopLoad() throws Exception {
    load.destroyForcibly();
    load.waitFor();
  }

  @ParameterizedTest(name = "{0} mode, {1} vCPU(s), {2} TSC")
  @CsvSource({
    "stream, 1, HARDWARE",
    "stream, 4, VIRTUAL",
    "flight, 1, VIRTUAL",
    "flight, 4, HARDWARE",
    "off, 1, HARDWARE",
    "off, 4, VIRTUAL"
  })
  void requestedRateAndOffset_recoveredUnderLoad(String mode, int vcpus, String source)
      throws Exception {
    assertThat(load.isAlive()).as("the load process runs").isTrue();
    VmConfig.TscConfig tsc =
        new VmConfig.TscConfig(
            RATE, OFFSET_TICKS, VCPU_OFFSET_TICKS, VmConfig.TscSource.valueOf(source));
    GuestProgram fib = SampleGuests.find("fib").orElseThrow();
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java("fib", GuestRuntime.image(fib)), new EmulatedBackend())
            .setVcpus(vcpus)
            .setMode(
                switch (mode) {
                  case "stream" -> BootInfo.MODE_STREAM;
                  case "flight" -> BootInfo.MODE_FLIGHT;
                  default -> BootInfo.MODE_OFF;
                })
            // 10 calls per vCPU, each spinning 3 ms in fib: about 30 ms per vCPU, a run well
            // under a second whose pairs span enough time to measure a rate to a ppm.
            .setCalls(10 * vcpus)
            .setCall(fib.defaultCall())
            .setRingBytes(8192)
            .setArgs(Map.of("n", "6", "slow", "fib", "slowMicros", "3000"))
            .setTsc(tsc)
            .build();
    long before = System.nanoTime();
    TraceData data = GuestRun.builder(config).build().execute().data();
    long runNanos =
        data.end().orElseThrow().endMonotonicNanos() - data.header().startMonotonicNanos();
    assertThat(runNanos).as("run length, ns").isLessThan(1_000_000_000L);

    TscCalibration c = SpanTreeBuilder.calibrate(data);
    double ppm = (c.ticksPerSecond() - RATE) / RATE * 1e6;
    assertThat(Math.abs(ppm)).as("rate off by %.3f ppm: %s", ppm, c).isLessThan(50);
    assertThat(c.rateSource()).isEqualTo(TscCalibration.RateSource.FIT);
    GuestTsc truth = GuestTsc.create(tsc);
    for (int v = 0; v < vcpus; v++) {
      long first = Long.MAX_VALUE;
      long last = Long.MIN_VALUE;
      for (CalibrationPair p : data.calibrationPairs()) {
        if (p.vcpu() == v) {
          first = Math.min(first, p.hostNanos());
          last = Math.max(last, p.hostNanos());
        }
      }
      assertThat(c.hasClock(v)).as("vCPU %d has pairs", v).isTrue();
      TscClock clock = c.clock(v).orElseThrow();
      for (long t = first; t <= last; t += Math.max(1, (last - first) / 20)) {
        long placed = clock.toHostNanos(truth.guestTicksAtNanoTime(t, v));
        assertThat(placed - t)
            .as("vCPU %d at %d ns: %s", v, t - before, c)
            .isBetween(-20_000L, 20_000L);
      }
    }
  }
}
