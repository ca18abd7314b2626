package dev.guesttrace.recover;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.BootInfoDescriptor;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.Diagnostics;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceCollector;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.collect.TraceSink;
import dev.guesttrace.vm.VmConfig;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads the trace rings out of a guest-memory dump taken by a VMM that knows nothing about
 * guesttrace (QEMU {@code dump-guest-memory}, a Firecracker snapshot memory file, a raw copy of
 * guest RAM) and produces the same trace a run would have: header, names, records, losses and
 * diagnostics, to any {@link TraceSink} (the trace file writer, {@code TraceData}).
 *
 * <p>The dump is untrusted, as a live guest is. It is mapped read-only, never read into memory by a
 * size it claims; trace regions are found at the addresses given or by scanning every 8-byte
 * aligned address the dump holds for the region magic; and each found region is handed to the same
 * collector a run uses, as the guest would have registered it (RDI = the region's address, RSI =
 * its length; {@link TraceCollector#register}), so it is validated by exactly the checks a
 * registration makes and drained by the same code, with the same loss accounting. The vCPU is the
 * one the region's header names. (Not through the public host API {@code dev.guesttrace.host}: a
 * REGISTER there is an OUT exit whose RCX is a guest TSC, which a dump does not have, so it would
 * make up a calibration pair; and its header describes the host running the guest.) Regions
 * overlapping an earlier one, two regions naming one vCPU, too many candidates and broken ELF
 * segments are counted diagnostics of their own ({@code dump_*}).
 *
 * <p>A dump holds no calibration pairs: guest times stay raw ticks placed from each vCPU's first
 * record, at the rate given ({@link Builder#setTscGhz}) or at an assumed 1 GHz, and {@code info}
 * says the clock is uncalibrated.
 *
 * <pre>{@code
 * try (TraceFileWriter out = TraceFileWriter.create(path, "guesttrace recover")) {
 *   DumpRecovery.Result r = DumpRecovery.builder(dump, out).build().recover();
 * }
 * }</pre>
 */
public final class DumpRecovery {
  /** A region header lies inside a region recovered before it (e.g. text in a ring): skipped. */
  public static final String REGION_OVERLAP = "dump_region_overlap";

  /** Two recovered regions name the same vCPU: both are read, the later one's records after. */
  public static final String VCPU_TWICE = "dump_vcpu_twice";

  /** More region magics than {@link #MAX_CANDIDATES}: the rest are not looked at. */
  public static final String TOO_MANY_CANDIDATES = "dump_too_many_candidates";

  /** An ELF core's segment beyond 1 TiB, overlapping another, or beyond the header's count. */
  public static final String SEGMENT_SKIPPED = "dump_segment_skipped";

  /** An ELF core's segment (or its program headers) runs past the end of the file. */
  public static final String SEGMENT_TRUNCATED = "dump_segment_truncated";

  /** Region candidates looked at, at most (a VM has at most 64 vCPUs, one region each). */
  public static final int MAX_CANDIDATES = 1024;

  /** The alignment the ABI gives a trace region, and the step of the scan. */
  public static final int REGION_ALIGNMENT = 8;

  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Path dump;
  private final TraceSink sink;
  private final DumpFormat format;
  private final long[] regions;
  private final double tscGhz;
  private final Path scratchDirectory;

  private DumpRecovery(Builder b) {
    this.dump = b.dump;
    this.sink = b.sink;
    this.format = b.format;
    this.regions = b.regions.stream().mapToLong(Long::longValue).toArray();
    this.tscGhz = b.tscGhz;
    this.scratchDirectory = b.scratchDirectory;
  }

  /** A recovery of {@code dump} into {@code sink}. */
  public static Builder builder(Path dump, TraceSink sink) {
    return new Builder(dump, sink);
  }

  /**
   * What a recovery found.
   *
   * @param format the dump's format (given or detected)
   * @param candidates addresses looked at as region headers, ascending
   * @param recovered the regions read, in address order
   * @param recordCount records recovered, all vCPUs
   * @param losses records lost, by cause (flight-mode rings keep only their last slots)
   * @param diagnostics every diagnostic with its count, as the trace's end holds them
   */
  public record Result(
      DumpFormat format,
      List<Long> candidates,
      List<Region> recovered,
      long recordCount,
      LossCounters losses,
      List<Diagnostic> diagnostics) {
    /** Copies the lists. */
    public Result {
      candidates = List.copyOf(candidates);
      recovered = List.copyOf(recovered);
      diagnostics = List.copyOf(diagnostics);
    }
  }

  /**
   * A region read from the dump.
   *
   * @param address its guest physical address
   * @param vcpu the vCPU its header names
   * @param mode {@code stream} or {@code flight}
   * @param capacity ring slots
   */
  public record Region(long address, int vcpu, String mode, int capacity) {}

  /**
   * Recovers the dump: writes the whole trace to the sink (header first, end last).
   *
   * @throws DumpException if the dump cannot be read at all (missing, empty, not an ELF core)
   * @throws IOException if reading the dump fails
   */
  public Result recover() throws IOException {
    try {
      return recoverMapped();
    } catch (InternalError e) {
      // A mapped file cut short under us (another process truncated it) faults on access; the JDK
      // turns the SIGBUS into an InternalError. Nothing read from it after that can be trusted.
      throw new DumpException(dump + " was cut short while being read", e);
    }
  }

  private Result recoverMapped() throws IOException {
    Diagnostics own = new Diagnostics();
    RecoverySink out = new RecoverySink(sink, own);
    try (DumpImage image =
        DumpImage.open(
            dump, format, scratchDirectory, (kind, detail) -> out.diagnostic(kind, -1, detail))) {
      MemorySegment memory = image.memory();
      List<Candidate> candidates = candidates(image, out);
      TraceCollector collector =
          TraceCollector.builder(out)
              .setClock(() -> out.endNanos(rate()))
              .setCopyAreas(false) // each ring is read once: nothing to gain from 2 MiB each
              .build();
      collector.start(header(image, candidates));
      out.flushEarlyDiagnostics();

      List<Region> recovered = new ArrayList<>();
      long recoveredEnd = -1;
      long recoveredStart = -1;
      boolean[] vcpuSeen = new boolean[VmConfig.MAX_VCPUS];
      for (Candidate c : candidates) {
        if (recoveredEnd >= 0 && c.address < recoveredEnd) {
          out.diagnostic(
              REGION_OVERLAP,
              c.vcpu,
              "trace region header inside another region: regionAddress="
                  + ElfCore.hex(c.address)
                  + " inside "
                  + ElfCore.hex(recoveredStart)
                  + ".."
                  + ElfCore.hex(recoveredEnd)
                  + ": skipped");
          continue;
        }
        // As the guest registers it: TRACE/REGISTER with RDI = address, RSI = length. A header
        // whose capacity is invalid is registered with the header's length alone, so the collector
        // names the bad field. A refusal is the collector's own counted diagnostic.
        long length = c.regionLength > 0 ? c.regionLength : TraceRegionDescriptor.HEADER_LENGTH;
        if (collector.register(c.vcpu, memory, c.address, length) != ExitPorts.REGISTER_ACCEPTED) {
          continue;
        }
        if (vcpuSeen[c.vcpu]) {
          out.diagnostic(
              VCPU_TWICE,
              c.vcpu,
              "two trace regions name vCPU "
                  + c.vcpu
                  + ": the later one at "
                  + ElfCore.hex(c.address)
                  + " is read after the earlier");
        }
        vcpuSeen[c.vcpu] = true;
        collector.finalDrain(c.vcpu, memory);
        recovered.add(new Region(c.address, c.vcpu, modeName(c.mode), c.capacity));
        recoveredStart = c.address;
        recoveredEnd = c.address + c.regionLength;
      }
      String outcome =
          recovered.isEmpty()
              ? "no trace region recovered from " + dump + " (" + candidates.size() + " candidates)"
              : "recovered "
                  + recovered.size()
                  + " trace region"
                  + (recovered.size() == 1 ? "" : "s")
                  + " from "
                  + dump;
      collector.finish(memory, outcome, recovered.isEmpty(), List.of());
      TraceEnd end = out.end;
      return new Result(
          image.format(),
          candidates.stream().map(c -> c.address).toList(),
          recovered,
          collector.recordCount(),
          end.losses(),
          end.diagnostics());
    }
  }

  private double rate() {
    return tscGhz > 0 ? tscGhz * 1e9 : 1e9;
  }

  /** The addresses to register: the given ones, else every aligned region magic, ascending. */
  private List<Candidate> candidates(DumpImage image, RecoverySink out) {
    MemorySegment memory = image.memory();
    List<Candidate> found = new ArrayList<>();
    if (regions.length > 0) {
      long[] sorted = Arrays.stream(regions).distinct().sorted().toArray();
      for (long address : sorted) {
        found.add(Candidate.at(memory, address));
      }
      return found;
    }
    long skipped = 0;
    long last = TraceRegionDescriptor.HEADER_LENGTH;
    for (long[] range : image.populated()) {
      long a = (range[0] + REGION_ALIGNMENT - 1) & -REGION_ALIGNMENT;
      for (; a <= range[1] - last; a += REGION_ALIGNMENT) {
        if (memory.get(U32, a) != TraceRegionDescriptor.MAGIC) {
          continue;
        }
        if (found.size() == MAX_CANDIDATES) {
          skipped++;
          continue;
        }
        found.add(Candidate.at(memory, a));
      }
    }
    if (skipped > 0) {
      out.diagnostic(
          TOO_MANY_CANDIDATES,
          -1,
          skipped,
          "more region magics than looked at: looked at "
              + MAX_CANDIDATES
              + ", skipped "
              + skipped);
    }
    return found;
  }

  private TraceHeader header(DumpImage image, List<Candidate> candidates) throws IOException {
    int vcpus = 1;
    int modes = 0;
    long ringBytes = -1;
    for (Candidate c : candidates) {
      if (c.vcpu >= 0 && c.vcpu < VmConfig.MAX_VCPUS) {
        vcpus = Math.max(vcpus, c.vcpu + 1);
      }
      if (c.regionLength > 0 && (c.mode == 0 || c.mode == 1)) {
        modes |= 1 << c.mode;
        long bytes = (long) c.capacity * 32;
        ringBytes = ringBytes == -1 || ringBytes == bytes ? bytes : 0;
      }
    }
    String mode =
        switch (modes) {
          case 1 -> "stream";
          case 2 -> "flight";
          case 3 -> "stream and flight";
          default -> "unknown";
        };
    long modified = Files.getLastModifiedTime(dump).toMillis() * 1_000_000L;
    return new TraceHeader(
        String.valueOf(dump.getFileName()),
        "recovered from " + dump + " (" + image.format().cliName() + ")",
        vcpus,
        mode,
        Math.max(ringBytes, 0),
        bootArgs(image.memory()),
        modified,
        0,
        "unknown",
        "unknown",
        "unknown",
        "amd64",
        "unknown",
        false,
        tscGhz > 0 ? Math.round(tscGhz * 1e6) : 0,
        AbiVersion.CURRENT.toString());
  }

  /**
   * The guest's {@code key=value} arguments from the boot info at 0x1000, when a guesttrace host
   * wrote one (a dump of {@code guesttrace run}); none otherwise (another VMM's guest).
   */
  private static List<String> bootArgs(MemorySegment memory) {
    if (memory.byteSize() < GuestLayout.BOOT_INFO_ADDRESS + BootInfoDescriptor.PAGE_LENGTH) {
      return List.of();
    }
    try {
      // Reads a bounded page (arguments at most ARGS_MAX_BYTES), refusing a wrong magic or major.
      List<String> args = new ArrayList<>();
      BootInfoDescriptor.read(memory).args().forEach((k, v) -> args.add(k + "=" + v));
      return args;
    } catch (IllegalStateException e) {
      return List.of();
    }
  }

  private static String modeName(int mode) {
    return mode == TraceRegionDescriptor.MODE_FLIGHT ? "flight" : "stream";
  }

  /** A region magic (or a given address) and what its header claims, read once, untrusted. */
  private record Candidate(long address, int vcpu, int capacity, int mode, long regionLength) {
    static Candidate at(MemorySegment memory, long address) {
      long size = memory.byteSize();
      if (address < 0 || address > size - TraceRegionDescriptor.HEADER_LENGTH) {
        return new Candidate(address, 0, 0, -1, 0); // the collector refuses it: outside memory
      }
      int vcpu = memory.get(U32, address + TraceRegionDescriptor.VCPU_ID_OFFSET);
      long capacity =
          Integer.toUnsignedLong(memory.get(U32, address + TraceRegionDescriptor.CAPACITY_OFFSET));
      int mode = memory.get(U32, address + TraceRegionDescriptor.MODE_OFFSET);
      if (!TraceRegionDescriptor.isValidCapacity(capacity)) {
        return new Candidate(address, vcpu, 0, mode, 0);
      }
      return new Candidate(
          address, vcpu, (int) capacity, mode, TraceRegionDescriptor.regionLength((int) capacity));
    }
  }

  /**
   * Passes the collector's output on, adds the recovery's own diagnostics to it (at once for the
   * first of a kind, with their counts at the end), and tracks each vCPU's first and latest TSC so
   * that the trace's end falls after its last record.
   */
  private static final class RecoverySink implements TraceSink {
    private final TraceSink next;
    private final Diagnostics own;
    private final List<Diagnostic> early = new ArrayList<>();
    private final long[] firstTsc = new long[VmConfig.MAX_VCPUS];
    private final long[] lastTsc = new long[VmConfig.MAX_VCPUS];
    private final boolean[] seen = new boolean[VmConfig.MAX_VCPUS];
    private boolean started;
    TraceEnd end;

    RecoverySink(TraceSink next, Diagnostics own) {
      this.next = next;
      this.own = own;
    }

    void diagnostic(String kind, int vcpu, String detail) {
      diagnostic(kind, vcpu, 1, detail);
    }

    void diagnostic(String kind, int vcpu, long n, String detail) {
      Diagnostic first = own.count(kind, vcpu, n, detail);
      if (first != null) {
        if (started) {
          next.onDiagnostic(first);
        } else {
          early.add(first);
        }
      }
    }

    void flushEarlyDiagnostics() {
      early.forEach(next::onDiagnostic);
      early.clear();
    }

    /** The run's end on the trace's clock: the longest vCPU timeline at {@code ticksPerSecond}. */
    long endNanos(double ticksPerSecond) {
      long end = 0;
      for (int v = 0; v < seen.length; v++) {
        if (seen[v] && lastTsc[v] > firstTsc[v]) {
          end = Math.max(end, (long) Math.ceil((lastTsc[v] - firstTsc[v]) / ticksPerSecond * 1e9));
        }
      }
      return end;
    }

    @Override
    public void onHeader(TraceHeader header) {
      started = true;
      next.onHeader(header);
    }

    @Override
    public void onName(int vcpu, int nameId, String name) {
      next.onName(vcpu, nameId, name);
    }

    @Override
    public void onRecords(RecordBatch batch) {
      int v = batch.vcpu();
      if (v >= 0 && v < seen.length && batch.size() > 0) {
        if (!seen[v]) {
          seen[v] = true;
          firstTsc[v] = batch.tscTicks(0);
          lastTsc[v] = firstTsc[v];
        }
        for (int i = 0; i < batch.size(); i++) {
          lastTsc[v] = Math.max(lastTsc[v], batch.tscTicks(i));
        }
      }
      next.onRecords(batch);
    }

    @Override
    public void onCalibration(CalibrationPair pair) {
      next.onCalibration(pair);
    }

    @Override
    public void onHostSpan(HostSpan span) {
      next.onHostSpan(span);
    }

    @Override
    public void onDiagnostic(Diagnostic diagnostic) {
      next.onDiagnostic(diagnostic);
    }

    @Override
    public void onFinish(TraceEnd collected) {
      List<Diagnostic> all = new ArrayList<>(own.snapshot());
      all.addAll(collected.diagnostics());
      end =
          new TraceEnd(
              collected.outcome(),
              collected.failed(),
              collected.endMonotonicNanos(),
              collected.losses(),
              all,
              collected.exitProfile());
      next.onFinish(end);
    }
  }

  /** Configures a {@link DumpRecovery}. */
  public static final class Builder {
    private final Path dump;
    private final TraceSink sink;
    private DumpFormat format;
    private final Set<Long> regions = new TreeSet<>();
    private double tscGhz;
    private Path scratchDirectory;

    private Builder(Path dump, TraceSink sink) {
      this.dump = Objects.requireNonNull(dump, "dump");
      this.sink = Objects.requireNonNull(sink, "sink");
      Path parent = dump.toAbsolutePath().getParent();
      this.scratchDirectory = parent == null ? Path.of(".") : parent;
    }

    /** The dump's format; by default an ELF magic means {@link DumpFormat#ELF_CORE}, else raw. */
    public Builder setFormat(DumpFormat format) {
      this.format = Objects.requireNonNull(format, "format");
      return this;
    }

    /**
     * Reads the region at this guest physical address instead of scanning (repeatable).
     *
     * @throws IllegalArgumentException if the address is negative or not 8-byte aligned
     */
    public Builder addRegion(long address) {
      if (address < 0 || address % REGION_ALIGNMENT != 0) {
        throw new IllegalArgumentException(
            "region address must be 8-byte aligned and >= 0: address=0x"
                + Long.toHexString(address));
      }
      regions.add(address);
      return this;
    }

    /**
     * The guest TSC rate in GHz, kept in the header's hypervisor TSC rate ({@code kvmTscKhz}): the
     * only way a dump's ticks become times, since a dump holds no calibration pairs.
     *
     * @throws IllegalArgumentException unless 0.001 < ghz < 1000
     */
    public Builder setTscGhz(double tscGhz) {
      if (!(tscGhz > 0.001 && tscGhz < 1000)) {
        throw new IllegalArgumentException(
            "tscGhz must be a rate in GHz above 0.001 and below 1000: tscGhz=" + tscGhz);
      }
      this.tscGhz = tscGhz;
      return this;
    }

    /**
     * Where an ELF core's guest memory is laid out as a sparse scratch file (deleted at the end);
     * the dump's own directory by default, so that a RAM-backed temporary directory is not filled.
     */
    public Builder setScratchDirectory(Path scratchDirectory) {
      this.scratchDirectory = Objects.requireNonNull(scratchDirectory, "scratchDirectory");
      return this;
    }

    /** Builds the recovery. */
    public DumpRecovery build() {
      return new DumpRecovery(this);
    }
  }
}
