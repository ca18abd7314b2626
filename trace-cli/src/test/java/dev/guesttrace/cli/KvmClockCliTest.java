package dev.guesttrace.cli;

import static dev.guesttrace.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.clock.TscCalibration;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.vm.kvm.KvmBackend;
import dev.guesttrace.vm.kvm.KvmGuests;
import dev.guesttrace.vm.kvm.KvmTsc;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The clock on KVM, as a user sees it: every sample's chosen TSC rate within 50 ppm of what KVM
 * states ({@code KVM_GET_TSC_KHZ}); {@code --tsc-ghz} refused with the reason where KVM cannot
 * scale, {@code --tsc-offset} refused. Skipped, saying why, without {@code /dev/kvm}.
 */
class KvmClockCliTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsKvm() {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
  }

  @ParameterizedTest
  @ValueSource(strings = {"hello", "fib", "alloc", "multi-vcpu"})
  void everySample_chosenRateWithinFiftyPpmOfKvms(String sample) throws Exception {
    assumeTrue(KvmGuests.find(sample).isPresent(), "skipped: no native build of " + sample);
    Path file = dir.resolve(sample + ".gtrace");
    CliTest.Outcome o = run("run", sample, "--backend", "kvm", "--quiet", "-o", file.toString());
    assertThat(o.status()).as(o.err()).isZero();

    TraceData data = TraceFileReader.read(file, w -> {});
    TscCalibration c = SpanTreeBuilder.calibrate(data);
    long khz = data.header().kvmTscKhz();
    assertThat(khz).isPositive();
    assertThat(c.kvmTscKhz()).isEqualTo(khz);
    double ppm = (c.ticksPerSecond() - khz * 1000.0) / (khz * 1000.0) * 1e6;
    assertThat(Math.abs(ppm)).as("%s: %s", sample, c).isLessThan(50);
    CliTest.Outcome info = run("info", file.toString());
    assertThat(info.out()).contains("KVM states " + khz + " kHz; ").doesNotContain("NaN");
  }

  @Test
  void tscGhz_kvmCannotScale_exitTwoWithTheReason() {
    String reason = KvmTsc.rateUnavailableReason(1.234567e9).orElse(null);
    assumeTrue(reason != null, "skipped: this host's KVM can scale the TSC");
    CliTest.Outcome o = run("run", "hello", "--backend", "kvm", "--tsc-ghz", "1.234567");

    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err()).contains(reason).contains("KVM_CAP_TSC_CONTROL is 0");
  }

  @Test
  void tscOffset_onKvm_exitTwo() {
    CliTest.Outcome o = run("run", "hello", "--backend", "kvm", "--tsc-offset", "5");

    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err()).contains("--tsc-offset: not supported with --backend kvm");
  }
}
