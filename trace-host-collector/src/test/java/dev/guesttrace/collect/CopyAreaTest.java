package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.TraceRegionDescriptor;
import org.junit.jupiter.api.Test;

/** The copy area's bookkeeping: sizes, one-piece ranges, wrap-around, release in order. */
class CopyAreaTest {
  @Test
  void slotsFor_thirtyTwoRingsUpToTwoMebibytes() {
    assertThat(CopyArea.slotsFor(256)).isEqualTo(256 * CopyArea.RINGS);
    assertThat(CopyArea.slotsFor(2048)).isEqualTo(CopyArea.MAX_SLOTS);
    assertThat(CopyArea.slotsFor(1 << 24)).isEqualTo(CopyArea.MAX_SLOTS);
    assertThat((long) CopyArea.MAX_SLOTS * 32).isEqualTo(2 << 20);
    assertThat(new CopyArea(256).segment.byteSize()).isEqualTo(256L * CopyArea.RINGS * 32);
  }

  @Test
  void take_handsOutConsecutiveRanges_untilTheAreaIsFull() {
    CopyArea area = new CopyArea(4); // 4 * RINGS slots
    long slots = area.slots();
    assertThat(area.take(3)).isEqualTo(0);
    assertThat(area.end()).isEqualTo(3);
    assertThat(area.take(5)).isEqualTo(3 * 32);
    assertThat(area.take((int) slots - 8)).isEqualTo(8 * 32);
    assertThat(area.take(1)).as("full").isEqualTo(-1);
    assertThat(area.copiesInArea()).isEqualTo(3);
    assertThat(area.copiesOutside()).isEqualTo(1);
    assertThat(area.waiting()).isEqualTo(slots);
  }

  @Test
  void take_aRangeThatWouldCrossTheEnd_startsAtTheBeginningOnceThatIsFree() {
    CopyArea area = new CopyArea(4);
    long slots = area.slots();
    area.take((int) slots - 2);
    long firstEnd = area.end();
    assertThat(area.take(4)).as("2 slots left at the end, the start still waits").isEqualTo(-1);
    area.release(firstEnd);
    assertThat(area.take(4)).as("wraps to the start, skipping the 2 at the end").isEqualTo(0);
    assertThat(area.waiting()).isEqualTo(2 + 4);
    area.release(area.end());
    assertThat(area.waiting()).isZero();
    assertThat(area.pressed()).isFalse();
  }

  @Test
  void take_largerThanTheArea_goesOutside() {
    CopyArea area = new CopyArea(4);
    assertThat(area.take((int) area.slots() + 1)).isEqualTo(-1);
    assertThat(area.copiesOutside()).isEqualTo(1);
    assertThat(area.waiting()).isZero();
  }

  @Test
  void release_ofAnOlderCopyAfterANewerOne_freesNothingMore() {
    CopyArea area = new CopyArea(4);
    area.take(10);
    long olderEnd = area.end();
    area.take(10);
    long newerEnd = area.end();
    area.release(newerEnd); // a dropped older copy's count is applied after the newer copy
    area.release(olderEnd);
    assertThat(area.waiting()).isZero();
    assertThat(area.take(10)).isEqualTo(20 * 32);
  }

  @Test
  void allocateArea_forARetiredRing_allocatesNothing() {
    RingReader live = new RingReader(0, 0x1000, 256, TraceRegionDescriptor.MODE_STREAM, null);
    RingReader retired = new RingReader(0, 0x1000, 256, TraceRegionDescriptor.MODE_STREAM, null);
    retired.retire(); // re-registered before the collector got to its area

    live.allocateArea();
    retired.allocateArea();

    assertThat(live.area().slots()).isEqualTo(CopyArea.slotsFor(256));
    assertThat(retired.area()).isNull();
  }

  @Test
  void pressed_whenMoreThanHalfWaits() {
    CopyArea area = new CopyArea(4);
    int half = (int) area.slots() / 2;
    area.take(half);
    assertThat(area.pressed()).isFalse();
    area.take(1);
    assertThat(area.pressed()).isTrue();
  }
}
