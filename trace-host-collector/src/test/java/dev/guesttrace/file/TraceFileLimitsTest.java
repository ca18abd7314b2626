package dev.guesttrace.file;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.StatsRenderer;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/** Files that lie about their size: what a reader allocates follows the bytes it read. */
class TraceFileLimitsTest {
  @Test
  void thousandsOfVcpusAndTopNameIds_allocateASmallMultipleOfTheFile() throws Exception {
    // Was 1.27 GB for a file like this: 4096 vCPUs' columns and a 65536-slot name array each.
    byte[] file = LyingFiles.withHeader(4096).nameOnEveryVcpu(4096, 65_536).bytes();
    long before = allocatedBytes();

    TraceFileReader.Result read = read(file, TraceFileReader.Limits.DEFAULT);

    long allocated = allocatedBytes() - before;
    assertThat(file.length).isBetween(20_000, 60_000);
    assertThat(allocated).isLessThan((4L << 20) + 64L * file.length);
    assertThat(read.data().vcpuCount()).isEqualTo(4096);
    assertThat(read.data().records(4095).name(65_536)).isEqualTo("n");
    assertThat(read.data().records(4095).nameLimit()).isEqualTo(65_537);
  }

  @Test
  void hostSpansOverTheLimit_droppedCountedAndNamed() throws Exception {
    byte[] file = LyingFiles.withHeader(2).hostSpans(2_500, 2).bytes();
    List<String> warnings = new ArrayList<>();

    TraceFileReader.Result read =
        TraceFileReader.read(
            new ByteArrayInputStream(file),
            warnings::add,
            new TraceFileReader.Limits(1000, 10, 1000, 10, 10, 10));

    assertThat(read.data().hostSpans()).hasSize(1000);
    assertThat(read.report().notes())
        .containsExactly(
            "trace file has no end: the run did not finish writing it; read 0 records",
            "reader limit hit: host spans (limit 1000): 1500 more dropped");
    assertThat(warnings).isEqualTo(read.report().notes());
  }

  @Test
  void manyVcpusAndManyHostSpans_treeAndStatsAreNotQuadratic() throws Exception {
    // Host spans were scanned once per vCPU: 4096 x 400,000 took minutes.
    byte[] file = LyingFiles.withHeader(4096).hostSpans(400_000, 4096).bytes();
    TraceData data = read(file, TraceFileReader.Limits.DEFAULT).data();
    Assertions.assertTimeoutPreemptively(
        Duration.ofSeconds(20),
        () -> {
          StringWriter out = new StringWriter();
          StatsRenderer.render(SpanTreeBuilder.build(data), new PrintWriter(out));
          assertThat(out.toString()).contains("HostPrint");
        });
  }

  private static TraceFileReader.Result read(byte[] file, TraceFileReader.Limits limits)
      throws Exception {
    return TraceFileReader.read(new ByteArrayInputStream(file), w -> {}, limits);
  }

  private static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
        .getThreadAllocatedBytes(Thread.currentThread().threadId());
  }
}
