package dev.guesttrace.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LatencyHistogramTest {
  @Test
  void index_bucketsCoverEveryValueContiguously() {
    long[] values = {0, 1, 63, 64, 65, 127, 128, 1000, 123_456_789L, Long.MAX_VALUE};
    for (long value : values) {
      int index = LatencyHistogram.index(value);
      assertThat(LatencyHistogram.lowerBound(index)).isLessThanOrEqualTo(value);
      if (index + 1 < 1888) {
        assertThat(LatencyHistogram.lowerBound(index + 1)).isGreaterThan(value);
      }
    }
    assertThat(LatencyHistogram.index(Long.MAX_VALUE)).isEqualTo(1887);
  }

  @Test
  void valueAt_medianOfKnownSamples_isWithinBucketPrecision() {
    LatencyHistogram histogram = new LatencyHistogram();
    for (long v = 1; v <= 1001; v++) {
      histogram.record(v * 1000);
    }

    assertThat(histogram.count()).isEqualTo(1001);
    assertThat(histogram.valueAt(0.5)).isBetween(501_000L - 16_000, 501_000L + 16_000);
    assertThat(histogram.valueAt(0.0))
        .isEqualTo(LatencyHistogram.midpoint(LatencyHistogram.index(1000)));
  }

  @Test
  void valueAt_smallValues_areExact() {
    LatencyHistogram histogram = new LatencyHistogram();
    histogram.record(3);
    histogram.record(5);
    histogram.record(40);

    assertThat(histogram.valueAt(0.5)).isEqualTo(5);
    assertThat(histogram.valueAt(1.0)).isEqualTo(40);
  }
}
