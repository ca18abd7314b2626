package dev.guesttrace.recover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.Diagnostics;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.file.TraceFileException;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import dev.guesttrace.vm.kvm.KvmBackend;
import dev.guesttrace.vm.kvm.KvmGuests;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dumps of real flight-mode runs read back: the same records as the run's own trace file, raw and
 * as an ELF core; and hostile dumps, which cost counted diagnostics and nothing else.
 */
class DumpRecoveryTest {
  @TempDir static Path dir;

  /** hello in flight mode: its ring never wraps, so the dump holds every record. */
  static Path helloTrace;

  static Path helloDump;

  /** fib in flight mode with a 256-slot ring: the dump holds only the tail. */
  static Path fibTrace;

  static Path fibDump;

  @BeforeAll
  static void runGuests() throws Exception {
    helloTrace = dir.resolve("hello.gtrace");
    helloDump = dir.resolve("hello.mem");
    run("hello", 1, 0, Map.of(), helloTrace, helloDump);
    fibTrace = dir.resolve("fib.gtrace");
    fibDump = dir.resolve("fib.mem");
    run("fib", 1, 8192, Map.of("n", "12"), fibTrace, fibDump);
  }

  static void run(
      String guest, int vcpus, int ringBytes, Map<String, String> args, Path trace, Path dump)
      throws Exception {
    run(guest, vcpus, ringBytes, BootInfo.MODE_FLIGHT, args, trace, dump);
  }

  static void run(
      String guest,
      int vcpus,
      int ringBytes,
      int mode,
      Map<String, String> args,
      Path trace,
      Path dump)
      throws Exception {
    GuestProgram program = SampleGuests.find(guest).orElseThrow();
    run(
        RunConfig.builder(
            new GuestSource.Java(program.name(), GuestRuntime.image(program)),
            new EmulatedBackend()),
        program,
        vcpus,
        ringBytes,
        mode,
        args,
        trace,
        dump);
  }

  static void run(
      RunConfig.Builder builder,
      GuestProgram program,
      int vcpus,
      int ringBytes,
      int mode,
      Map<String, String> args,
      Path trace,
      Path dump)
      throws Exception {
    RunConfig config =
        builder
            .setVcpus(vcpus)
            .setMemoryBytes(4 << 20)
            .setMode(mode)
            .setRingBytes(ringBytes)
            .setArgs(args)
            .setCall(program.defaultCall())
            .build();
    try (TraceFileWriter writer = TraceFileWriter.create(trace, "test")) {
      GuestRun.Result result =
          GuestRun.builder(config)
              .setSink(writer)
              .setMemoryAtEnd(
                  memory -> {
                    try {
                      GuestMemoryDumps.writeRaw(memory, dump);
                    } catch (IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    }
                  })
              .build()
              .execute();
      assertThat(result.failed()).as(result.outcome()).isFalse();
    }
  }

  static TraceData read(Path trace) throws IOException, TraceFileException {
    return TraceFileReader.read(trace, w -> {});
  }

  /** Recovers {@code dump} into a trace file and reads it back. */
  static Recovered recover(Path dump) throws IOException, TraceFileException {
    return recover(dump, b -> b);
  }

  record Recovered(DumpRecovery.Result result, TraceData data) {}

  static Recovered recover(
      Path dump, java.util.function.UnaryOperator<DumpRecovery.Builder> configure)
      throws IOException, TraceFileException {
    Path out = dir.resolve(dump.getFileName() + ".gtrace");
    DumpRecovery.Result result;
    try (TraceFileWriter writer = TraceFileWriter.create(out, "guesttrace recover")) {
      result = configure.apply(DumpRecovery.builder(dump, writer)).build().recover();
    }
    return new Recovered(result, read(out));
  }

  /** One record as a user sees it: vCPU, kind, name, TSC, arguments or text. */
  static List<String> records(TraceData data) {
    List<String> lines = new ArrayList<>();
    for (int v = 0; v < data.vcpuCount(); v++) {
      lines.addAll(records(data.records(v)));
    }
    return lines;
  }

  static List<String> records(VcpuRecords r) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < r.size(); i++) {
      int kind = r.kind(i);
      lines.add(
          r.vcpu()
              + " "
              + RecordKind.name(kind)
              + " "
              + (r.nameId(i) == 0 ? "-" : r.name(r.nameId(i)))
              + " tsc="
              + r.tscTicks(i)
              + (kind == RecordKind.MESSAGE
                  ? " text=" + r.message(i)
                  : " args=" + r.arg0(i) + "," + r.arg1(i)));
    }
    return lines;
  }

  static Diagnostic diagnostic(List<Diagnostic> all, String kind) {
    return all.stream().filter(d -> d.kind().equals(kind)).findFirst().orElseThrow();
  }

  @Test
  void rawDumpOfAFlightRun_givesTheRunsRecords() throws IOException, TraceFileException {
    TraceData run = read(helloTrace);
    Recovered rec = recover(helloDump);

    assertThat(rec.result().format()).isEqualTo(DumpFormat.RAW);
    assertThat(rec.result().recovered()).hasSize(1);
    assertThat(rec.result().recovered().get(0).vcpu()).isZero();
    assertThat(rec.result().recovered().get(0).mode()).isEqualTo("flight");
    assertThat(records(run)).hasSizeGreaterThan(20);
    assertThat(records(rec.data())).isEqualTo(records(run));
    assertThat(rec.data().losses().total()).isZero();
    assertThat(rec.data().diagnostics()).isEmpty();
    assertThat(rec.data().header().backend()).isEqualTo("recovered from " + helloDump + " (raw)");
    assertThat(rec.data().header().mode()).isEqualTo("flight");
    assertThat(rec.data().calibrationPairs()).isEmpty();
    assertThat(rec.data().outcome()).isEqualTo("recovered 1 trace region from " + helloDump);
  }

  @Test
  void wrappedFlightRing_givesTheRunsLastRecordsAndCountsTheRest()
      throws IOException, TraceFileException {
    TraceData run = read(fibTrace);
    Recovered rec = recover(fibDump);

    List<String> all = records(run);
    List<String> recovered = records(rec.data());
    assertThat(recovered).hasSizeBetween(250, 256);
    assertThat(recovered).isEqualTo(all.subList(all.size() - recovered.size(), all.size()));
    // fib(12) writes 2 * 465 span records plus the runtime's own: all but the ring's last are lost.
    assertThat(rec.data().losses().flightOverwritten()).isGreaterThan(600);
    assertThat(rec.result().recordCount()).isEqualTo(recovered.size());
    // The boot info guesttrace's host wrote at 0x1000 gives the guest's arguments.
    assertThat(rec.data().header().args()).containsExactly("n=12");
  }

  @Test
  void kvmCGuest_rawDumpGivesTheRunsRecords() throws Exception {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    assumeTrue(KvmGuests.find("fib").isPresent(), "skipped: no gcc (C guests were not built)");
    Path trace = dir.resolve("kvm-fib.gtrace");
    Path dump = dir.resolve("kvm-fib.mem");
    run(
        RunConfig.builder(KvmGuests.find("fib").orElseThrow(), new KvmBackend()),
        SampleGuests.find("fib").orElseThrow(),
        1,
        8192,
        BootInfo.MODE_FLIGHT,
        Map.of("n", "12"),
        trace,
        dump);
    List<String> all = records(read(trace));

    Recovered rec = recover(dump);

    List<String> recovered = records(rec.data());
    assertThat(rec.result().recovered()).hasSize(1);
    assertThat(recovered).hasSizeBetween(250, 256);
    assertThat(recovered).isEqualTo(all.subList(all.size() - recovered.size(), all.size()));
  }

  @Test
  void fourVcpus_eachRegionNamesItsVcpu() throws Exception {
    Path trace = dir.resolve("multi.gtrace");
    Path dump = dir.resolve("multi.mem");
    run("multi-vcpu", 4, 0, Map.of("units", "2"), trace, dump);
    TraceData run = read(trace);

    Recovered rec = recover(dump);

    assertThat(rec.result().recovered())
        .extracting(DumpRecovery.Region::vcpu)
        .containsExactlyInAnyOrder(0, 1, 2, 3);
    assertThat(rec.data().header().vcpuCount()).isEqualTo(4);
    for (int v = 0; v < 4; v++) {
      assertThat(records(rec.data().records(v)))
          .as("vCPU " + v)
          .isNotEmpty()
          .isEqualTo(records(run.records(v)));
    }
  }

  @Test
  void streamRingThatWrapped_countsWhatItNoLongerHoldsAsOverrun() throws Exception {
    Path trace = dir.resolve("fib-stream.gtrace");
    Path dump = dir.resolve("fib-stream.mem");
    run("fib", 1, 8192, BootInfo.MODE_STREAM, Map.of("n", "12"), trace, dump);
    List<String> all = records(read(trace));

    Recovered rec = recover(dump);

    // The flushed records went to the run's host; the dump has the ring's last 256 slots.
    List<String> recovered = records(rec.data());
    assertThat(recovered).hasSizeBetween(200, 256);
    assertThat(recovered).isEqualTo(all.subList(all.size() - recovered.size(), all.size()));
    assertThat(rec.data().header().mode()).isEqualTo("stream");
    // Losses count ring slots: every slot the guest wrote is either recovered or counted.
    long region = rec.result().recovered().get(0).address();
    long written =
        ByteBuffer.wrap(Files.readAllBytes(dump))
            .order(ByteOrder.LITTLE_ENDIAN)
            .getLong((int) region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
    VcpuRecords r = rec.data().records(0);
    long slots = 0;
    for (int i = 0; i < r.size(); i++) {
      slots +=
          r.kind(i) == RecordKind.MESSAGE
              ? 1
                  + dev.guesttrace.abi.TraceRecordDescriptor.continuationSlots(
                      r.message(i).getBytes(java.nio.charset.StandardCharsets.UTF_8).length)
              : 1;
    }
    assertThat(rec.data().losses().streamOverrun() + slots).isEqualTo(written);
    assertThat(rec.data().losses().streamOverrun()).isGreaterThanOrEqualTo(written - 256);
    assertThat(rec.data().diagnostics())
        .extracting(Diagnostic::kind)
        .containsExactly(Diagnostics.SEQUENCE_JUMP);
  }

  @Test
  void elfCore_givesTheSameRecordsAsTheRawDump() throws IOException, TraceFileException {
    byte[] ram = Files.readAllBytes(helloDump);
    Recovered raw = recover(helloDump);
    long region = raw.result().recovered().get(0).address();
    // A hole in guest physical memory past the trace region and the name table before it, as a
    // PC's PCI window is; the segments in reverse file order.
    long holeStart = 0x200000;
    long holeEnd = 0x280000;
    assertThat(region + TraceRegionDescriptor.regionLength(2048)).isLessThan(holeStart);
    Path core = dir.resolve("hello.core");
    Files.write(
        core,
        ElfCores.core(
            ram,
            List.of(
                new ElfCores.Segment(holeEnd, ram.length - holeEnd),
                new ElfCores.Segment(0, holeStart))));

    Recovered elf = recover(core);

    assertThat(elf.result().format()).isEqualTo(DumpFormat.ELF_CORE);
    assertThat(records(elf.data())).isEqualTo(records(raw.data()));
    assertThat(elf.data().header().backend()).isEqualTo("recovered from " + core + " (elf-core)");
    assertThat(elf.data().diagnostics()).isEmpty();
    try (var scratch = Files.list(dir)) {
      assertThat(scratch.map(p -> p.getFileName().toString()))
          .noneMatch(n -> n.startsWith("guesttrace-recover-"));
    }
  }

  @Test
  void givenRegionAddress_readsOnlyThatRegion() throws IOException, TraceFileException {
    long region = recover(helloDump).result().recovered().get(0).address();
    Recovered rec = recover(helloDump, b -> b.addRegion(region));
    assertThat(rec.result().candidates()).containsExactly(region);
    assertThat(records(rec.data())).isEqualTo(records(read(helloTrace)));

    Recovered wrong = recover(helloDump, b -> b.addRegion(region + 4096));
    assertThat(wrong.result().recovered()).isEmpty();
    assertThat(wrong.data().recordCount()).isZero();
    assertThat(diagnostic(wrong.data().diagnostics(), Diagnostics.BAD_MAGIC).first())
        .startsWith("trace region magic: expected 0x43525447, found");
  }

  @Test
  void tscGhz_isKeptAsTheRate() throws IOException, TraceFileException {
    Recovered rec = recover(helloDump, b -> b.setTscGhz(2.5));
    assertThat(rec.data().header().kvmTscKhz()).isEqualTo(2_500_000);
  }

  // ---- hostile dumps ------------------------------------------------------------------------

  @Test
  void truncatedDump_regionCutOff_isRefusedAndCounted() throws IOException, TraceFileException {
    byte[] ram = Files.readAllBytes(helloDump);
    long region = recover(helloDump).result().recovered().get(0).address();
    Path cut = dir.resolve("cut.mem");
    Files.write(cut, java.util.Arrays.copyOf(ram, (int) region + 1000));

    Recovered rec = recover(cut);

    assertThat(rec.result().candidates()).containsExactly(region);
    assertThat(rec.result().recovered()).isEmpty();
    assertThat(rec.data().outcome()).startsWith("no trace region recovered from " + cut);
    assertThat(diagnostic(rec.data().diagnostics(), Diagnostics.REGION_OUTSIDE_MEMORY).first())
        .startsWith(
            "trace region outside guest memory: regionAddress=0x" + Long.toHexString(region));
  }

  @Test
  void randomBytes_findNothingAndThrowNothing() throws IOException, TraceFileException {
    byte[] noise = new byte[1 << 20];
    new Random(13).nextBytes(noise);
    Path random = dir.resolve("random.mem");
    Files.write(random, noise);

    Recovered rec = recover(random);

    assertThat(rec.result().recovered()).isEmpty();
    assertThat(rec.data().recordCount()).isZero();
    assertThat(rec.data().header().vcpuCount()).isEqualTo(1);
    assertThat(rec.data().header().args()).isEmpty();
  }

  @Test
  void fakeHeaderClaimingHalfAGigabyte_isRefusedWithoutAllocatingIt()
      throws IOException, TraceFileException {
    byte[] noise = new byte[1 << 20];
    new Random(14).nextBytes(noise);
    ByteBuffer b = ByteBuffer.wrap(noise).order(ByteOrder.LITTLE_ENDIAN);
    header(b, 0x8000, TraceRegionDescriptor.MAX_CAPACITY, 0, 1);
    Path fake = dir.resolve("fake.mem");
    Files.write(fake, noise);

    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    Recovered rec = recover(fake);
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;

    assertThat(rec.result().candidates()).contains(0x8000L);
    assertThat(rec.result().recovered()).isEmpty();
    assertThat(diagnostic(rec.data().diagnostics(), Diagnostics.REGION_OUTSIDE_MEMORY).first())
        .isEqualTo(
            "trace region outside guest memory: regionAddress=0x8000 length=536870976"
                + " memoryBytes=1048576");
    assertThat(allocated).isLessThan(32L << 20);
  }

  @Test
  void regionInsideAnotherRegion_isSkippedAndCounted() throws IOException, TraceFileException {
    byte[] ram = Files.readAllBytes(helloDump);
    long region = recover(helloDump).result().recovered().get(0).address();
    ByteBuffer b = ByteBuffer.wrap(ram).order(ByteOrder.LITTLE_ENDIAN);
    // A second, well-formed header in the first ring's last slots (never written by hello).
    int capacity = b.getInt((int) region + TraceRegionDescriptor.CAPACITY_OFFSET);
    long inside = region + TraceRegionDescriptor.regionLength(capacity) - 32L * 256 - 64;
    header(b, inside, 256, 1, 1);
    Path overlapping = dir.resolve("overlap.mem");
    Files.write(overlapping, ram);

    Recovered rec = recover(overlapping);

    assertThat(rec.result().candidates()).containsExactly(region, inside);
    assertThat(rec.result().recovered())
        .extracting(DumpRecovery.Region::address)
        .containsExactly(region);
    assertThat(diagnostic(rec.data().diagnostics(), DumpRecovery.REGION_OVERLAP).first())
        .startsWith(
            "trace region header inside another region: regionAddress=0x"
                + Long.toHexString(inside));
    assertThat(records(rec.data())).isEqualTo(records(read(helloTrace)));
  }

  @Test
  void lyingCapacity_readsOnlyInsideTheDumpAndCounts() throws IOException, TraceFileException {
    byte[] ram = Files.readAllBytes(helloDump);
    long region = recover(helloDump).result().recovered().get(0).address();
    ByteBuffer b = ByteBuffer.wrap(ram).order(ByteOrder.LITTLE_ENDIAN);
    int capacity = b.getInt((int) region + TraceRegionDescriptor.CAPACITY_OFFSET);
    b.putInt((int) region + TraceRegionDescriptor.CAPACITY_OFFSET, capacity * 8);
    b.putLong((int) region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET, 5L * capacity);
    Path lying = dir.resolve("lying.mem");
    Files.write(lying, ram);

    Recovered rec = recover(lying);

    // A ring eight times longer, written five times round: its slots past the real ring are the
    // guest's heap, mostly zeros: counted, never fatal.
    assertThat(rec.result().recovered()).hasSize(1);
    assertThat(rec.data().losses().flightOverwritten()).isZero();
    assertThat(rec.data().losses().undecodable()).isPositive();
    assertThat(rec.data().diagnostics())
        .extracting(Diagnostic::kind)
        .contains(Diagnostics.EMPTY_SLOT);
  }

  @Test
  void manyMagics_areCappedAndCounted() throws IOException, TraceFileException {
    byte[] magics = new byte[64 * 1024];
    ByteBuffer b = ByteBuffer.wrap(magics).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < magics.length; i += 8) {
      b.putInt(i, TraceRegionDescriptor.MAGIC);
    }
    Path many = dir.resolve("many.mem");
    Files.write(many, magics);

    Recovered rec = recover(many);

    assertThat(rec.result().candidates()).hasSize(DumpRecovery.MAX_CANDIDATES);
    assertThat(diagnostic(rec.data().diagnostics(), DumpRecovery.TOO_MANY_CANDIDATES).count())
        .isEqualTo((magics.length - 64) / 8 + 1 - DumpRecovery.MAX_CANDIDATES);
    assertThat(rec.result().recovered()).isEmpty();
  }

  @Test
  void brokenElfCores_areOneLineErrorsOrCountedSegments() throws IOException, TraceFileException {
    Path shortElf = dir.resolve("short.core");
    Files.write(shortElf, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
    assertThatThrownBy(() -> recover(shortElf))
        .isInstanceOf(DumpException.class)
        .hasMessage("ELF core cut short: expected a 64-byte ELF64 header, found 7 bytes");

    byte[] ram = Files.readAllBytes(helloDump);
    byte[] core =
        ElfCores.core(
            ram,
            List.of(
                new ElfCores.Segment(0, ram.length),
                new ElfCores.Segment(1L << 62, 4096),
                new ElfCores.Segment(4096, 4096)));
    ByteBuffer b = ByteBuffer.wrap(core).order(ByteOrder.LITTLE_ENDIAN);
    // The fourth program header (after PT_NOTE): its file size runs far past the end of the file.
    b.putLong(64 + 3 * 56 + 32, 1L << 30);
    Path hostile = dir.resolve("hostile.core");
    Files.write(hostile, core);

    Recovered rec = recover(hostile);

    assertThat(records(rec.data())).isEqualTo(records(read(helloTrace)));
    assertThat(rec.data().diagnostics())
        .extracting(Diagnostic::kind)
        .contains(DumpRecovery.SEGMENT_SKIPPED, DumpRecovery.SEGMENT_TRUNCATED);
    assertThat(diagnostic(rec.data().diagnostics(), DumpRecovery.SEGMENT_SKIPPED).count())
        .isEqualTo(2); // beyond 1 TiB; overlapping the first
  }

  @Test
  void dumpCutShortWhileRead_isAOneLineError() throws IOException {
    byte[] ram = new byte[1 << 20];
    header(ByteBuffer.wrap(ram).order(ByteOrder.LITTLE_ENDIAN), 0x80000, 256, 0, 1);
    Path shrinking = dir.resolve("shrinking.mem");
    Files.write(shrinking, ram);
    // The sink sees the header after the scan and before the region is read: the file shrinks then.
    TraceData.Builder data = TraceData.builder();
    dev.guesttrace.collect.TraceSink truncating =
        new dev.guesttrace.collect.TraceSinks.Adapter() {
          @Override
          public void onHeader(dev.guesttrace.collect.TraceHeader header) {
            try (var f = new java.io.RandomAccessFile(shrinking.toFile(), "rw")) {
              f.setLength(4096);
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          }
        };

    assertThatThrownBy(
            () ->
                DumpRecovery.builder(
                        shrinking, dev.guesttrace.collect.TraceSinks.tee(truncating, data))
                    .build()
                    .recover())
        .isInstanceOf(DumpException.class)
        .hasMessage(shrinking + " was cut short while being read");
  }

  @Test
  void elfCoreWithoutRoomForItsImage_isAOneLineError() throws IOException {
    byte[] ram = Files.readAllBytes(helloDump);
    Path core = dir.resolve("noroom.core");
    Files.write(core, ElfCores.core(ram, List.of(new ElfCores.Segment(0, ram.length))));
    Path nowhere = dir.resolve("no-such-directory");

    assertThatThrownBy(() -> recover(core, b -> b.setScratchDirectory(nowhere)))
        .isInstanceOf(DumpException.class)
        .hasMessageStartingWith("cannot lay the ELF core out in " + nowhere + ": ");
  }

  @Test
  void missingOrEmptyDump_isAOneLineError() throws IOException, TraceFileException {
    assertThatThrownBy(() -> recover(dir.resolve("nothing.mem")))
        .isInstanceOf(DumpException.class)
        .hasMessage("no such file: " + dir.resolve("nothing.mem"));
    Path empty = dir.resolve("empty.mem");
    Files.write(empty, new byte[0]);
    assertThatThrownBy(() -> recover(empty))
        .isInstanceOf(DumpException.class)
        .hasMessage("empty dump: " + empty);
  }

  /** A well-formed region header (ABI 1.0.0, no name table). */
  static void header(ByteBuffer b, long address, int capacity, int vcpu, int mode) {
    int a = (int) address;
    b.putInt(a, TraceRegionDescriptor.MAGIC);
    b.putInt(a + 4, 0x00010000);
    b.putShort(a + 8, (short) 64);
    b.putShort(a + 10, (short) 32);
    b.putInt(a + 12, capacity);
    b.putInt(a + 16, mode);
    b.putInt(a + 20, vcpu);
    b.putLong(a + 24, 0);
    b.putLong(a + 48, 0);
    b.putInt(a + 56, 0);
  }
}
