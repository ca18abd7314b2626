package dev.guesttrace.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.collect.ExitProfileRow;
import org.junit.jupiter.api.Test;

class ExitProfilerTest {
  @Test
  void percentiles_fromHdrHistogram_withinOnePercent() {
    ExitProfiler profiler = new ExitProfiler();
    profiler.knownPort(ExitPorts.TRACE);
    for (long v = 1; v <= 1001; v++) {
      profiler.out(ExitPorts.TRACE, v * 1000, false);
    }

    ExitProfile.Row row = profiler.profile().row(ExitProfile.OUT, ExitPorts.TRACE).orElseThrow();
    assertThat(row.count()).isEqualTo(1001);
    assertThat(row.minNanos()).isEqualTo(1000);
    assertThat(row.maxNanos()).isEqualTo(1_001_000);
    assertThat(row.medianNanos()).isBetween(501_000L, 501_000L + 5_010);
    assertThat(row.p99Nanos()).isBetween(991_000L, 991_000L + 9_910);
    assertThat(row.overflow()).isZero();
  }

  @Test
  void smallValues_areExact() {
    ExitProfiler profiler = new ExitProfiler();
    profiler.hlt(3);
    profiler.hlt(5);
    profiler.hlt(40);

    ExitProfile.Row row =
        profiler.profile().row(ExitProfile.HLT, ExitProfile.NO_PORT).orElseThrow();
    assertThat(row.medianNanos()).isEqualTo(5);
    assertThat(row.p99Nanos()).isEqualTo(40);
  }

  @Test
  void anExitPastTheHistogram_isCountedAsOverflow_minMaxTotalStayExact() {
    ExitProfiler profiler = new ExitProfiler();
    long tooLong = ExitProfile.HIGHEST_TRACKABLE_NANOS * 3;
    profiler.timeout(tooLong);
    profiler.timeout(100);

    ExitProfile.Row row =
        profiler.profile().row(ExitProfile.TIMEOUT, ExitProfile.NO_PORT).orElseThrow();
    assertThat(row.overflow()).isEqualTo(1);
    assertThat(row.maxNanos()).isEqualTo(tooLong);
    assertThat(row.totalNanos()).isEqualTo(tooLong + 100);
    assertThat(row.minNanos()).isEqualTo(100);
    assertThat(row.p99Nanos()).isBetween(ExitProfile.HIGHEST_TRACKABLE_NANOS, tooLong);
  }

  @Test
  void theFilesRowsNameTheSameRange() {
    assertThat(ExitProfileRow.HISTOGRAM_HIGHEST_NANOS)
        .isEqualTo(ExitProfile.HIGHEST_TRACKABLE_NANOS);
  }
}
