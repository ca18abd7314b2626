package dev.guesttrace.span;

/**
 * What a run was, as every view needs it: headers of text output, OTLP resource attributes, the two
 * sides of a comparison.
 *
 * @param guest the guest's name
 * @param backend {@code emulated} or {@code kvm}
 * @param vcpuCount vCPUs
 * @param hostName host the run took place on
 * @param cpuModel host CPU model string
 * @param os operating system and kernel, e.g. {@code Linux 6.1.0}
 * @param arch host architecture, e.g. {@code amd64}
 * @param jvm JVM that ran the host
 * @param invariantTsc whether the host CPU reports an invariant TSC
 * @param startEpochNanos wall-clock time of the run's start, ns since the Unix epoch
 * @param ticksPerSecond calibrated guest TSC rate
 * @param calibrationPpm estimated error of the rate, parts per million
 * @param calibrationWorstResidualNanos worst residual of the calibration fit, ns
 * @param outcome how the run ended, e.g. {@code halted}, {@code aborted code=3: ...}
 */
public record RunSummary(
    String guest,
    String backend,
    int vcpuCount,
    String hostName,
    String cpuModel,
    String os,
    String arch,
    String jvm,
    boolean invariantTsc,
    long startEpochNanos,
    double ticksPerSecond,
    double calibrationPpm,
    long calibrationWorstResidualNanos,
    String outcome) {}
