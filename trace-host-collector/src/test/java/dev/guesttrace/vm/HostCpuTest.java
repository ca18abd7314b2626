package dev.guesttrace.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HostCpuTest {
  private static final String XEON =
      """
      processor\t: 0
      vendor_id\t: GenuineIntel
      model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
      flags\t\t: fpu tsc constant_tsc rep_good nopl nonstop_tsc tsc_known_freq hypervisor

      processor\t: 1
      model name\t: something else
      flags\t\t: fpu
      """;

  @Test
  void fromCpuinfo_invariantTscFlags_readsFirstProcessor() {
    HostCpu cpu = HostCpu.fromCpuinfo(XEON, "build-1", "Linux 6.8.0", "amd64", 2);

    assertThat(cpu)
        .isEqualTo(
            new HostCpu(
                "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
                true,
                true,
                "build-1",
                "Linux 6.8.0",
                "amd64",
                2));
  }

  @Test
  void fromCpuinfo_constantWithoutNonstop_isNotInvariant() {
    HostCpu cpu =
        HostCpu.fromCpuinfo(
            "model name : Old CPU\nflags : tsc constant_tsc\n", "h", "Linux 4.0", "amd64", 1);

    assertThat(cpu.invariantTsc()).isFalse();
    assertThat(cpu.hypervisor()).isFalse();
  }

  @Test
  void fromCpuinfo_empty_fallsBackToArch() {
    HostCpu cpu = HostCpu.fromCpuinfo("", "h", "Mac OS X 14.0", "aarch64", 8);

    assertThat(cpu.cpuModel()).isEqualTo("aarch64");
    assertThat(cpu.invariantTsc()).isFalse();
  }

  @Test
  void current_onThisHost_fillsEveryField() {
    HostCpu cpu = HostCpu.current();

    assertThat(cpu.cpuModel()).isNotBlank();
    assertThat(cpu.hostname()).isNotBlank();
    assertThat(cpu.kernel()).startsWith(System.getProperty("os.name"));
    assertThat(cpu.logicalCpus()).isEqualTo(Runtime.getRuntime().availableProcessors());
  }
}
