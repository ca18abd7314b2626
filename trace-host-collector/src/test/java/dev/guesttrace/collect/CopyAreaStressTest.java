package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.Tracer;
import java.nio.charset.StandardCharsets;
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

  /**
   * A sink that sometimes sleeps in a batch and, if asked, stalls 40 ms at one batch and throws at
   * one batch.
   */
  static final class SlowSink extends TraceSinks.Adapter {
    final Random random;
    final int throwAtBatch;
    final int stallAtBatch;
    final AtomicInteger batches = new AtomicInteger();
    final AtomicInteger slowBatches = new AtomicInteger();

    SlowSink(long seed, int throwAtBatch, int stallAtBatch) {
      this.random = new Random(seed * 0x9E3779B97F4A7C15L);
      this.throwAtBatch = throwAtBatch;
      this.stallAtBatch = stallAtBatch;
    }

    @Override
    public void onRecords(RecordBatch batch) {
      int n = batches.incrementAndGet();
      if (n == throwAtBatch) {
        throw new IllegalStateException("sink failed at batch " + n);
      }
      int r = random.nextInt(100);
      if (n == stallAtBatch) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(40));
      } else if (r < 3) {
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
    int stallAtBatch = random.nextBoolean() ? 20 + random.nextInt(300) : -1;
    boolean flight = random.nextInt(3) == 0;
    int mode = flight ? TraceRegionDescriptor.MODE_FLIGHT : TraceRegionDescriptor.MODE_STREAM;
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
            + " stallAtBatch="
            + stallAtBatch
            + " threaded="
            + threaded
            + " flight="
            + flight;
    SlowSink sink = new SlowSink(seed, throwAtBatch, stallAtBatch);
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
    Written[] written = new Written[vcpus];
    List<Thread> guests = new ArrayList<>();
    for (int v = 0; v < vcpus; v++) {
      FakeGuest.Cpu cpu = g.cpu(v);
      Tracer first = g.tracer(cpu, CAPACITY, mode);
      int id = first.name("n" + v); // the name table writer is not for several threads
      long guestSeed = random.nextLong();
      int vcpu = v;
      guests.add(
          Thread.ofPlatform()
              .unstarted(
                  () -> written[vcpu] = guest(g, cpu, first, id, mode, new Random(guestSeed))));
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
    long keptSlots = 0;
    long totalSlots = 0;
    for (int v = 0; v < vcpus; v++) {
      VcpuRecords r = data.records(v);
      List<Object> expected = written[v].records;
      totalSlots += written[v].slots;
      int next = 0; // the first written record not yet matched
      for (int i = 0; i < r.size(); i++) {
        Object got =
            r.kind(i) == RecordKind.MESSAGE ? r.message(i) : (Object) Long.valueOf(r.arg0(i));
        // Without losses record i is written record i; with them, a later one (none twice).
        int at = next;
        while ((lossy || flight) && at < expected.size() && !expected.get(at).equals(got)) {
          at++;
        }
        if (at >= expected.size() || !expected.get(at).equals(got)) {
          assertThat(got)
              .as(what + " vcpu " + v + " record " + i + " of " + r.size())
              .isEqualTo(next < expected.size() ? expected.get(next) : "(none left)");
        }
        keptSlots += slots(got);
        next = at + 1;
      }
      if (!lossy && !flight) {
        assertThat(r.size()).as(what + " vcpu " + v).isEqualTo(expected.size());
      }
    }
    LossCounters losses = data.losses();
    // A flight ring is read only when the vCPU registers another and at the end (flush does not
    // exit): the last ring-full then, the rest counted overwritten, slot by slot.
    long lost = losses.quotaDropped() + losses.flightOverwritten();
    assertThat(keptSlots + lost).as(what + " slots").isEqualTo(totalSlots);
    assertThat(losses.total()).as(what).isEqualTo(lost);
    if (!flight) {
      assertThat(losses.flightOverwritten()).as(what).isZero();
    }
    if (!lossy) {
      assertThat(losses.quotaDropped()).as(what).isZero();
      if (!flight) {
        assertThat(keptSlots).as(what).isEqualTo(totalSlots);
      }
    } else if (losses.quotaDropped() > 0) {
      seen.lossyCasesThatDropped++;
    }
    if (!lossy && threaded && sink.slowBatches.get() > 0 && queueSlots <= 300) {
      seen.streamCasesStalledOnSmallQueues++; // 2 ms stalls against a queue of one or two rings
    }
  }

  /** What one vCPU's guest wrote, in order: a Long per counter, a String per message. */
  record Written(List<Object> records, long slots) {}

  /** Messages written again and again: the decoder keeps their text by their slots' words. */
  static final String[] CONSTANT_MESSAGES = {
    "ready", "tick tock", "a constant line of forty bytes, cached", "é: not ASCII, not cached"
  };

  /** Ring slots a record of {@link #guest} takes. */
  static long slots(Object record) {
    return record instanceof String text
        ? 1 + TraceRecordDescriptor.continuationSlots(text.getBytes(StandardCharsets.UTF_8).length)
        : 1;
  }

  /**
   * One vCPU's guest: rounds of 1 to a ring's worth of slots (counters whose values count up,
   * messages now and then, some the same text again), each round flushed but maybe the last (the
   * collector's final drain reads it); now and then a new ring (flushed first, so that nothing is
   * left in the old one).
   */
  private static Written guest(
      FakeGuest g, FakeGuest.Cpu cpu, Tracer first, int id, int mode, Random random) {
    Tracer t = first;
    List<Object> records = new ArrayList<>();
    long slots = 0;
    long value = 0;
    int rounds = 200 + random.nextInt(400);
    boolean second = false;
    boolean newRingAtOnce = random.nextBoolean();
    for (int round = 0; round < rounds; round++) {
      int roundSlots =
          random.nextInt(8) == 0 ? CAPACITY : 1 + random.nextInt(random.nextBoolean() ? 8 : 120);
      for (long used = 0; ; ) {
        Object record;
        int kind = random.nextInt(10);
        if (kind == 0) {
          record = CONSTANT_MESSAGES[random.nextInt(CONSTANT_MESSAGES.length)];
        } else if (kind == 1) {
          record = "m" + value++ + " " + "x".repeat(random.nextInt(60));
        } else {
          record = value++;
        }
        long n = slots(record);
        if (used + n > roundSlots) {
          break; // a round never laps the ring: no overrun
        }
        used += n;
        if (record instanceof String text) {
          t.message(text);
        } else {
          t.counter(id, (Long) record);
        }
        records.add(record);
        slots += n;
      }
      if (round == rounds - 1 && random.nextBoolean()) {
        break; // left for the final drain
      }
      t.flush();
      // Half the guests take a new ring at once: most of their run is then on a ring that gets its
      // area from the collector's next round, not at its REGISTER exit.
      if ((round == 0 && newRingAtOnce) || random.nextInt(60) == 0) {
        second = !second;
        long address =
            FakeGuest.REGIONS_ADDRESS
                + FakeGuest.REGION_STRIDE * cpu.vcpuId
                + (second ? SECOND_REGION : 0);
        t = Tracer.register(cpu, g.names, address, CAPACITY, mode);
      }
    }
    return new Written(records, slots);
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
