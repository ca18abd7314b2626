package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.Tracer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The single-producer lanes at their edges, which {@link CopyAreaStressTest}'s few hundred flushes
 * per vCPU never reach: one-record flushes (two events each, a copy and a calibration pair), so
 * that each vCPU's lane wraps its {@link SinkSide#QUEUE_EVENTS} places several times and, while the
 * sink stalls, fills by events rather than slots; several vCPUs at once; a thread that asks for
 * counts (which waits on every lane) while they run. Every record must arrive once, in order.
 *
 * <p>CI runs {@link #FLUSHES} flushes per vCPU (about a second); {@code
 * -Dguesttrace.stress.laneFlushes=N} runs longer.
 */
class LaneWrapStressTest {
  static final int FLUSHES = Integer.getInteger("guesttrace.stress.laneFlushes", 3 * 8192);
  static final int VCPUS = 3;

  /** Stalls now and then, long enough for a lane to fill by events. */
  static final class StallingSink extends TraceSinks.Adapter {
    final AtomicInteger batches = new AtomicInteger();
    final AtomicInteger stalls = new AtomicInteger();

    @Override
    public void onRecords(RecordBatch batch) {
      int n = batches.incrementAndGet();
      if (n % 4000 == 0) {
        stalls.incrementAndGet();
        // A sleep, not parkNanos: a waiting vCPU unparks the collector thread, which would cut
        // the stall short.
        try {
          Thread.sleep(30);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  @Test
  void oneRecordFlushes_lanesWrapAndFill_everyRecordOnceInOrder() throws Exception {
    StallingSink sink = new StallingSink();
    FakeGuest g =
        new FakeGuest(
            TraceDataTest.header(VCPUS),
            TraceCollector.DEFAULT_MAX_RECORDS,
            sink,
            b -> b.setBatchRecords(1));
    List<Thread> guests = new ArrayList<>();
    for (int v = 0; v < VCPUS; v++) {
      Tracer t = g.tracer(g.cpu(v), 256, TraceRegionDescriptor.MODE_STREAM);
      int id = t.name("n" + v);
      guests.add(
          Thread.ofPlatform()
              .unstarted(
                  () -> {
                    for (long value = 0; value < FLUSHES; value++) {
                      t.counter(id, value);
                      t.flush();
                    }
                  }));
    }
    AtomicBoolean done = new AtomicBoolean();
    AtomicInteger queries = new AtomicInteger();
    Thread asker =
        Thread.ofPlatform()
            .start(
                () -> {
                  while (!done.get()) {
                    g.collector.recordCount();
                    queries.incrementAndGet();
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(3));
                  }
                });
    guests.forEach(Thread::start);
    for (Thread t : guests) {
      t.join(60_000);
      assertThat(t.isAlive()).as("guest hangs").isFalse();
    }
    done.set(true);
    asker.join(10_000);
    assertThat(asker.isAlive()).as("a count query hangs").isFalse();
    TraceData data = g.finish();

    assertThat(data.losses().total()).isZero();
    for (int v = 0; v < VCPUS; v++) {
      VcpuRecords r = data.records(v);
      assertThat(r.size()).as("vcpu " + v).isEqualTo(FLUSHES);
      for (int i = 0; i < FLUSHES; i++) {
        if (r.arg0(i) != i) {
          assertThat(r.arg0(i)).as("vcpu " + v + " record " + i).isEqualTo(i);
        }
      }
    }
    // Each flush queues a copy and a calibration pair: the lanes wrapped.
    assertThat(2L * FLUSHES).isGreaterThan(2L * SinkSide.QUEUE_EVENTS);
    assertThat(sink.batches.get()).isGreaterThanOrEqualTo(VCPUS * FLUSHES);
    assertThat(sink.stalls.get()).as("sink stalls (a lane fills meanwhile)").isPositive();
    assertThat(queries.get()).isPositive();
  }
}
