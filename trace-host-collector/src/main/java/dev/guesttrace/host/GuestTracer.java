package dev.guesttrace.host;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.collect.ExitProfileRow;
import dev.guesttrace.collect.TraceCollector;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.collect.TraceSink;
import dev.guesttrace.collect.TraceSinks;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.host.internal.HostInternals;
import dev.guesttrace.vm.ExitProfile;
import dev.guesttrace.vm.ExitProfiler;
import dev.guesttrace.vm.HostCpu;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * guesttrace for a VMM: feed it the exits of a guest that uses the guesttrace ABI, get the trace.
 * Any VMM written in Java, or reachable through the FFM API, can use it; guesttrace's own emulated
 * and KVM backends do. docs/embedding.md shows a complete run loop.
 *
 * <pre>{@code
 * GuestTracer tracer = GuestTracer.builder(guestMemory, vcpuCount)
 *     .setBackend("my-vmm").setGuestName("hello").setMode(TraceMode.STREAM)
 *     .setOutput(Path.of("hello.gtrace"))
 *     .build();
 * VcpuTracer vcpu = tracer.vcpu(0);
 * while (true) {
 *   vcpu.entering();                                  // before every VM entry
 *   switch (runVcpu()) {                              // KVM_RUN or your emulator
 *     case OUT -> {
 *       OutResult r = vcpu.onOut(port, value, rdi, rsi, rcx);
 *       if (r.setsRax()) setRax(r.rax());             // the REGISTER status
 *       if (!r.isTracePort()) handleYourPort(port);   // host calls, devices, ...
 *     }
 *     case HLT -> { vcpu.onHalt(); break loop; }
 *   }
 * }
 * GuestTrace trace = tracer.finish("halted", false);  // the file is complete now
 * }</pre>
 *
 * <p>Threads: each vCPU's calls come from the thread that runs it (one at a time per vCPU);
 * different vCPUs may call at once. {@link #finish} comes last, when no vCPU runs.
 *
 * <p>The guest is untrusted: the tracer validates a region once at REGISTER and then reads only
 * inside it, counts every anomaly and every lost record, and never grows without bound.
 */
public final class GuestTracer implements AutoCloseable {
  static {
    HostInternals.register(
        new HostInternals.Access() {
          @Override
          public void addSink(Builder builder, TraceSink sink) {
            builder.extraSinks.add(Objects.requireNonNull(sink, "sink"));
          }

          @Override
          public void setStartEpochNanos(Builder builder, long epochNanos) {
            builder.startEpochNanos = epochNanos;
          }

          @Override
          public TraceData data(GuestTrace trace) {
            return trace.data();
          }
        });
  }

  private final MemorySegment memory;
  private final LongSupplier clock;
  private final GuestTscReader tscReader;
  private final TraceCollector collector;
  private final TraceData.Builder data;
  private final TraceFileWriter fileWriter;
  private final Path output;
  private final ExitProfiler exits = new ExitProfiler();
  private final VcpuTracer[] vcpus;
  private GuestTrace finished;

  private GuestTracer(Builder b) throws IOException {
    this.memory = b.memory;
    this.clock = b.clock;
    this.tscReader = b.tscReader;
    this.output = b.output;
    for (int port = ExitPorts.TRACE; port <= ExitPorts.ABORT; port++) {
      exits.knownPort(port);
    }
    List<TraceSink> sinks = new ArrayList<>();
    this.data = b.keepInMemory ? TraceData.builder() : null;
    if (data != null) {
      sinks.add(data);
    }
    sinks.addAll(b.extraSinks);
    this.fileWriter = output == null ? null : TraceFileWriter.create(output, "guesttrace host API");
    if (fileWriter != null) {
      sinks.add(fileWriter);
    }
    TraceSink sink =
        sinks.size() == 1
            ? sinks.get(0)
            : sinks.isEmpty()
                ? TraceSinks.discard()
                : TraceSinks.tee(sinks.toArray(TraceSink[]::new));
    this.collector =
        TraceCollector.builder(sink)
            .setMaxRecords(b.maxRecords)
            .setClock(clock)
            .setDropWhenBehind(b.dropWhenBehind)
            .build();
    collector.start(header(b));
    this.vcpus = new VcpuTracer[b.vcpuCount];
    for (int v = 0; v < vcpus.length; v++) {
      vcpus[v] = new VcpuTracer(this, v);
    }
  }

  /**
   * A builder for a tracer of a guest whose physical memory is {@code guestMemory} (address 0 at
   * offset 0) and that has {@code vcpuCount} vCPUs.
   */
  public static Builder builder(MemorySegment guestMemory, int vcpuCount) {
    return new Builder(guestMemory, vcpuCount);
  }

  /** The tracer of vCPU {@code vcpuId}: feed it that vCPU's entries and exits. */
  public VcpuTracer vcpu(int vcpuId) {
    Objects.checkIndex(vcpuId, vcpus.length);
    return vcpus[vcpuId];
  }

  /** Number of vCPUs. */
  public int vcpuCount() {
    return vcpus.length;
  }

  /**
   * The tracer's host clock, ns ({@link System#nanoTime()} unless the builder set another): time
   * your own spans ({@link VcpuTracer#recordHostCall}, ...) with it.
   */
  public long nanoTime() {
    return clock.getAsLong();
  }

  /**
   * Ends the trace: copies what every vCPU's ring still holds (flight mode: the last records;
   * stream mode: what was never flushed), writes the end and closes the file. Call once, after the
   * last exit of every vCPU.
   *
   * @param outcome how the run ended, one line, e.g. {@code halted}, {@code guest fault on vCPU 0}
   * @param failed whether that is a failure (abort, fault, timeout)
   * @throws UncheckedIOException if the trace file could not be written completely (what was
   *     written stays readable up to its last complete chunk)
   * @throws IllegalStateException if already finished
   */
  public synchronized GuestTrace finish(String outcome, boolean failed) {
    Objects.requireNonNull(outcome, "outcome");
    if (finished != null) {
      throw new IllegalStateException("tracer already finished");
    }
    collector.finish(memory, outcome, failed, rows(exits.profile()));
    finished =
        new GuestTrace(
            data == null ? null : data.build(),
            outcome,
            failed,
            collector.recordCount(),
            collector.losses().total(),
            output,
            collector.refusal().orElse(null));
    if (fileWriter != null) {
      try {
        fileWriter.close();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot finish " + output + ": " + e.getMessage(), e);
      }
      if (fileWriter.error().isPresent()) {
        IOException e = fileWriter.error().get();
        throw new UncheckedIOException("cannot write " + output + ": " + e.getMessage(), e);
      }
    }
    return finished;
  }

  /**
   * Finishes the trace as {@code abandoned} (failed) if {@link #finish} was not called, so that a
   * VMM that dies still leaves a complete file.
   */
  @Override
  public synchronized void close() {
    if (finished == null) {
      finish("abandoned: the VMM closed the tracer before finishing it", true);
    }
  }

  // ---- for VcpuTracer ----

  MemorySegment memory() {
    return memory;
  }

  TraceCollector collector() {
    return collector;
  }

  GuestTscReader tscReader() {
    return tscReader;
  }

  ExitProfiler exits() {
    return exits;
  }

  private TraceHeader header(Builder b) {
    HostCpu host = HostCpu.current();
    return new TraceHeader(
        b.guestName,
        b.backend,
        b.vcpuCount,
        b.mode.label(),
        b.ringBytes,
        b.args,
        b.startEpochNanos != Long.MIN_VALUE ? b.startEpochNanos : epochNanosNow(),
        clock.getAsLong(),
        host.hostname(),
        host.cpuModel(),
        host.kernel(),
        host.arch(),
        System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"),
        host.invariantTsc(),
        b.guestTscKhz,
        AbiVersion.CURRENT.toString());
  }

  private static long epochNanosNow() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  private static List<ExitProfileRow> rows(ExitProfile profile) {
    List<ExitProfileRow> rows = new ArrayList<>(profile.rows().size());
    for (ExitProfile.Row r : profile.rows()) {
      rows.add(
          new ExitProfileRow(
              r.reason(),
              r.port(),
              r.portName() == null ? "" : r.portName(),
              r.count(),
              r.errors(),
              r.totalNanos(),
              r.minNanos(),
              r.medianNanos(),
              r.p99Nanos(),
              r.maxNanos(),
              ExitProfile.SIGNIFICANT_DIGITS,
              r.overflow()));
    }
    return rows;
  }

  /** Configures a {@link GuestTracer}; only the memory and the vCPU count are required. */
  public static final class Builder {
    private final MemorySegment memory;
    private final int vcpuCount;
    private String backend = "unknown";
    private String guestName = "guest";
    private TraceMode mode = TraceMode.STREAM;
    private long ringBytes;
    private List<String> args = List.of();
    private long guestTscKhz;
    private GuestTscReader tscReader;
    private Path output;
    private LongSupplier clock = System::nanoTime;
    private long maxRecords = TraceCollector.DEFAULT_MAX_RECORDS;
    private final List<TraceSink> extraSinks = new ArrayList<>();
    private long startEpochNanos = Long.MIN_VALUE;
    private boolean keepInMemory = true;
    private boolean dropWhenBehind;

    private Builder(MemorySegment memory, int vcpuCount) {
      this.memory = Objects.requireNonNull(memory, "guestMemory");
      if (vcpuCount < 1 || vcpuCount > 1024) {
        throw new IllegalArgumentException("vcpuCount must be 1..1024: vcpuCount=" + vcpuCount);
      }
      this.vcpuCount = vcpuCount;
    }

    /** The VMM's name, shown by {@code info} ({@code unknown} if not set). */
    public Builder setBackend(String backend) {
      this.backend = Objects.requireNonNull(backend, "backend");
      return this;
    }

    /** The guest's name, shown by every view ({@code guest} if not set). */
    public Builder setGuestName(String guestName) {
      this.guestName = Objects.requireNonNull(guestName, "guestName");
      return this;
    }

    /**
     * The tracing mode the VMM gave the guest ({@link TraceMode#STREAM} if not set). In {@link
     * TraceMode#OFF} every REGISTER is refused (status {@code REGISTER_REFUSED_TRACING_OFF}) and
     * counted.
     */
    public Builder setMode(TraceMode mode) {
      this.mode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** The ring bytes per vCPU the VMM asked the guest for (0, the default: the guest's own). */
    public Builder setRingBytes(long ringBytes) {
      if (ringBytes < 0) {
        throw new IllegalArgumentException("ringBytes must be >= 0: ringBytes=" + ringBytes);
      }
      this.ringBytes = ringBytes;
      return this;
    }

    /** The guest's {@code key=value} arguments, shown by {@code info}. */
    public Builder setArgs(List<String> args) {
      this.args = List.copyOf(args);
      return this;
    }

    /**
     * The guest TSC rate as the hypervisor states it (KVM: {@code KVM_GET_TSC_KHZ}), kHz; 0 (the
     * default) if unknown. The clock fit checks itself against it.
     */
    public Builder setGuestTscKhz(long guestTscKhz) {
      if (guestTscKhz < 0) {
        throw new IllegalArgumentException("guestTscKhz must be >= 0: guestTscKhz=" + guestTscKhz);
      }
      this.guestTscKhz = guestTscKhz;
      return this;
    }

    /**
     * How the host reads a paused vCPU's guest TSC. With one, every VM entry and exit gives a
     * calibration pair, in every mode, without the guest's help; without one (the default), only
     * the guest TSC the guest passes in RCX at its OUTs does.
     */
    public Builder setGuestTscReader(GuestTscReader tscReader) {
      this.tscReader = Objects.requireNonNull(tscReader, "tscReader");
      return this;
    }

    /** Writes the trace to {@code output} as it comes ({@code .gtrace}); none by default. */
    public Builder setOutput(Path output) {
      this.output = Objects.requireNonNull(output, "output");
      return this;
    }

    /**
     * The host monotonic clock, ns; {@link System#nanoTime()} by default. Calibration pairs and
     * host spans are on this clock.
     */
    public Builder setClock(LongSupplier clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Most records kept in the run, counted in ring slots (8,000,000 by default, about 230 MB);
     * more are counted as lost.
     */
    public Builder setMaxRecords(long maxRecords) {
      if (maxRecords < 0) {
        throw new IllegalArgumentException("maxRecords must be >= 0: maxRecords=" + maxRecords);
      }
      this.maxRecords = maxRecords;
      return this;
    }

    /**
     * Whether the finished trace stays in memory for {@link GuestTrace#spanTree()} (true by
     * default). A long-running VMM that writes a file should say false: memory then stays flat.
     */
    public Builder setKeepInMemory(boolean keepInMemory) {
      this.keepInMemory = keepInMemory;
      return this;
    }

    /**
     * What happens when the tracer's collector thread falls behind a vCPU (32 MiB of copied records
     * waiting): false, the default, makes that vCPU's next exit wait (nothing lost); true drops the
     * oldest copied records instead, counted as lost ({@code collector_behind}).
     */
    public Builder setDropWhenBehind(boolean dropWhenBehind) {
      this.dropWhenBehind = dropWhenBehind;
      return this;
    }

    /**
     * Builds the tracer and starts the trace (the file's header is written now).
     *
     * @throws IOException if the output file cannot be created
     */
    public GuestTracer build() throws IOException {
      return new GuestTracer(this);
    }
  }
}
