package dev.guesttrace.run;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.collect.TraceCollector;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.vm.Backend;
import dev.guesttrace.vm.GuestMemoryLayout;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a run needs: which guest on which backend, the VM's shape, the trace ring, the calls
 * to make and the limits. Built with {@link #builder(GuestSource, Backend)}.
 *
 * @param source the guest's code
 * @param backend the backend to run it on
 * @param vcpus vCPUs
 * @param memoryBytes guest physical memory
 * @param ringBytes trace ring bytes per vCPU, 0 for the guest's default
 * @param mode {@link BootInfo#MODE_STREAM}, {@link BootInfo#MODE_FLIGHT} or {@link
 *     BootInfo#MODE_OFF}
 * @param calls guest calls to make after boot, spread round-robin over the vCPUs
 * @param call the guest call to make
 * @param tsc the guest TSC (rate scaling and offsets)
 * @param timeout limit for each vCPU entry (boot or one call)
 * @param args {@code --arg key=value} pairs for the guest
 * @param maxRecords records kept per run; the rest are counted as dropped
 * @param deterministic emulated backend: the guest TSC steps a fixed amount per read and the host
 *     clock is that same count, so a single-vCPU run gives the same trace every time (golden tests,
 *     the pasted trees of the sample guests)
 */
public record RunConfig(
    GuestSource source,
    Backend backend,
    int vcpus,
    long memoryBytes,
    int ringBytes,
    int mode,
    int calls,
    FunctionCall call,
    VmConfig.TscConfig tsc,
    Duration timeout,
    Map<String, String> args,
    long maxRecords,
    boolean deterministic) {

  /** Guest memory unless set: 64 MiB. */
  public static final long DEFAULT_MEMORY_BYTES = 64L << 20;

  /** Per-entry timeout unless set. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  /**
   * TSC offset between consecutive vCPUs unless set: 1 ms at 1 GHz, so multi-vCPU guests see
   * distinct TSCs and calibration must handle each vCPU's offset.
   */
  public static final long DEFAULT_VCPU_OFFSET_TICKS = 1_000_000;

  /** Checks ranges and copies the args. */
  public RunConfig {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(call, "call");
    Objects.requireNonNull(tsc, "tsc");
    Objects.requireNonNull(timeout, "timeout");
    args = Map.copyOf(new LinkedHashMap<>(args));
    checkArgs(args);
    if (vcpus < 1 || vcpus > VmConfig.MAX_VCPUS) {
      throw new IllegalArgumentException(
          "vcpus must be 1.." + VmConfig.MAX_VCPUS + ": vcpus=" + vcpus);
    }
    if (calls < 0) {
      throw new IllegalArgumentException("calls must be >= 0: calls=" + calls);
    }
    if (mode != BootInfo.MODE_STREAM && mode != BootInfo.MODE_FLIGHT && mode != BootInfo.MODE_OFF) {
      throw new IllegalArgumentException("mode must be stream, flight or off: mode=" + mode);
    }
    if (ringBytes < 0) {
      throw new IllegalArgumentException("ringBytes must be >= 0: ringBytes=" + ringBytes);
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: timeout=" + timeout);
    }
    if (timeout.compareTo(MAX_TIMEOUT) > 0) {
      // Checked here, not inside the run: a deadline of now + 1e30 s overflows a long.
      throw new IllegalArgumentException(
          "timeout must be at most " + MAX_TIMEOUT.toDays() + " days: timeout=" + timeout);
    }
    if (memoryBytes < VmConfig.MIN_MEMORY_BYTES) {
      throw new IllegalArgumentException(
          "guest memory must be at least 1 MiB: memoryBytes=" + memoryBytes);
    }
    // The layout's own check (call buffers of every vCPU and a minimal heap), here so that a run
    // refuses it before any guest starts rather than inside the run.
    GuestMemoryLayout.standard(memoryBytes, vcpus, callBufferLength());
    long machine = machineMemoryBytes();
    if (memoryBytes > machine) {
      throw new IllegalArgumentException(
          "guest memory must fit in this machine's "
              + (machine >> 20)
              + " MiB of memory: memoryBytes="
              + memoryBytes);
    }
    if (ringBytes > 0 && (long) ringBytes * vcpus > memoryBytes / 2) {
      throw new IllegalArgumentException(
          "trace rings must fit in half of guest memory: ringBytes="
              + ringBytes
              + " x vcpus="
              + vcpus
              + " > memoryBytes/2="
              + memoryBytes / 2);
    }
  }

  /**
   * The args as the boot info carries them ({@code key=value} lines, at most {@link
   * GuestLayout#ARGS_MAX_BYTES} bytes): a key is not empty and has no '=', neither has a line break
   * or another control character (it would make lines of its own).
   */
  private static void checkArgs(Map<String, String> args) {
    long bytes = 0;
    for (Map.Entry<String, String> e : args.entrySet()) {
      String key = e.getKey();
      if (key.isEmpty() || key.indexOf('=') >= 0 || hasControl(key)) {
        throw new IllegalArgumentException(
            "--arg: expected KEY=VALUE with a key of no '=' or control characters, found key '"
                + dev.guesttrace.render.Printable.of(key)
                + "'");
      }
      if (hasControl(e.getValue())) {
        throw new IllegalArgumentException(
            "--arg "
                + key
                + ": expected a value without line breaks or control characters, found '"
                + dev.guesttrace.render.Printable.of(e.getValue())
                + "'");
      }
      bytes +=
          key.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
              + e.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
              + 2L;
    }
    if (bytes > GuestLayout.ARGS_MAX_BYTES) {
      throw new IllegalArgumentException(
          "--arg: the guest's arguments take at most "
              + GuestLayout.ARGS_MAX_BYTES
              + " bytes as key=value lines, found "
              + bytes);
    }
  }

  private static boolean hasControl(String s) {
    return s.codePoints().anyMatch(Character::isISOControl);
  }

  /** The longest timeout a run takes. */
  public static final Duration MAX_TIMEOUT = Duration.ofDays(30);

  /** Physical memory of this machine: no backend can give a guest more. */
  static long machineMemoryBytes() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      long total = os.getTotalMemorySize();
      if (total > 0) {
        return total;
      }
    }
    return Long.MAX_VALUE;
  }

  /** A config with defaults: 1 vCPU, 64 MiB, default ring, stream mode, 1 call of {@code main}. */
  public static Builder builder(GuestSource source, Backend backend) {
    return new Builder(source, backend);
  }

  /** The mode's name as trace files and output write it. */
  public String modeName() {
    return switch (mode) {
      case BootInfo.MODE_FLIGHT -> "flight";
      case BootInfo.MODE_OFF -> "off";
      default -> "stream";
    };
  }

  /** Builder for {@link RunConfig}. */
  public static final class Builder {
    private final GuestSource source;
    private final Backend backend;
    private int vcpus = 1;
    private long memoryBytes = DEFAULT_MEMORY_BYTES;
    private int ringBytes;
    private int mode = BootInfo.MODE_STREAM;
    private int calls = 1;
    private FunctionCall call = new FunctionCall("main", java.util.List.of());
    private VmConfig.TscConfig tsc =
        new VmConfig.TscConfig(0, 0, DEFAULT_VCPU_OFFSET_TICKS, VmConfig.TscSource.HARDWARE);
    private Duration timeout = DEFAULT_TIMEOUT;
    private Map<String, String> args = Map.of();
    private long maxRecords = TraceCollector.DEFAULT_MAX_RECORDS;
    private boolean deterministic;

    private Builder(GuestSource source, Backend backend) {
      this.source = Objects.requireNonNull(source, "source");
      this.backend = Objects.requireNonNull(backend, "backend");
    }

    public Builder setVcpus(int vcpus) {
      this.vcpus = vcpus;
      return this;
    }

    public Builder setMemoryBytes(long memoryBytes) {
      this.memoryBytes = memoryBytes;
      return this;
    }

    public Builder setRingBytes(int ringBytes) {
      this.ringBytes = ringBytes;
      return this;
    }

    public Builder setMode(int mode) {
      this.mode = mode;
      return this;
    }

    public Builder setCalls(int calls) {
      this.calls = calls;
      return this;
    }

    public Builder setCall(FunctionCall call) {
      this.call = Objects.requireNonNull(call, "call");
      return this;
    }

    public Builder setTsc(VmConfig.TscConfig tsc) {
      this.tsc = Objects.requireNonNull(tsc, "tsc");
      return this;
    }

    public Builder setTimeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    public Builder setArgs(Map<String, String> args) {
      this.args = Objects.requireNonNull(args, "args");
      return this;
    }

    public Builder setMaxRecords(long maxRecords) {
      this.maxRecords = maxRecords;
      return this;
    }

    /**
     * Makes the run deterministic (emulated backend): a stepped guest TSC with no offsets, and the
     * host clock counting with it.
     */
    public Builder setDeterministic(boolean deterministic) {
      this.deterministic = deterministic;
      return this;
    }

    /** Builds the config. */
    public RunConfig build() {
      return new RunConfig(
          source,
          backend,
          vcpus,
          memoryBytes,
          ringBytes,
          mode,
          calls,
          call,
          deterministic ? new VmConfig.TscConfig(0, 0, 0, VmConfig.TscSource.STEPPED) : tsc,
          timeout,
          args,
          maxRecords,
          deterministic);
    }
  }

  static int callBufferLength() {
    return GuestLayout.DEFAULT_CALL_BUFFER_LENGTH;
  }
}
