package dev.guesttrace.collect;

import java.util.List;
import java.util.Objects;

/**
 * What a run is and where it ran: the first thing a trace holds, written before any record. The
 * host fingerprint ({@code hostName} to {@code kvmTscKhz}) is what {@code info} prints and what
 * {@code compare} puts next to each side.
 *
 * @param guest the guest's name, e.g. {@code hello}
 * @param backend {@code emulated} or {@code kvm}
 * @param vcpuCount vCPUs in the VM
 * @param mode {@code stream}, {@code flight} or {@code off}
 * @param ringBytes requested ring bytes per vCPU, 0 for the guest's default
 * @param args the guest's {@code key=value} arguments, in command-line order
 * @param startEpochNanos wall-clock time of the run's start, ns since the Unix epoch
 * @param startMonotonicNanos {@link System#nanoTime()} at the same instant: host spans and
 *     calibration pairs are on this clock, and views show times relative to it
 * @param hostName the host's name
 * @param cpuModel the host CPU's model string
 * @param os operating system and kernel, e.g. {@code Linux 6.1.0-18-amd64}
 * @param arch host architecture, e.g. {@code amd64}
 * @param jvm the JVM running the host, e.g. {@code OpenJDK 64-Bit Server VM 25+36}
 * @param invariantTsc whether the host CPU reports an invariant TSC ({@code constant_tsc} and
 *     {@code nonstop_tsc})
 * @param kvmTscKhz the guest TSC rate the hypervisor reports ({@code KVM_GET_TSC_KHZ}), 0 if
 *     unknown
 * @param hostAbiVersion the trace ABI the host speaks, e.g. {@code 1.0.0}
 */
public record TraceHeader(
    String guest,
    String backend,
    int vcpuCount,
    String mode,
    long ringBytes,
    List<String> args,
    long startEpochNanos,
    long startMonotonicNanos,
    String hostName,
    String cpuModel,
    String os,
    String arch,
    String jvm,
    boolean invariantTsc,
    long kvmTscKhz,
    String hostAbiVersion) {

  /** Checks for nulls and copies the args. */
  public TraceHeader {
    Objects.requireNonNull(guest, "guest");
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(mode, "mode");
    args = List.copyOf(args);
    Objects.requireNonNull(hostName, "hostName");
    Objects.requireNonNull(cpuModel, "cpuModel");
    Objects.requireNonNull(os, "os");
    Objects.requireNonNull(arch, "arch");
    Objects.requireNonNull(jvm, "jvm");
    Objects.requireNonNull(hostAbiVersion, "hostAbiVersion");
    if (vcpuCount < 1) {
      throw new IllegalArgumentException("vcpuCount must be >= 1: vcpuCount=" + vcpuCount);
    }
  }
}
