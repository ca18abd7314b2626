package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.Tracer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The copy-and-resume path under random load: guests on 1 or 4 vCPUs (one thread each) flush random
 * numbers of counters whose values count up, now and then register a new ring, into a collector
 * whose sink is slow at random moments and sometimes throws, in stream or lossy mode with small or
 * default queues. Every record must arrive once and in order, or be counted dropped exactly; no
 * guest may hang; copy areas must end empty.
 *
 * <p>CI runs {@link #CASES} seeds (about 2 s); {@code -Dguesttrace.stress.cases=N
 * -Dguesttrace.stress.seed=S} runs a longer soak (docs/robustness.md).
 */
class CopyAreaStressTest {
  static final int CASES = Integer.getInteger("guesttrace.stress.cases", 12);
  static final long SEED = Long.getLong("guesttrace.stress.seed", 1);
  static final int CAPACITY = 256;

  /** Second region of each vCPU, for re-registration: inside the vCPU's stride, after the first. */
  static final long SECOND_REGION = 0x20000;

  @Test
  void randomGuestsAndSinks_everyRecordOnceInOrderOrCountedDropped() throws Exception {
    Seen seen = new Seen();
    for (long seed = SEED; seed < SEED + CASES; seed++) {
      runCase(seed, seen);
    }
    if (CASES >= 12) {
      // The cases the seeds must reach, or the test would pass without trying.
      assertThat(seen.lossyCasesThatDropped).as("lossy cases that dropped").isPositive();
      assertThat(seen.streamCasesStalledOnSmallQueues)
          .as("stream cases with small queues and a stalling sink")
          .isPositive();
      assertThat(seen.sinkFailures).as("cases whose sink threw").isPositive();
      assertThat(seen.fourVcpuCases).as("cases of 4 vCPUs").isPositive();
    }
  }

  /** What the cases reached. */
  static final class Seen {
    int lossyCasesThatDropped;
    int streamCasesStalledOnSmallQueues;
    int sinkFailures;
    int fourVcpuCases;
  }

  /** A sink that sometimes sleeps or spins in a batch and, if asked, throws at one batch. */
  static final class SlowSink extends TraceSinks.Adapter {
    final Random random;
    final int throwAtBatch;
    final AtomicInteger batches = new AtomicInteger();
    final AtomicInteger slowBatches = new AtomicInteger();

    SlowSink(long seed, int throwAtBatch) {
      this.random = new Random(seed * 0x9E3779B97F4A7C15L);
      this.throwAtBatch = throwAtBatch;
    }

    @Override
    public void onRecords(RecordBatch batch) {
      int n = batches.incrementAndGet();
      if (n == throwAtBatch) {
        throw new IllegalStateException("sink failed at batch " + n);
      }
      int r = random.nextInt(100);
      if (r < 3) {
        slowBatches.incrementAndGet();
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2)); // falls behind: queues fill
      } else if (r < 10) {
        LockSupport.parkNanos(50_000);
      }
    }
  }

  private static void runCase(long seed, Seen seen) throws Exception {
    // Not java.util.Random: its first draws for consecutive seeds are alike (no 4-vCPU case).
    SplittableRandom random = new SplittableRandom(seed);
    int vcpus = random.nextBoolean() ? 1 : 4;
    boolean lossy = random.nextBoolean();
    int queueSlots = new int[] {64, 300, 4096, SinkSide.QUEUE_SLOTS}[random.nextInt(4)];
    boolean threaded = random.nextInt(8) != 0;
    // Without a collector thread the sink's exception reaches the guest's exit: not this test's.
    int throwAtBatch = threaded && random.nextInt(4) == 0 ? 1 + random.nextInt(100) : -1;
    String what =
        "seed="
            + seed
            + " vcpus="
            + vcpus
            + " lossy="
            + lossy
            + " queueSlots="
            + queueSlots
            + " throwAtBatch="
            + throwAtBatch
            + " threaded="
            + threaded;
    SlowSink sink = new SlowSink(seed, throwAtBatch);
    FakeGuest g =
        new FakeGuest(
            TraceDataTest.header(vcpus),
            TraceCollector.DEFAULT_MAX_RECORDS,
            sink,
            b ->
                b.setQueueSlots(queueSlots)
                    .setDropWhenBehind(lossy)
                    .setCollectorThread(threaded)
                    .setBatchRecords(1 + random.nextInt(200)));
    long[] written = new long[vcpus];
    List<Thread> guests = new ArrayList<>();
    for (int v = 0; v < vcpus; v++) {
      FakeGuest.Cpu cpu = g.cpu(v);
      Tracer first = g.tracer(cpu, CAPACITY, TraceRegionDescriptor.MODE_STREAM);
      int id = first.name("n" + v); // the name table writer is not for several threads
      long guestSeed = random.nextLong();
      int vcpu = v;
      guests.add(
          Thread.ofPlatform()
              .unstarted(() -> written[vcpu] = guest(g, cpu, first, id, new Random(guestSeed))));
    }
    guests.forEach(Thread::start);
    for (Thread t : guests) {
      t.join(30_000);
      assertThat(t.isAlive()).as("guest hangs: " + what).isFalse();
    }
    if (vcpus == 4) {
      seen.fourVcpuCases++;
    }
    if (throwAtBatch > 0 && sink.batches.get() >= throwAtBatch) {
      seen.sinkFailures++;
      assertThatThrownBy(g::finish)
          .as(what)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("sink failed");
      assertAreasEmpty(g, vcpus, what);
      return;
    }
    TraceData data;
    try {
      data = g.finish();
    } catch (IllegalStateException e) {
      // The sink threw at the last batches, after the guests were done: still a clean report.
      assertThat(e).as(what).hasMessageContaining("sink failed");
      return;
    }
    assertAreasEmpty(g, vcpus, what);
    long kept = 0;
    for (int v = 0; v < vcpus; v++) {
      VcpuRecords r = data.records(v);
      kept += r.size();
      long last = -1;
      for (int i = 0; i < r.size(); i++) {
        long value = r.arg0(i);
        if (value <= last || value >= written[v] || (!lossy && value != i)) {
          assertThat(value)
              .as(what + " vcpu " + v + " record " + i + " after " + last)
              .isEqualTo(lossy ? last + 1 : i);
        }
        last = value;
      }
      if (!lossy) {
        assertThat(r.size()).as(what + " vcpu " + v).isEqualTo(written[v]);
      }
    }
    LossCounters losses = data.losses();
    long total = java.util.Arrays.stream(written).sum();
    assertThat(kept + losses.quotaDropped()).as(what).isEqualTo(total);
    assertThat(losses.total()).as(what).isEqualTo(losses.quotaDropped());
    if (!lossy) {
      assertThat(losses.quotaDropped()).as(what).isZero();
    } else if (losses.quotaDropped() > 0) {
      seen.lossyCasesThatDropped++;
    }
    if (!lossy && threaded && sink.slowBatches.get() > 0 && queueSlots <= 300) {
      seen.streamCasesStalledOnSmallQueues++; // 2 ms stalls against a queue of one or two rings
    }
  }

  /**
   * One vCPU's guest: rounds of 1 to a ring's worth of counters, each round flushed; now and then a
   * new ring (flushed first, so that nothing is left in the old one). Returns the records written.
   */
  private static long guest(FakeGuest g, FakeGuest.Cpu cpu, Tracer first, int id, Random random) {
    Tracer t = first;
    long value = 0;
    int rounds = 200 + random.nextInt(400);
    boolean second = false;
    for (int round = 0; round < rounds; round++) {
      int n =
          random.nextInt(8) == 0 ? CAPACITY : 1 + random.nextInt(random.nextBoolean() ? 8 : 120);
      for (int i = 0; i < n; i++) {
        t.counter(id, value++);
      }
      t.flush();
      if (random.nextInt(60) == 0) {
        second = !second;
        long address =
            FakeGuest.REGIONS_ADDRESS
                + FakeGuest.REGION_STRIDE * cpu.vcpuId
                + (second ? SECOND_REGION : 0);
        t = Tracer.register(cpu, g.names, address, CAPACITY, TraceRegionDescriptor.MODE_STREAM);
      }
    }
    return value;
  }

  /** Every copy taken into the live rings' areas was released (decoded, dropped or skipped). */
  private static void assertAreasEmpty(FakeGuest g, int vcpus, String what) {
    for (int v = 0; v < vcpus; v++) {
      CopyArea area = g.collector.copyArea(v);
      if (area != null) {
        assertThat(area.waiting()).as(what + " vcpu " + v + " area waiting").isZero();
      }
    }
  }
}
