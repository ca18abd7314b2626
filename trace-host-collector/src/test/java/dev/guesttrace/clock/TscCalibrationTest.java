package dev.guesttrace.clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.guesttrace.collect.CalibrationPair;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TscCalibrationTest {
  private static final double RATE = 2.345678901e9;
  private static final long HOST_START = 123_456_789_000L;
  private static final long[] OFFSETS = {7_000_000_000_000_000L, 7_000_000_123_456_789L};

  /** Guest TSC of vCPU {@code v} at true host time {@code hostNanos}. */
  private static long tscAt(int v, long hostNanos) {
    return OFFSETS[v] + Math.round((hostNanos - HOST_START) * RATE / 1e9);
  }

  /**
   * Pairs as exits produce them: the guest reads its TSC at a true host time, the host sees the
   * exit after an exponential delay (mean 5 µs) with 50 ns of clock-read noise.
   */
  private static List<CalibrationPair> pairs(int vcpus, int perVcpu, long spanNanos, long seed) {
    Random random = new Random(seed);
    List<CalibrationPair> pairs = new ArrayList<>();
    for (int i = 0; i < perVcpu; i++) {
      for (int v = 0; v < vcpus; v++) {
        long t = HOST_START + (long) (spanNanos * (i + random.nextDouble()) / perVcpu);
        long delay = Math.round(-5_000 * Math.log(1 - random.nextDouble()));
        long noise = Math.round(random.nextGaussian() * 50);
        pairs.add(new CalibrationPair(v, tscAt(v, t), t + delay + noise));
      }
    }
    return pairs;
  }

  @Test
  void fit_oddRateLargeOffsetsTwoVcpus_withinTenPpmAndOneMicrosecond() {
    long span = 150_000_000; // 150 ms
    TscCalibration c = TscCalibration.fit(pairs(2, 200, span, 42), true, 0);

    assertThat(c.rateSource()).isEqualTo(TscCalibration.RateSource.FIT);
    assertThat(Math.abs(c.ticksPerSecond() - RATE) / RATE * 1e6).isLessThan(10);
    assertThat(c.ppmError()).isLessThan(10);
    assertThat(c.jumpCount()).isZero();
    assertThat(c.pairCount()).isEqualTo(400);
    assertThat(c.usedPairs()).isEqualTo(400);
    assertThat(c.warnings()).isEmpty();
    for (int v = 0; v < 2; v++) {
      TscClock clock = c.clock(v).orElseThrow();
      for (long t = HOST_START; t <= HOST_START + span; t += span / 50) {
        assertThat(clock.toHostNanos(tscAt(v, t)))
            .as("vcpu %d at %d", v, t)
            .isCloseTo(t, within(1_000L));
      }
    }
  }

  @Test
  void fit_aJumpedPairIsSetAsideCountedAndDoesNotSkewTheRate() {
    List<CalibrationPair> pairs = new ArrayList<>(pairs(1, 300, 120_000_000, 7));
    CalibrationPair p = pairs.get(150);
    // The guest TSC jumped a second ahead: the host sees the exit "before" the guest could exit.
    pairs.set(150, new CalibrationPair(0, p.guestTscTicks() + (long) RATE, p.hostNanos()));
    TscCalibration c = TscCalibration.fit(pairs, true, 0);
    assertThat(c.jumpCount()).isEqualTo(1);
    assertThat(c.usedPairs()).isEqualTo(299);
    assertThat(Math.abs(c.ticksPerSecond() - RATE) / RATE * 1e6).isLessThan(10);
    assertThat(c.warnings())
        .containsExactly("guest TSC jumped: 1 calibration pair(s) set aside as impossible");
  }

  @Test
  void fit_slowExitIsSetAsideWithoutBlame() {
    List<CalibrationPair> pairs = new ArrayList<>(pairs(1, 300, 120_000_000, 9));
    CalibrationPair p = pairs.get(10);
    pairs.set(10, new CalibrationPair(0, p.guestTscTicks(), p.hostNanos() + 30_000_000));
    TscCalibration c = TscCalibration.fit(pairs, true, 0);
    assertThat(c.jumpCount()).isZero();
    assertThat(c.slowPairs()).isEqualTo(1);
    assertThat(c.worstResidualNanos()).isLessThan(200_000);
    assertThat(c.clock(0).orElseThrow().toHostNanos(tscAt(0, HOST_START + 60_000_000)))
        .isCloseTo(HOST_START + 60_000_000, within(1_000L));
  }

  @Test
  void fit_exactPairsGiveExactRateAndZeroResidual() {
    List<CalibrationPair> pairs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      pairs.add(new CalibrationPair(0, 1_000 + 3_000L * i, 50_000 + 1_000L * i));
    }
    TscCalibration c = TscCalibration.fit(pairs, true, 3_000_000);
    assertThat(c.ticksPerSecond()).isCloseTo(3e9, within(1e-3));
    assertThat(c.worstResidualNanos()).isZero();
    assertThat(c.kvmDifferencePpm()).isCloseTo(0, within(1e-6));
    assertThat(c.clock(0).orElseThrow().toHostNanos(7_000)).isEqualTo(52_000);
  }

  @Test
  void fit_onePairUsesKvmRateOrAssumesOneTickPerNanosecond() {
    List<CalibrationPair> one = List.of(new CalibrationPair(0, 10_000, 500));
    TscCalibration kvm = TscCalibration.fit(one, true, 2_000_000);
    assertThat(kvm.rateSource()).isEqualTo(TscCalibration.RateSource.KVM);
    assertThat(kvm.ticksPerSecond()).isEqualTo(2e9);
    assertThat(kvm.ppmError()).isEqualTo(2 * TscCalibration.KVM_PRIOR_SIGMA_PPM);
    assertThat(kvm.kvmDifferencePpm()).isNaN();
    assertThat(kvm.clock(0).orElseThrow().toHostNanos(12_000)).isEqualTo(1_500);
    assertThat(kvm.warnings())
        .containsExactly(
            "too few calibration pairs to fit the TSC rate (1): using KVM's 2000000 kHz");

    TscCalibration assumed = TscCalibration.fit(one, false, 0);
    assertThat(assumed.rateSource()).isEqualTo(TscCalibration.RateSource.ASSUMED);
    assertThat(assumed.ticksPerSecond()).isEqualTo(1e9);
    assertThat(assumed.warnings())
        .containsExactly(
            "TSC RATE UNKNOWN: too few calibration pairs to fit it (1) and no hypervisor figure:"
                + " assuming 1 tick per ns, durations may be off by any factor",
            "host TSC is not invariant: guest timestamps may drift against host time");
  }

  /**
   * Host-read pairs as entries and exits give them: exact but for a read window of up to 50 ns
   * either way, and one read stretched 50 µs by preemption.
   */
  private static List<CalibrationPair> hostPairs(
      int vcpus, int perVcpu, long spanNanos, long seed) {
    Random random = new Random(seed);
    List<CalibrationPair> pairs = new ArrayList<>();
    for (int i = 0; i < perVcpu; i++) {
      for (int v = 0; v < vcpus; v++) {
        long t = HOST_START + (long) (spanNanos * (i + random.nextDouble()) / perVcpu);
        long window = random.nextLong(-50, 51);
        CalibrationPair.Source source =
            i % 2 == 0 ? CalibrationPair.Source.HOST_AT_ENTRY : CalibrationPair.Source.HOST_AT_EXIT;
        pairs.add(new CalibrationPair(v, tscAt(v, t), t + window, source));
      }
    }
    CalibrationPair p = pairs.get(pairs.size() / 2);
    pairs.set(
        pairs.size() / 2,
        new CalibrationPair(p.vcpu(), p.guestTscTicks(), p.hostNanos() - 50_000, p.source()));
    return pairs;
  }

  @Test
  void fit_hostReadPairs_exactRateAndOffsetsWithinTheReadWindow() {
    long span = 20_000_000; // a 20 ms run
    TscCalibration c = TscCalibration.fit(hostPairs(2, 100, span, 3), true, 0);

    assertThat(c.rateSource()).isEqualTo(TscCalibration.RateSource.FIT);
    assertThat(c.method()).isEqualTo("fit over host-read pairs");
    assertThat(Math.abs(c.ticksPerSecond() - RATE) / RATE * 1e6).isLessThan(3);
    assertThat(c.ppmError()).isLessThan(3);
    assertThat(c.hostPairsUsed()).isEqualTo(199);
    assertThat(c.slowPairs()).isEqualTo(1);
    assertThat(c.jumpCount()).isZero();
    assertThat(c.worstResidualNanos()).isLessThan(150);
    for (int v = 0; v < 2; v++) {
      TscClock clock = c.clock(v).orElseThrow();
      for (long t = HOST_START; t <= HOST_START + span; t += span / 10) {
        assertThat(clock.toHostNanos(tscAt(v, t))).isCloseTo(t, within(100L));
      }
    }
  }

  @Test
  void fit_hostReadAndGuestPairs_hostPairsGiveTheClockGuestPairsAreCheckedForCausality() {
    List<CalibrationPair> pairs = new ArrayList<>(hostPairs(1, 200, 10_000_000, 5));
    // Guest pairs: the host saw the exit 3 µs after the guest read its TSC (consistent) ...
    for (int i = 0; i < 20; i++) {
      long t = HOST_START + 500_000L * i;
      pairs.add(new CalibrationPair(0, tscAt(0, t), t + 3_000));
    }
    // ... and one the host "saw" 20 µs before the guest read its TSC: impossible.
    long t = HOST_START + 4_321_000;
    pairs.add(new CalibrationPair(0, tscAt(0, t), t - 20_000));

    TscCalibration c = TscCalibration.fit(pairs, true, 0);

    assertThat(Math.abs(c.ticksPerSecond() - RATE) / RATE * 1e6).isLessThan(5);
    assertThat(c.hostPairsUsed()).isEqualTo(199);
    assertThat(c.causalityViolations()).isEqualTo(1);
    assertThat(c.worstViolationNanos()).isBetween(19_800L, 20_200L);
    assertThat(c.warnings())
        .containsExactly(
            "1 guest exit pair(s) placed after the host saw the exit, by up to 20.0 µs: the"
                + " host-read pairs and the guest's disagree");
    assertThat(c.clock(0).orElseThrow().toHostNanos(tscAt(0, t))).isCloseTo(t, within(100L));
  }

  @Test
  void fit_kvmPrior_preciseFitStandsNoisyFitGivesWayDisagreementReported() {
    long kvmKhz = Math.round(RATE / 1000);
    double kvm = kvmKhz * 1000.0;
    // Precise (host-read pairs): the fit, KVM's figure only reported.
    TscCalibration precise = TscCalibration.fit(hostPairs(1, 100, 50_000_000, 11), true, kvmKhz);
    assertThat(precise.rateSource()).isEqualTo(TscCalibration.RateSource.FIT);
    assertThat(Math.abs(precise.ticksPerSecond() - RATE) / RATE * 1e6).isLessThan(3);
    assertThat(precise.kvmDifferencePpm())
        .isCloseTo((precise.fittedTicksPerSecond() - kvm) / kvm * 1e6, within(1e-9));
    assertThat(precise.kvmTscKhz()).isEqualTo(kvmKhz);
    assertThat(precise.warnings()).isEmpty();

    // Noisy: four guest pairs 200 µs apart with exit delays of 0 to 60 µs: hundreds of ppm.
    List<CalibrationPair> few = new ArrayList<>();
    long[] delays = {0, 60_000, 5_000, 40_000};
    for (int i = 0; i < 4; i++) {
      long t = HOST_START + 200_000L * i;
      few.add(new CalibrationPair(0, tscAt(0, t), t + delays[i]));
    }
    TscCalibration noisy = TscCalibration.fit(few, true, kvmKhz);
    assertThat(TscCalibration.fit(few, true, 0).ppmError()).isGreaterThan(1_000);
    assertThat(noisy.rateSource()).isEqualTo(TscCalibration.RateSource.KVM);
    assertThat(Math.abs(noisy.ticksPerSecond() - kvm) / kvm * 1e6).isLessThan(1);
    assertThat(Math.abs(noisy.kvmDifferencePpm())).isGreaterThan(1_000);
    assertThat(noisy.method()).isEqualTo("KVM's rate, offsets from guest exit pairs");

    // A KVM figure 500 ppm off a precise fit: the fit is kept and the disagreement warned about.
    TscCalibration off =
        TscCalibration.fit(hostPairs(1, 100, 50_000_000, 11), true, Math.round(kvmKhz * 1.0005));
    assertThat(off.rateSource()).isEqualTo(TscCalibration.RateSource.FIT);
    assertThat(off.kvmDifferencePpm()).isCloseTo(-500, within(1.0));
    assertThat(off.warnings()).hasSize(1);
    assertThat(off.warnings().get(0)).startsWith("the pairs' rate differs from KVM's");
  }

  @Test
  void values_roundTripGivesTheSameClocks() {
    TscCalibration c = TscCalibration.fit(hostPairs(2, 30, 10_000_000, 13), false, 2_345_679);
    TscCalibration back = TscCalibration.of(c.values());

    assertThat(back.values()).isEqualTo(c.values());
    assertThat(back.clock(1)).isEqualTo(c.clock(1));
  }

  @Test
  void fit_noPairsHasNoClock() {
    TscCalibration c = TscCalibration.fit(List.of(), true, 0);
    assertThat(c.clock(0)).isEmpty();
    assertThat(c.hasClock(0)).isFalse();
  }

  @Test
  void clock_vcpuWithoutPairsBorrowsTheLowestVcpusClock() {
    List<CalibrationPair> pairs =
        List.of(new CalibrationPair(1, 0, 100), new CalibrationPair(1, 1_000, 1_100));
    TscCalibration c = TscCalibration.fit(pairs, true, 0);
    assertThat(c.clock(0)).isEqualTo(c.clock(1));
    assertThat(c.vcpus()).containsExactly(1);
  }

  @Test
  void tscClock_convertsBothWaysNearLongLimits() {
    TscClock clock = new TscClock(Long.MAX_VALUE - 10_000_000_000L, 1_000, 2.5e9);
    assertThat(clock.toHostNanos(Long.MAX_VALUE - 7_500_000_000L)).isEqualTo(1_000_001_000L);
    assertThat(clock.toTscTicks(1_000_001_000L)).isEqualTo(Long.MAX_VALUE - 7_500_000_000L);
    assertThat(clock.ticksToNanos(5)).isEqualTo(2);
  }
}
