package dev.guesttrace.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.compare.Comparison;
import dev.guesttrace.file.LyingFiles;
import dev.guesttrace.file.TraceFileException;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.file.proto.Calibration;
import dev.guesttrace.file.proto.Chunk;
import dev.guesttrace.file.proto.Diagnostic;
import dev.guesttrace.flame.FlameGraphSvg;
import dev.guesttrace.flame.FoldedStacks;
import dev.guesttrace.perfetto.PerfettoJsonWriter;
import dev.guesttrace.render.InfoRenderer;
import dev.guesttrace.render.StatsRenderer;
import dev.guesttrace.render.TextTreeRenderer;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.SpanTreeBuilderTest;
import dev.guesttrace.span.TraceTree;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Hostile structure, not random bytes: generators of deep and unbalanced nesting (with backwards
 * time, undefined names and host work at random record positions), storms (host spans identical,
 * nested, overlapping and huge; calibration pairs; diagnostic kinds) and lying headers (thousands
 * of vCPUs, top name ids). Each generated trace goes through the file (written, read back) and
 * every view: tree, stats, info, flame, folded stacks, Perfetto, compare. Nothing but a one-line
 * {@link TraceFileException} may come out; no tree shows a child outside its parent; a read
 * allocates a small multiple of the file.
 *
 * <p>CI runs {@value #DEFAULT_CASES} seeds; {@code -Dguesttrace.fuzz.iterations=N} runs more,
 * {@code -Dguesttrace.fuzz.seed=S} starts elsewhere (docs/robustness.md).
 */
class HostileStructuresFuzzTest {
  static final int DEFAULT_CASES = 12;

  /** Records per vCPU of a nesting case at most: {@code -Dguesttrace.fuzz.records=N}. */
  static final int MAX_RECORDS = Integer.getInteger("guesttrace.fuzz.records", 40_000);

  static final long START = SpanTreeBuilderTest.START;

  @Test
  void generatedHostileTraces_everyViewSurvives() throws Exception {
    int cases = Integer.getInteger("guesttrace.fuzz.iterations", DEFAULT_CASES);
    long seed0 = Long.getLong("guesttrace.fuzz.seed", 0);
    for (long seed = seed0; seed < seed0 + cases; seed++) {
      Random random = new Random(seed);
      byte[] file =
          switch ((int) (seed % 3)) {
            case 0 -> nesting(random);
            case 1 -> storm(random);
            default -> lyingHeader(random);
          };
      long t0 = System.nanoTime();
      check(file, seed);
      if (Boolean.getBoolean("guesttrace.fuzz.debug")) {
        System.out.printf(
            "seed %d: %d bytes, %d ms%n", seed, file.length, (System.nanoTime() - t0) / 1_000_000);
      }
    }
  }

  /** Begins and ends, unbalanced, time jittering backwards, host work at random positions. */
  static byte[] nesting(Random random) throws Exception {
    TraceData.Builder b = TraceData.builder();
    int vcpus = 1 + random.nextInt(2);
    b.onHeader(SpanTreeBuilderTest.header(vcpus));
    int records = random.nextInt(MAX_RECORDS);
    for (int v = 0; v < vcpus; v++) {
      b.onName(v, 1, "f");
      b.onName(v, 2, "g;\n\u001b[2J");
      b.onCalibration(new CalibrationPair(v, 0, START));
      b.onCalibration(new CalibrationPair(v, 4L * records + 10, START + 4L * records + 10));
      RecordBatch batch = new RecordBatch(4096);
      batch.reset(v);
      long tsc = 1;
      double beginShare = 0.5 + random.nextDouble() * 0.5; // mostly deeper
      for (int i = 0; i < records; i++) {
        tsc += random.nextInt(10) == 0 ? -random.nextInt(50) : random.nextInt(4);
        int kind =
            random.nextDouble() < beginShare
                ? RecordKind.SPAN_BEGIN
                : random.nextInt(20) == 0 ? RecordKind.MESSAGE : RecordKind.SPAN_END;
        if (kind == RecordKind.MESSAGE) {
          batch.addMessage(tsc, "m");
        } else {
          batch.add(kind, random.nextInt(5) == 0 ? 9_999 : 1 + random.nextInt(2), tsc, 0, 0);
        }
        if (batch.isFull()) {
          b.onRecords(batch);
          batch.reset(v);
        }
      }
      b.onRecords(batch);
      for (int h = random.nextInt(100); h > 0; h--) {
        long s = START + random.nextInt(Math.max(1, 4 * records));
        b.onHostSpan(
            new HostSpan(
                v,
                random.nextBoolean() ? SpanKind.HOST_EXIT : SpanKind.HOST_CALL,
                "trace flush",
                s,
                s + random.nextInt(1000),
                random.nextBoolean() ? random.nextInt(records + 1) : -1));
      }
      b.onHostSpan(new HostSpan(v, SpanKind.HOST_RUN, "run", START, START + 2L * records));
    }
    if (random.nextBoolean()) {
      b.onFinish(new TraceEnd("halted", false, START, LossCounters.NONE, List.of(), List.of()));
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TraceFileWriter.write(b.build(), out, "fuzz");
    return out.toByteArray();
  }

  /** Host spans, calibration pairs and diagnostic kinds by the hundred thousand. */
  static byte[] storm(Random random) {
    int vcpus = 1 + random.nextInt(8);
    LyingFiles f = LyingFiles.withHeader(vcpus);
    dev.guesttrace.file.proto.HostSpans.Builder spans =
        dev.guesttrace.file.proto.HostSpans.newBuilder();
    int count = random.nextInt(300_000);
    long base = 1_000_000;
    for (int i = 0; i < count; i++) {
      long s;
      long e;
      switch (random.nextInt(4)) {
        case 0 -> { // identical, zero length
          s = base + 500;
          e = s;
        }
        case 1 -> { // nested ever deeper
          s = base + i;
          e = base + 2L * count - i;
        }
        case 2 -> { // huge
          s = Long.MIN_VALUE / 2 + random.nextInt(10);
          e = Long.MAX_VALUE / 2;
        }
        default -> { // overlapping
          s = base + random.nextInt(10_000);
          e = s + random.nextInt(10_000);
        }
      }
      spans.addSpans(
          dev.guesttrace.file.proto.HostSpan.newBuilder()
              .setVcpu(random.nextInt(vcpus))
              .setKindValue(1 + random.nextInt(4))
              .setName(random.nextInt(100) == 0 ? "n" + random.nextInt() : "HostPrint")
              .setStartHostNanos(s)
              .setEndHostNanos(e)
              .setRecordPositionPlusOne(random.nextInt(3)));
      if (spans.getSpansCount() == 4096) {
        f.chunk(Chunk.newBuilder().setHostSpans(spans).build());
        spans = dev.guesttrace.file.proto.HostSpans.newBuilder();
      }
    }
    f.chunk(Chunk.newBuilder().setHostSpans(spans).build());
    Calibration.Builder pairs = Calibration.newBuilder();
    for (int i = random.nextInt(100_000); i > 0; i--) {
      pairs
          .addVcpu(random.nextInt(vcpus))
          .addGuestTsc(random.nextLong())
          .addHostNanos(random.nextInt(1 << 30));
    }
    f.chunk(Chunk.newBuilder().setCalibration(pairs).build());
    for (int i = random.nextInt(3000); i > 0; i--) {
      f.chunk(
          Chunk.newBuilder()
              .setDiagnostic(
                  Diagnostic.newBuilder()
                      .setKind("k" + i + "\u001b")
                      .setVcpu(random.nextInt())
                      .setCount(random.nextLong())
                      .setFirst("x"))
              .build());
    }
    return f.bytes();
  }

  /** A header claiming up to 4096 vCPUs, names at the top of the id range on each. */
  static byte[] lyingHeader(Random random) {
    int vcpus = 1 + random.nextInt(4096);
    return LyingFiles.withHeader(vcpus)
        .nameOnEveryVcpu(vcpus, 1 + random.nextInt(65_536))
        .hostSpans(random.nextInt(5000), vcpus)
        .bytes();
  }

  private static void check(byte[] file, long seed) {
    long before = allocatedBytes();
    TraceFileReader.Result read;
    try {
      read =
          TraceFileReader.read(
              new ByteArrayInputStream(file), w -> {}, TraceFileReader.Limits.DEFAULT);
    } catch (TraceFileException e) {
      assertThat(e.getMessage()).as("seed %d", seed).doesNotContain("\n");
      return;
    } catch (Exception | Error e) {
      fail("seed " + seed + ": the read threw " + e, e);
      return;
    }
    long allocated = allocatedBytes() - before;
    assertThat(allocated)
        .as("seed %d: allocated for a %d-byte file", seed, file.length)
        .isLessThan((8L << 20) + 64L * file.length);
    try {
      TraceData data = read.data();
      SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(data);
      TraceTree tree = built.tree();
      childrenInsideParents(tree, seed);
      PrintWriter sink = new PrintWriter(Writer.nullWriter());
      TextTreeRenderer.full().render(tree, sink);
      StatsRenderer.render(tree, sink);
      InfoRenderer.render(
          data, built.calibration(), built.diagnostics(), read.report().notes(), sink);
      FoldedStacks.write(tree, Writer.nullWriter());
      FlameGraphSvg.write(tree, Writer.nullWriter());
      PerfettoJsonWriter.write(tree, OutputStream.nullOutputStream());
      Comparison.of(List.of(tree), List.of(tree), Comparison.Options.defaults());
    } catch (Exception | Error e) {
      fail("seed " + seed + ": a view threw " + e, e);
    }
  }

  /** The tree never shows a child outside its parent. */
  private static void childrenInsideParents(TraceTree tree, long seed) {
    ArrayDeque<SpanNode> work = new ArrayDeque<>();
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      v.roots().forEach(work::push);
    }
    while (!work.isEmpty()) {
      SpanNode n = work.pop();
      for (SpanNode c : n.children()) {
        if (c.startNanos() < n.startNanos() || c.endNanos() > n.endNanos()) {
          fail("seed " + seed + ": " + c + " outside " + n);
        }
        work.push(c);
      }
    }
  }

  private static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
        .getThreadAllocatedBytes(Thread.currentThread().threadId());
  }
}
