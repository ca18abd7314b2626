package dev.guesttrace.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.run.GuestRun;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A measurement, not a CI test: a flush storm held for {@code -Dguesttrace.storm.seconds} (default
 * 10) while a sampler thread forces a GC every second and records the live heap. Prints one line
 * per second and the end state; the numbers are in docs/robustness.md. Run with:
 *
 * <pre>
 * ./build -q -pl trace-host-collector -am test -Dtest=FlushStormHeapManualTest \
 *     -Dsurefire.failIfNoSpecifiedTests=false -Dguesttrace.manual=true
 * </pre>
 */
@EnabledIfSystemProperty(named = "guesttrace.manual", matches = "true")
class FlushStormHeapManualTest {
  @Test
  void flushStorm_heldForSeconds_liveHeapStaysFlat() throws Exception {
    long seconds = Long.getLong("guesttrace.storm.seconds", 10);
    MemoryMXBean heap = ManagementFactory.getMemoryMXBean();
    List<Long> liveBytes = new ArrayList<>();
    Thread sampler =
        Thread.ofPlatform()
            .daemon()
            .start(
                () -> {
                  try {
                    while (true) {
                      Thread.sleep(1000);
                      System.gc();
                      long used = heap.getHeapMemoryUsage().getUsed();
                      synchronized (liveBytes) {
                        liveBytes.add(used);
                      }
                      System.out.printf("storm heap after GC: %.1f MiB%n", used / 1048576.0);
                    }
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
    GuestRun.Result r =
        GuestRun.builder(
                Hostile.config("hostile-flush-storm", Map.of("seconds", Long.toString(seconds)))
                    .setTimeout(java.time.Duration.ofSeconds(seconds + 30))
                    .build())
            .build()
            .execute();
    sampler.interrupt();
    sampler.join();
    long exits = r.data().exitProfile().stream().mapToLong(row -> row.count()).sum();
    System.out.printf(
        "storm: %d s, %d exits, %d calibration pairs kept, %d records, outcome %s%n",
        seconds, exits, r.data().calibrationPairs().size(), r.data().recordCount(), r.outcome());
    assertThat(r.failed()).isFalse();
    synchronized (liveBytes) {
      assertThat(liveBytes).isNotEmpty();
    }
  }
}
