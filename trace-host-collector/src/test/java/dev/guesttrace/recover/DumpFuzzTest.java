package dev.guesttrace.recover;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged dumps: seeded mutations of a real flight-mode dump's region header, name table, ring and
 * boot info, and of an ELF core's headers, give a recovered trace or a one-line {@link
 * DumpException}: never another exception, never a record count beyond what the dump can hold.
 *
 * <p>CI runs {@value #DEFAULT_ITERATIONS} mutations of each; {@code -Dguesttrace.fuzz.iterations=N}
 * runs more, {@code -Dguesttrace.fuzz.seed=S} starts elsewhere.
 */
class DumpFuzzTest {
  static final int DEFAULT_ITERATIONS = 150;

  @TempDir static Path dir;
  static byte[] ram;
  static long region;
  static long nameTable;

  @BeforeAll
  static void smallDump() throws Exception {
    GuestProgram program = SampleGuests.find("hello").orElseThrow();
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java(program.name(), GuestRuntime.image(program)),
                new EmulatedBackend())
            .setMemoryBytes(1 << 20)
            .setMode(BootInfo.MODE_FLIGHT)
            .setCall(program.defaultCall())
            .build();
    AtomicReference<byte[]> memory = new AtomicReference<>();
    GuestRun.builder(config)
        .setMemoryAtEnd(m -> memory.set(m.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)))
        .build()
        .execute();
    ram = memory.get();
    Path raw = dir.resolve("clean.mem");
    Files.write(raw, ram);
    DumpRecovery.Result clean = DumpRecovery.builder(raw, TraceData.builder()).build().recover();
    assertThat(clean.recovered()).hasSize(1);
    assertThat(clean.recordCount()).isGreaterThan(20);
    region = clean.recovered().get(0).address();
    nameTable =
        ByteBuffer.wrap(ram)
            .order(ByteOrder.LITTLE_ENDIAN)
            .getLong((int) region + TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET);
  }

  static int iterations() {
    return Integer.getInteger("guesttrace.fuzz.iterations", DEFAULT_ITERATIONS);
  }

  static Random random(long salt) {
    return new Random(Long.getLong("guesttrace.fuzz.seed", 20261127L) ^ salt);
  }

  /** Recovers {@code bytes} written as a dump; fails on anything but a result or DumpException. */
  static void recoverSafely(byte[] bytes, String what) throws IOException {
    Path file = dir.resolve("fuzzed.mem");
    Files.write(file, bytes);
    try (TraceFileWriter writer = new TraceFileWriter(OutputStream.nullOutputStream(), "fuzz")) {
      DumpRecovery.Result r = DumpRecovery.builder(file, writer).build().recover();
      // Each recovered record took at least one 32-byte slot of the dump.
      assertThat(r.recordCount()).as(what).isLessThanOrEqualTo(bytes.length / 32);
    } catch (DumpException e) {
      assertThat(e.getMessage()).as(what).doesNotContain("\n");
    } catch (RuntimeException | AssertionError e) {
      throw new AssertionError(what + ": " + e, e);
    }
  }

  @Test
  void mutatedRawDump_traceOrOneLineError() throws IOException {
    Random rnd = random(1);
    long[] targets = {region, nameTable, region + 64, 0x1000}; // 0x1000: the boot info
    for (int i = 0; i < iterations(); i++) {
      byte[] bytes = ram.clone();
      int mutations = 1 + rnd.nextInt(8);
      StringBuilder what = new StringBuilder("raw iteration " + i + ":");
      for (int m = 0; m < mutations; m++) {
        int at = (int) targets[rnd.nextInt(targets.length)] + rnd.nextInt(64);
        byte value = (byte) rnd.nextInt(256);
        bytes[at] = value;
        what.append(" [").append(at).append("]=").append(value & 0xFF);
      }
      recoverSafely(bytes, what.toString());
    }
  }

  @Test
  void mutatedElfCore_traceOrOneLineError() throws IOException {
    byte[] core =
        ElfCores.core(
            ram,
            List.of(
                new ElfCores.Segment(0x80000, ram.length - 0x80000),
                new ElfCores.Segment(0, 0x80000)));
    int headers = 64 + 56 * 3;
    Random rnd = random(2);
    for (int i = 0; i < iterations(); i++) {
      byte[] bytes = core.clone();
      int mutations = 1 + rnd.nextInt(6);
      StringBuilder what = new StringBuilder("elf iteration " + i + ":");
      for (int m = 0; m < mutations; m++) {
        int at = rnd.nextInt(headers);
        byte value = (byte) (rnd.nextBoolean() ? rnd.nextInt(256) : rnd.nextBoolean() ? 0 : 0xFF);
        bytes[at] = value;
        what.append(" [").append(at).append("]=").append(value & 0xFF);
      }
      if (rnd.nextInt(8) == 0) {
        int cut = rnd.nextInt(bytes.length);
        bytes = java.util.Arrays.copyOf(bytes, cut);
        what.append(" cut at ").append(cut);
      }
      recoverSafely(bytes, what.toString());
    }
  }
}
