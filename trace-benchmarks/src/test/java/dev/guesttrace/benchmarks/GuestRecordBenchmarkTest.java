package dev.guesttrace.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.Span;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark measures what it says: each operation does its work once (not timed here). */
class GuestRecordBenchmarkTest {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long SLOTS = 0x10000 + 64;

  private final GuestRecordBenchmark benchmark = new GuestRecordBenchmark();

  @Test
  void guesttraceSpan_writesBeginAndEndWithTimestampsThatAdvance() {
    GuestRecordBenchmark.Guest g = new GuestRecordBenchmark.Guest();
    g.setUp();
    try {
      assertThat(benchmark.guesttraceSpan(g)).isEqualTo(2);

      var memory = g.cpu.memory();
      assertThat(memory.get(ValueLayout.JAVA_BYTE, SLOTS)).isEqualTo((byte) 1);
      assertThat(memory.get(ValueLayout.JAVA_BYTE, SLOTS + 32)).isEqualTo((byte) 2);
      long beginTsc = memory.get(U64, SLOTS + 8);
      long endTsc = memory.get(U64, SLOTS + 32 + 8);
      assertThat(beginTsc).isPositive();
      assertThat(endTsc).isGreaterThan(beginTsc);
    } finally {
      g.tearDown();
    }
  }

  @Test
  void guesttraceSpan_ringOf2048Slots_flushesOncePer1024Spans() {
    GuestRecordBenchmark.Guest g = new GuestRecordBenchmark.Guest();
    g.setUp();
    try {
      for (int i = 0; i < 1024; i++) {
        benchmark.guesttraceSpan(g);
      }
      assertThat(g.cpu.exits).isEqualTo(1); // registration only

      benchmark.guesttraceSpan(g);

      assertThat(g.cpu.exits).isEqualTo(2);
    } finally {
      g.tearDown();
    }
  }

  @Test
  void guesttraceSpanCounterClock_usesTheCounter() {
    GuestRecordBenchmark.Guest g = new GuestRecordBenchmark.Guest();
    g.setUp();
    try {
      assertThat(benchmark.guesttraceSpanCounterClock(g)).isEqualTo(2);
      assertThat(benchmark.rdtsc(g)).isPositive();
    } finally {
      g.tearDown();
    }
  }

  @Test
  void jfrEvent_isRecordedWithoutStackTrace(@TempDir Path dir) throws Exception {
    GuestRecordBenchmark.Jfr jfr = new GuestRecordBenchmark.Jfr();
    jfr.setUp();
    for (int i = 0; i < 100; i++) {
      benchmark.jfrEvent(jfr);
    }
    Path file = dir.resolve("spans.jfr");
    jfr.recording.dump(file); // an in-memory recording has nothing to dump once stopped
    jfr.tearDown();

    List<RecordedEvent> events =
        RecordingFile.readAllEvents(file).stream()
            .filter(e -> e.getEventType().getName().equals("dev.guesttrace.benchmarks.Span"))
            .toList();
    assertThat(events).hasSize(100);
    assertThat(events.getFirst().getStackTrace()).isNull();
    assertThat(Files.size(file)).isPositive();
  }

  @Test
  void otelSpan_isSampledAndEnded() {
    GuestRecordBenchmark.Otel otel = new GuestRecordBenchmark.Otel();
    otel.setUp();
    try {
      Span span = benchmark.otelSpan(otel);

      assertThat(span.getSpanContext().isValid()).isTrue();
      assertThat(span.getSpanContext().isSampled()).isTrue();
      assertThat(span.isRecording()).isFalse();
    } finally {
      otel.tearDown();
    }
  }

  @Test
  void baselineAndNanoTime_returnTheirValues() {
    assertThat(benchmark.baseline()).isEqualTo(42);
    assertThat(benchmark.nanoTime()).isNotZero();
  }
}
