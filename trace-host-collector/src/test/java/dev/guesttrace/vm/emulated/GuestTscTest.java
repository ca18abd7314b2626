package dev.guesttrace.vm.emulated;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GuestTscTest {
  @Test
  void ticksAt_virtualScaledByTwoAndAHalf_equalsTheFormulaExactly() {
    GuestTsc tsc = GuestTsc.create(new TscConfig(2.5e9, 1000, 1_000_000, TscSource.VIRTUAL));

    assertThat(tsc.multiplier()).isEqualTo(5L << 47);
    assertThat(tsc.ticksAt(0, 0)).isEqualTo(1000);
    assertThat(tsc.ticksAt(1, 0)).isEqualTo(1002); // 2.5 rounds down
    assertThat(tsc.ticksAt(1_000_000_000L, 0)).isEqualTo(2_500_001_000L);
    assertThat(tsc.ticksAt(3_600_000_000_000L, 3)).isEqualTo(9_000_000_000_000L + 1000 + 3_000_000);
    assertThat(tsc.ticksPerSecond()).hasValue(2.5e9);
  }

  @Test
  void scale_anyRatio_equalsExact128BitProductShifted() {
    long multiplier = GuestTsc.multiplierFor(3.1e9, 1e9);
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 1000; i++) {
      long source = random.nextLong(1L << 52);
      long expected =
          BigInteger.valueOf(source)
              .multiply(BigInteger.valueOf(multiplier))
              .shiftRight(GuestTsc.FRACTION_BITS)
              .longValueExact();

      assertThat(GuestTsc.scale(source, multiplier)).isEqualTo(expected);
    }
  }

  @Test
  void multiplierFor_nonDyadicRatio_roundsToNearest() {
    long multiplier = GuestTsc.multiplierFor(3.1e9, 1e9);

    assertThat(multiplier).isEqualTo(872_572_427_803_034L); // 3.1 * 2^48 = ...033.6
  }

  @Test
  void create_rateTooHighForTheMultiplier_isRefused() {
    assertThatThrownBy(() -> GuestTsc.create(new TscConfig(1e14, 0, 0, TscSource.VIRTUAL)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "TSC rate out of range for scaling: ticksPerSecond=1.0E14 sourceTicksPerSecond=1.0E9");
  }

  @Test
  void read_virtualSource_liesBetweenTheTruthBeforeAndAfter() {
    GuestTsc tsc = GuestTsc.create(new TscConfig(3.1e9, -5_000, 77, TscSource.VIRTUAL));
    for (int i = 0; i < 100; i++) {
      long before = System.nanoTime();
      long ticks = tsc.read(2);
      long after = System.nanoTime();

      assertThat(ticks)
          .isBetween(tsc.guestTicksAtNanoTime(before, 2), tsc.guestTicksAtNanoTime(after, 2));
    }
  }

  @Test
  void read_unscaledVirtual_countsNanoseconds() {
    GuestTsc tsc = GuestTsc.create(new TscConfig(0, 0, 0, TscSource.VIRTUAL));

    assertThat(tsc.multiplier()).isEqualTo(1L << 48);
    assertThat(tsc.ticksPerSecond()).hasValue(1e9);
    assertThat(tsc.effectiveSource()).isEqualTo(TscSource.VIRTUAL);
    assertThat(tsc.ticksAt(123_456_789L, 0)).isEqualTo(123_456_789L);
  }

  @Test
  void read_steppedSource_advancesEachVcpuByTheStepWhateverTheTime() {
    GuestTsc tsc = GuestTsc.create(new TscConfig(2.5e9, 7, 1_000_000, TscSource.STEPPED));

    assertThat(tsc.read(0)).isEqualTo(2_500 + 7);
    assertThat(tsc.read(0)).isEqualTo(5_000 + 7);
    assertThat(tsc.read(1)).isEqualTo(2_500 + 7 + 1_000_000);
    assertThat(tsc.read(0)).isEqualTo(7_500 + 7);
    assertThat(tsc.effectiveSource()).isEqualTo(TscSource.STEPPED);
    assertThatThrownBy(() -> tsc.guestTicksAtNanoTime(0, 0))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the STEPPED TSC source has no exact host-time truth");
  }

  @Test
  void read_steppedSourceFromTwoThreads_losesNoStep() throws InterruptedException {
    GuestTsc tsc = GuestTsc.create(new TscConfig(0, 0, 0, TscSource.STEPPED));
    Runnable reads =
        () -> {
          for (int i = 0; i < 100_000; i++) {
            tsc.read(0);
          }
        };
    Thread other = Thread.ofPlatform().start(reads);
    reads.run();
    other.join();

    assertThat(tsc.read(0)).isEqualTo(200_001 * GuestTsc.STEP_TICKS);
  }

  @Test
  void read_hardwareSource_isMonotonicAndHasNoExactTruth() {
    assumeTrue(
        RdtscStub.available(),
        () -> "no rdtsc stub here: " + GuestTsc.hardwareUnavailableReason().orElse(""));
    GuestTsc tsc = GuestTsc.create(TscConfig.HOST);
    long first = tsc.read(0);
    long second = tsc.read(0);

    assertThat(tsc.effectiveSource()).isEqualTo(TscSource.HARDWARE);
    assertThat(second).isGreaterThanOrEqualTo(first);
    assertThatThrownBy(() -> tsc.guestTicksAtNanoTime(System.nanoTime(), 0))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void readGuestTsc_stepped_readsWithoutAdvancing() {
    GuestTsc tsc = GuestTsc.create(new TscConfig(0, 7, 1_000_000, TscSource.STEPPED));
    tsc.read(1);

    assertThat(tsc.readGuestTsc(1)).isEqualTo(GuestTsc.STEP_TICKS + 7 + 1_000_000);
    assertThat(tsc.readGuestTsc(1)).isEqualTo(GuestTsc.STEP_TICKS + 7 + 1_000_000);
    assertThat(tsc.read(1)).isEqualTo(2 * GuestTsc.STEP_TICKS + 7 + 1_000_000);
  }

  @Test
  void readGuestTsc_virtual_liesBetweenTheTruthBeforeAndAfter() {
    GuestTsc tsc = GuestTsc.create(new TscConfig(1.234567e9, 99, 5, TscSource.VIRTUAL));
    long before = System.nanoTime();
    long ticks = tsc.readGuestTsc(3);
    long after = System.nanoTime();

    assertThat(ticks)
        .isBetween(tsc.guestTicksAtNanoTime(before, 3), tsc.guestTicksAtNanoTime(after, 3));
  }

  /**
   * The requested rate exactly, against host time, on the hardware source: the old one-off 20 ms
   * measurement of the host TSC presented 1.2310 to 1.2322 GHz for a request of 1.234567.
   */
  @Test
  void create_hardwareScaled_presentsExactlyTheRequestedRateAgainstHostTime() throws Exception {
    assumeTrue(RdtscStub.available(), "no rdtsc stub here");
    GuestTsc tsc = GuestTsc.create(new TscConfig(1.234567e9, 1_000, 0, TscSource.HARDWARE));

    assertThat(tsc.effectiveSource()).isEqualTo(TscSource.HARDWARE);
    assertThat(tsc.ticksPerSecond()).hasValueCloseTo(1.234567e9, within(1e-3));
    // Every read lies between the truth at the nanoTime before and after it, however long the
    // host took in between: the presented rate is the requested one against host time, exactly.
    for (int i = 0; i < 3; i++) {
      Thread.sleep(10);
      long before = System.nanoTime();
      long ticks = tsc.read(0);
      long after = System.nanoTime();
      assertThat(ticks)
          .isBetween(tsc.guestTicksAtNanoTime(before, 0), tsc.guestTicksAtNanoTime(after, 0));
    }
  }

  @Test
  void ticksPerSecond_unscaledHardware_isUnknown() {
    assumeTrue(RdtscStub.available(), "no rdtsc stub here");

    assertThat(GuestTsc.create(TscConfig.HOST).ticksPerSecond()).isEmpty();
  }
}
