package dev.guesttrace.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileException;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Damaged trace files: a flipped bit at every byte of a small trace, and a seeded mutator (flips,
 * overwrites, insertions, deletions, splices) give either a trace or a one-line {@link
 * TraceFileException}: never another exception type, never a hang, never an allocation sized by a
 * corrupt length.
 *
 * <p>CI runs {@value #DEFAULT_ITERATIONS} mutations; {@code -Dguesttrace.fuzz.iterations=N} runs
 * more, {@code -Dguesttrace.fuzz.seed=S} starts elsewhere (see docs/robustness.md).
 */
class TraceFileFuzzTest {
  static final int DEFAULT_ITERATIONS = 3000;

  private static byte[] trace;

  @BeforeAll
  static void smallTrace() throws Exception {
    // A deterministic run of a hostile guest: names, messages, counters, diagnostics, losses.
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java(
                    "hostile-unknown-kind",
                    GuestRuntime.image(SampleGuests.find("hostile-unknown-kind").orElseThrow())),
                new EmulatedBackend())
            .setCalls(1)
            .setCall(new FunctionCall("main", List.of()))
            .setMemoryBytes(16L << 20)
            .setDeterministic(true)
            .build();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TraceFileWriter writer = new TraceFileWriter(bytes, "fuzz");
    GuestRun.builder(config).setSink(writer).build().execute();
    writer.close();
    trace = bytes.toByteArray();
  }

  @Test
  void smallTrace_readsCleanly() throws Exception {
    TraceData data = read(trace);
    assertThat(data.recordCount()).isGreaterThan(30);
    assertThat(trace.length).isLessThan(16 * 1024);
  }

  @Test
  void flippedBit_atEveryByte_traceOrOneLineError() {
    for (int position = 0; position < trace.length; position++) {
      for (int bit : new int[] {0, 7, position % 8}) {
        byte[] damaged = trace.clone();
        damaged[position] ^= (byte) (1 << bit);
        check(damaged, "bit " + bit + " of byte " + position);
      }
    }
  }

  @Test
  void seededMutations_traceOrOneLineError() {
    int iterations = Integer.getInteger("guesttrace.fuzz.iterations", DEFAULT_ITERATIONS);
    long seed0 = Long.getLong("guesttrace.fuzz.seed", 1);
    for (long seed = seed0; seed < seed0 + iterations; seed++) {
      check(mutate(trace, new Random(seed)), "seed " + seed);
    }
  }

  @Test
  void chunkLengthOf2GiB_notAllocatedReadAsCut() throws Exception {
    // Over the limit or just under it (below): the same, a file that ends inside a chunk.
    byte[] file = withChunkAfterHeader(0x8000_0000L, 100);
    List<String> warnings = new java.util.ArrayList<>();
    long before = allocatedBytes();

    TraceData data =
        TraceFileReader.read(new ByteArrayInputStream(file), warnings::add, Long.MAX_VALUE);

    assertThat(allocatedBytes() - before).isLessThan(4L << 20);
    assertThat(data.recordCount()).isZero();
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0)).startsWith("trace file cut short at byte ");
  }

  @Test
  void chunkLengthJustUnderTheLimitInACutFile_costsOnlyWhatIsThere() throws Exception {
    byte[] file = withChunkAfterHeader((64 << 20) - 1, 100);
    List<String> warnings = new java.util.ArrayList<>();
    long before = allocatedBytes();

    TraceData data =
        TraceFileReader.read(new ByteArrayInputStream(file), warnings::add, Long.MAX_VALUE);

    assertThat(allocatedBytes() - before).isLessThan(4L << 20);
    assertThat(data.recordCount()).isZero();
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0)).startsWith("trace file cut short at byte ");
  }

  /** The preamble and the header chunk of the small trace, then a chunk claiming {@code length}. */
  private static byte[] withChunkAfterHeader(long length, int present) throws IOException {
    int headerEnd = 8 + chunkLength(trace, 8);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(trace, 0, headerEnd);
    long v = length;
    while (v >= 0x80) {
      out.write((int) (v & 0x7F) | 0x80);
      v >>>= 7;
    }
    out.write((int) v);
    out.write(new byte[present]);
    return out.toByteArray();
  }

  /** Bytes of the chunk at {@code offset}, its varint length prefix included. */
  private static int chunkLength(byte[] file, int offset) {
    int value = 0;
    int i = 0;
    while (true) {
      int b = file[offset + i] & 0xFF;
      value |= (b & 0x7F) << (7 * i);
      i++;
      if ((b & 0x80) == 0) {
        return i + value;
      }
    }
  }

  private static void check(byte[] input, String what) {
    try {
      read(input);
    } catch (TraceFileException e) {
      assertThat(e.getMessage()).as(what).isNotBlank().doesNotContain("\n");
    } catch (Throwable e) {
      fail(what + ": " + e + " for input " + Arrays.toString(input), e);
    }
  }

  private static TraceData read(byte[] input) throws IOException, TraceFileException {
    return TraceFileReader.read(new ByteArrayInputStream(input), w -> {}, 1_000_000);
  }

  /** One to four mutations: bit flips, random bytes, interesting bytes, cuts, inserts, splices. */
  static byte[] mutate(byte[] original, Random random) {
    byte[] b = original.clone();
    int mutations = 1 + random.nextInt(4);
    for (int m = 0; m < mutations && b.length > 0; m++) {
      int at = random.nextInt(b.length);
      switch (random.nextInt(6)) {
        case 0 -> b[at] ^= (byte) (1 << random.nextInt(8));
        case 1 -> b[at] = (byte) random.nextInt();
        case 2 -> b[at] = (byte) new int[] {0, 0x7F, 0x80, 0xFF, 1}[random.nextInt(5)];
        case 3 -> b = Arrays.copyOf(b, at);
        case 4 -> {
          byte[] longer = new byte[b.length + 1 + random.nextInt(8)];
          System.arraycopy(b, 0, longer, 0, at);
          for (int i = at; i < at + longer.length - b.length; i++) {
            longer[i] = (byte) random.nextInt();
          }
          System.arraycopy(b, at, longer, at + longer.length - b.length, b.length - at);
          b = longer;
        }
        default -> {
          int from = random.nextInt(b.length);
          int n = Math.min(1 + random.nextInt(16), Math.min(b.length - from, b.length - at));
          System.arraycopy(b.clone(), from, b, at, n);
        }
      }
    }
    return b;
  }

  private static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
        .getThreadAllocatedBytes(Thread.currentThread().threadId());
  }
}
