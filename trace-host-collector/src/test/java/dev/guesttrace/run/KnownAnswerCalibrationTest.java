package dev.guesttrace.run;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.clock.TscCalibration;
import dev.guesttrace.clock.TscClock;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import dev.guesttrace.vm.emulated.GuestTsc;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * End to end: a guest on the emulated backend with a TSC at an odd rate and a large offset, derived
 * exactly from host time (the virtual source), so the truth is known. The collector is not told the
 * rate: it calibrates from the exits, and must land within 10 ppm, and place every record within 2
 * µs of when the guest really read its TSC.
 *
 * <p>The target is 1 µs. On this 2-core machine shared with other builds, exit delays of the
 * least-delayed pairs differ by a microsecond or more across the run, which tilts the rate by a few
 * ppm and the far end of a 400 ms run by up to ~2 µs; docs/calibration.md has the measurements.
 */
class KnownAnswerCalibrationTest {
  static final double TRUE_TICKS_PER_SECOND = 2_345_678_901.0;
  static final long OFFSET_TICKS = 987_654_321_000_000L;

  /** Spans and flushes for at least 400 ms of host time: about 1600 calibration pairs. */
  static final class Metronome implements GuestProgram {
    @Override
    public String name() {
      return "metronome";
    }

    @Override
    public String summary() {
      return "spans and flushes at a steady pace";
    }

    @Override
    public void main(GuestRuntime runtime) {}

    @Override
    public Object call(GuestRuntime runtime, FunctionCall call) {
      Tracer t = runtime.tracer();
      int tick = t.name("tick");
      long end = System.nanoTime() + 400_000_000L;
      long n = 0;
      while (System.nanoTime() < end) {
        t.begin(tick);
        long until = System.nanoTime() + 200_000;
        while (System.nanoTime() < until) {
          Thread.onSpinWait();
        }
        t.end(tick);
        t.flush();
        n++;
      }
      return n;
    }
  }

  @Test
  void oddRateAndLargeOffset_fittedWithin10PpmAndRecordsWithin2Microseconds() throws Exception {
    VmConfig.TscConfig tsc =
        new VmConfig.TscConfig(TRUE_TICKS_PER_SECOND, OFFSET_TICKS, 0, VmConfig.TscSource.VIRTUAL);
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java("metronome", GuestRuntime.image(new Metronome())),
                new EmulatedBackend())
            .setTsc(tsc)
            .setCall(new FunctionCall("Run", List.of()))
            .setTimeout(Duration.ofSeconds(20))
            .build();
    // The same formula the VM uses, for the truth: ticks = f(host nanoTime).
    GuestTsc truth = GuestTsc.create(tsc);

    GuestRun.Result result = GuestRun.builder(config).build().execute();
    TraceData data = result.data();
    TscCalibration calibration = SpanTreeBuilder.calibrate(data);

    double exactRate = truth.ticksPerSecond();
    double errorPpm = Math.abs(calibration.ticksPerSecond() - exactRate) / exactRate * 1e6;
    assertThat(result.failed()).isFalse();
    assertThat(calibration.pairCount()).isGreaterThan(100);
    assertThat(errorPpm).as("rate error, ppm; fit says %s", calibration).isLessThan(10);

    // Truth for a record: the host time at which the guest TSC read its ticks, inverting the
    // formula through two anchor points (exact up to the fixed-point multiplier's rounding).
    long t0 = System.nanoTime();
    long ticks0 = truth.guestTicksAtNanoTime(t0, 0);
    TscClock fitted = calibration.clock(0).orElseThrow();
    VcpuRecords records = data.records(0);
    long worstNanos = 0;
    int checked = 0;
    for (int i = 0; i < records.size(); i++) {
      if (records.kind(i) != RecordKind.SPAN_BEGIN) {
        continue;
      }
      long ticks = records.tscTicks(i);
      double trueNanos = t0 + (ticks - ticks0) * 1e9 / exactRate;
      long converted = fitted.toHostNanos(ticks);
      worstNanos = Math.max(worstNanos, Math.round(Math.abs(converted - trueNanos)));
      checked++;
    }
    assertThat(checked).isGreaterThan(100);
    assertThat(worstNanos)
        .as("worst record error, ns; rate error %.2f ppm; fit says %s", errorPpm, calibration)
        .isLessThanOrEqualTo(2_000);
  }
}
