package dev.guesttrace.vm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Facts about the host that decide how far its timestamps can be trusted and compared, for a trace
 * file's host fingerprint.
 *
 * @param cpuModel the CPU's brand string, e.g. {@code Intel(R) Xeon(R) Platinum 8375C CPU @
 *     2.90GHz}, or the architecture if unknown
 * @param invariantTsc whether the TSC ticks at a constant rate in every power state ({@code
 *     constant_tsc} and {@code nonstop_tsc} on x86 Linux); false where unknown
 * @param hypervisor whether the host itself is a virtual machine ({@code hypervisor} flag)
 * @param hostname the host's name
 * @param kernel operating system name and kernel version, e.g. {@code Linux 6.8.0-45-generic}
 * @param arch the JVM's {@code os.arch}
 * @param logicalCpus processors available to the JVM
 */
public record HostCpu(
    String cpuModel,
    boolean invariantTsc,
    boolean hypervisor,
    String hostname,
    String kernel,
    String arch,
    int logicalCpus) {

  private static final Path CPUINFO = Path.of("/proc/cpuinfo");

  /** This host, read once per call from {@code /proc} and system properties (cheap; no network). */
  public static HostCpu current() {
    String cpuinfo = "";
    try {
      if (Files.isReadable(CPUINFO)) {
        cpuinfo = Files.readString(CPUINFO, StandardCharsets.UTF_8);
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux, or /proc hidden: the fields fall back to "unknown".
    }
    return fromCpuinfo(
        cpuinfo,
        readHostname(),
        System.getProperty("os.name", "unknown") + " " + System.getProperty("os.version", ""),
        System.getProperty("os.arch", "unknown"),
        Runtime.getRuntime().availableProcessors());
  }

  /** Parses the first processor of a {@code /proc/cpuinfo} text. */
  static HostCpu fromCpuinfo(
      String cpuinfo, String hostname, String kernel, String arch, int logicalCpus) {
    String model = field(cpuinfo, "model name");
    if (model.isEmpty()) {
      model = field(cpuinfo, "Model"); // some ARM kernels
    }
    if (model.isEmpty()) {
      model = arch;
    }
    Set<String> flags =
        Arrays.stream(field(cpuinfo, "flags").split("\\s+"))
            .filter(f -> !f.isEmpty())
            .collect(Collectors.toSet());
    boolean invariant = flags.contains("constant_tsc") && flags.contains("nonstop_tsc");
    return new HostCpu(
        model.trim().replaceAll("\\s+", " "),
        invariant,
        flags.contains("hypervisor"),
        hostname,
        kernel.trim(),
        arch,
        logicalCpus);
  }

  /** The first occurrence of {@code name}: the first processor's (flags match on every core). */
  private static String field(String cpuinfo, String name) {
    for (String line : cpuinfo.lines().toList()) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
        return line.substring(colon + 1).trim();
      }
    }
    return "";
  }

  private static String readHostname() {
    for (Path p : List.of(Path.of("/proc/sys/kernel/hostname"), Path.of("/etc/hostname"))) {
      try {
        if (Files.isReadable(p)) {
          String name = Files.readString(p, StandardCharsets.UTF_8).trim();
          if (!name.isEmpty()) {
            return name;
          }
        }
      } catch (IOException | RuntimeException e) {
        // try the next source
      }
    }
    String env = System.getenv("HOSTNAME");
    if (env == null) {
      env = System.getenv("COMPUTERNAME");
    }
    return env == null || env.isBlank() ? "unknown" : env.trim().toLowerCase(Locale.ROOT);
  }
}
