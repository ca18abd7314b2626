package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.Tracer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A collector that is gone never leaves a guest waiting: a stream-mode vCPU whose lane is full
 * waits for the collector thread only while it lives. When it dies (an Error outside its guarded
 * loop), never starts, or its sink throws, the guest runs on, every copy it made is counted as lost
 * and {@code finish} fails with one line naming the cause. Each test is bounded by a timeout: a
 * hang fails it.
 */
class CollectorFailureTest {
  static final int CAPACITY = 256;
  static final Duration NO_HANG = Duration.ofSeconds(30);

  /** Writes {@code flushes} x 100 records (50 spans), flushing after each 100. */
  private static void write(Tracer t, int flushes) {
    int id = t.name("work");
    for (int f = 0; f < flushes; f++) {
      for (int i = 0; i < 50; i++) {
        t.begin(id);
        t.end(id);
      }
      t.flush();
    }
  }

  private static FakeGuest guest(ThreadFactory threads, TraceSink also) {
    return new FakeGuest(
        TraceDataTest.header(1),
        TraceCollector.DEFAULT_MAX_RECORDS,
        also,
        // 150 slots: the second copy of 100 waits for the collector to take the first
        b ->
            threads == null
                ? b.setQueueSlots(150)
                : b.setQueueSlots(150).setCollectorThreadFactory(threads));
  }

  @Test
  void collectorThreadDiesWhileTheGuestWaits_theWaitEnds_everyCopyCountedAsLost() {
    assertTimeoutPreemptively(
        NO_HANG,
        () -> {
          CountDownLatch dieNow = new CountDownLatch(1);
          // The collector thread never takes an event, then dies of an Error outside any guard.
          ThreadFactory dying =
              body ->
                  Thread.ofPlatform()
                      .daemon()
                      .unstarted(
                          () -> {
                            try {
                              dieNow.await();
                            } catch (InterruptedException e) {
                              Thread.currentThread().interrupt();
                            }
                            throw new Error("collector killed by the test");
                          });
          FakeGuest g = guest(dying, null);
          Tracer t = g.tracer(g.cpu(0), CAPACITY, TraceRegionDescriptor.MODE_STREAM);

          Thread guest = Thread.ofPlatform().start(() -> write(t, 5));
          guest.join(300);
          assertThat(guest.isAlive()).as("the guest waits for room in its lane").isTrue();
          dieNow.countDown();
          guest.join(TimeUnit.SECONDS.toMillis(20));
          assertThat(guest.isAlive()).as("the guest still waits for a dead collector").isFalse();

          assertThatThrownBy(g::finish)
              .isInstanceOf(IllegalStateException.class)
              .hasMessage(
                  "trace collector failed: java.lang.Error: collector killed by the test;"
                      + " 500 copied records not decoded (counted as lost)");
          TraceData data = g.data.build(); // the sink itself works: the end reached it
          assertThat(data.recordCount()).isZero();
          assertThat(data.losses().quotaDropped()).isEqualTo(500);
          assertThat(data.diagnostics())
              .anySatisfy(
                  d -> {
                    assertThat(d.kind()).isEqualTo(Diagnostics.COLLECTOR_FAILED);
                    assertThat(d.first())
                        .contains("slots=500")
                        .contains("collector killed by the test");
                  });
        });
  }

  @Test
  void collectorThreadNeverStarts_theGuestDoesNotWait_everyCopyCountedAsLost() {
    assertTimeoutPreemptively(
        NO_HANG,
        () -> {
          ThreadFactory failing =
              body ->
                  new Thread(body) {
                    @Override
                    public void start() {
                      throw new OutOfMemoryError("unable to create native thread (test)");
                    }
                  };
          FakeGuest g = guest(failing, null);
          Tracer t = g.tracer(g.cpu(0), CAPACITY, TraceRegionDescriptor.MODE_STREAM);

          write(t, 5); // on the test's thread: a wait without end fails the timeout

          assertThatThrownBy(g::finish)
              .isInstanceOf(IllegalStateException.class)
              .hasMessage(
                  "trace collector failed: java.lang.OutOfMemoryError: unable to create native"
                      + " thread (test); 500 copied records not decoded (counted as lost)");
          TraceData data = g.data.build();
          assertThat(data.recordCount()).isZero();
          assertThat(data.losses().quotaDropped()).isEqualTo(500);
        });
  }

  @Test
  void sinkThrowsAnError_theGuestRunsOn_laterCopiesCountedAsLost() {
    assertTimeoutPreemptively(
        NO_HANG,
        () -> {
          TraceSink broken =
              new TraceSinks.Adapter() {
                @Override
                public void onRecords(RecordBatch batch) {
                  throw new Error("sink broken by the test");
                }
              };
          FakeGuest g = guest(null, broken);
          Tracer t = g.tracer(g.cpu(0), CAPACITY, TraceRegionDescriptor.MODE_STREAM);

          write(t, 5);

          // The copy whose records the sink refused and the four after it: none decoded.
          assertThatThrownBy(g::finish)
              .isInstanceOf(IllegalStateException.class)
              .hasMessage(
                  "trace collector failed: java.lang.Error: sink broken by the test;"
                      + " 500 copied records not decoded (counted as lost)");
        });
  }
}
