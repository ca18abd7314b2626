package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.Tracer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * A guest stopped in the middle of a record on a wrapped flight ring (docs/abi.md, "A record cut
 * short"): after every store the runtimes make (the Java {@link Tracer}, and {@code guesttrace.h}
 * replayed store by store), the last drain keeps exactly the records fully written before the
 * unfinished one and counts the slots it had written over.
 */
class TornFlightRecordTest {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final int CAPACITY = 256;

  /** Counters 0..299 into 256 slots: the window is sequences 44..299, the next record's slot 44. */
  private static final int WRITTEN = 300;

  private static final long OLDEST = WRITTEN - CAPACITY;

  /** One store of the unfinished record: an address in the slot area (from slot 0) and bytes. */
  private record Store(long offset, long value, int bytes) {}

  private static final class Scene {
    final FakeGuest guest = new FakeGuest(1);
    final FakeGuest.Cpu cpu = guest.cpu(0);
    final Tracer tracer = guest.tracer(cpu, CAPACITY, TraceRegionDescriptor.MODE_FLIGHT);
    final int counter = tracer.name("written");

    Scene(int records) {
      for (int i = 0; i < records; i++) {
        tracer.counter(counter, i);
      }
    }

    long slots() {
      return tracer.regionAddress() + TraceRegionDescriptor.HEADER_LENGTH;
    }

    void apply(List<Store> stores, int count) {
      MemorySegment m = guest.memory;
      for (int i = 0; i < count; i++) {
        Store s = stores.get(i);
        if (s.bytes == 8) {
          m.set(U64, slots() + s.offset, s.value);
        } else {
          m.set(ValueLayout.JAVA_BYTE, slots() + s.offset, (byte) s.value);
        }
      }
    }

    /** The last drain after a stop, then the trace. */
    TraceData stopped() {
      guest.collector.finalDrain(0, guest.memory);
      return guest.finish();
    }
  }

  private static List<Long> counterValues(TraceData data) {
    VcpuRecords r = data.records(0);
    List<Long> values = new ArrayList<>();
    for (int i = 0; i < r.size(); i++) {
      assertThat(r.kind(i)).isEqualTo(RecordKind.COUNTER);
      values.add(r.arg0(i));
    }
    return values;
  }

  private static List<Long> range(long from, long to) {
    return LongStream.range(from, to).boxed().toList();
  }

  private static long slotOffset(long sequence) {
    return (sequence & (CAPACITY - 1)) * TraceRecordDescriptor.RECORD_LENGTH;
  }

  /** guesttrace.h's gt_record: TSC, header word, arg0, arg1. */
  private static List<Store> cRecord(long sequence, long tsc) {
    long slot = slotOffset(sequence);
    return List.of(
        new Store(slot + 8, tsc, 8),
        new Store(slot, TraceRecordDescriptor.header(RecordKind.SPAN_BEGIN, 0, 0, 1), 8),
        new Store(slot + 16, 0x1111, 8),
        new Store(slot + 24, 0x2222, 8));
  }

  /**
   * guesttrace.h's gt_message_n for {@code length} bytes of 'x': the head's TSC, header word and
   * zeroed arguments, its inline text byte by byte, then each continuation cleared byte by byte,
   * its kind, its text.
   */
  private static List<Store> cMessage(long sequence, long tsc, int length) {
    List<Store> stores = new ArrayList<>();
    long head = slotOffset(sequence);
    stores.add(new Store(head + 8, tsc, 8));
    stores.add(new Store(head, TraceRecordDescriptor.header(RecordKind.MESSAGE, 0, length, 0), 8));
    stores.add(new Store(head + 16, 0, 8));
    stores.add(new Store(head + 24, 0, 8));
    int done = Math.min(length, 16);
    for (int i = 0; i < done; i++) {
      stores.add(new Store(head + 16 + i, 'x', 1));
    }
    for (int c = 1; c <= TraceRecordDescriptor.continuationSlots(length); c++) {
      long slot = slotOffset(sequence + c);
      for (int b = 0; b < 32; b++) {
        stores.add(new Store(slot + b, 0, 1));
      }
      stores.add(new Store(slot, RecordKind.CONTINUATION, 1));
      int chunk = Math.min(length - done, 31);
      for (int b = 0; b < chunk; b++) {
        stores.add(new Store(slot + 1 + b, 'x', 1));
      }
      done += chunk;
    }
    return stores;
  }

  /** Slots of the unfinished record that the first {@code count} stores touched. */
  private static long touchedSlots(List<Store> stores, int count) {
    return stores.subList(0, count).stream()
        .mapToLong(s -> s.offset / TraceRecordDescriptor.RECORD_LENGTH)
        .distinct()
        .count();
  }

  @Test
  void cRecord_stoppedAfterEachStore_onlyTheTouchedOldestSlotDropped() {
    for (int stop = 0; stop <= 4; stop++) {
      Scene scene = new Scene(WRITTEN);
      List<Store> stores = cRecord(WRITTEN, scene.cpu.tsc + 10);
      scene.apply(stores, stop);
      TraceData data = scene.stopped();

      long dropped = stop == 0 ? 0 : 1;
      assertThat(counterValues(data)).as("stop %d", stop).isEqualTo(range(OLDEST + dropped, 300));
      assertThat(data.losses().flightOverwritten()).as("stop %d", stop).isEqualTo(OLDEST + dropped);
      assertThat(data.losses().undecodable()).isZero();
      assertThat(data.diagnostics()).hasSize((int) dropped);
    }
  }

  @Test
  void cMessage_stoppedAfterEachStore_touchedSlotsDroppedOlderRecordsAfterThemKept() {
    int length = 100; // a MESSAGE slot and 3 continuations: sequences 300..303 over 44..47
    List<Store> probe = cMessage(WRITTEN, 0, length);
    for (int stop = 0; stop <= probe.size(); stop++) {
      Scene scene = new Scene(WRITTEN);
      List<Store> stores = cMessage(WRITTEN, scene.cpu.tsc + 10, length);
      scene.apply(stores, stop);
      TraceData data = scene.stopped();

      long dropped = touchedSlots(stores, stop);
      assertThat(counterValues(data)).as("stop %d", stop).isEqualTo(range(OLDEST + dropped, 300));
      assertThat(data.losses().flightOverwritten()).as("stop %d", stop).isEqualTo(OLDEST + dropped);
      assertThat(data.losses().undecodable()).as("stop %d", stop).isZero();
    }
  }

  @Test
  void javaMessage_textFailsAtEachCharacter_itsFourSlotsDroppedRestKept() {
    for (int fail = 0; fail < 100; fail += 7) {
      Scene scene = new Scene(WRITTEN);
      try {
        scene.tracer.message(new FailingText(100, fail));
      } catch (IllegalStateException expected) {
        // the guest stops here, the message unpublished
      }
      TraceData data = scene.stopped();

      // The Tracer wrote the head and every continuation's kind before the text.
      assertThat(counterValues(data)).as("fail %d", fail).isEqualTo(range(OLDEST + 4, 300));
      assertThat(data.losses().flightOverwritten()).isEqualTo(OLDEST + 4);
      assertThat(data.diagnostics())
          .containsExactly(
              new Diagnostic(
                  Diagnostics.FLIGHT_RECORD_TORN,
                  0,
                  1,
                  "the guest stopped while writing a record over the oldest slots of its flight"
                      + " ring: 4 slots dropped, from sequence 44"));
    }
  }

  @Test
  void javaRecord_stoppedAtItsTscRead_nothingLost() {
    Scene scene = new Scene(WRITTEN);
    scene.cpu.stepper =
        () -> {
          throw new IllegalStateException("killed at the TSC read");
        };
    try {
      scene.tracer.counter(scene.counter, 300);
    } catch (IllegalStateException expected) {
      // a timeout stops an emulated guest at its TSC read, before any store
    }
    TraceData data = scene.stopped();

    assertThat(counterValues(data)).isEqualTo(range(OLDEST, 300));
    assertThat(data.losses().flightOverwritten()).isEqualTo(OLDEST);
    assertThat(data.diagnostics()).isEmpty();
  }

  @Test
  void halt_cleanStop_drainLosesNothing() {
    Scene scene = new Scene(WRITTEN);
    scene.guest.collector.drain(0, scene.guest.memory);
    TraceData data = scene.guest.finish();

    assertThat(counterValues(data)).isEqualTo(range(OLDEST, 300));
    assertThat(data.losses().flightOverwritten()).isEqualTo(OLDEST);
  }

  @Test
  void messageReachingPastTheCursor_itsContinuationsInTheWindowDropped() {
    // The host drained at 300; 200 more counters (window 300..499, the next record's slot that of
    // 244); then a 3085-byte message (100 slots, over 244..343) cut short by its text: the slots
    // of 300..343 it wrote over hold continuations, the records 344..499 are kept.
    Scene scene = new Scene(WRITTEN);
    scene.guest.collector.drain(0, scene.guest.memory);
    for (int i = 300; i < 500; i++) {
      scene.tracer.counter(scene.counter, i);
    }
    int length = 16 + 31 * 99;
    try {
      scene.tracer.message(new FailingText(length, length - 1));
    } catch (IllegalStateException expected) {
      // stopped
    }
    TraceData data = scene.stopped();

    assertThat(counterValues(data)).isEqualTo(concat(range(OLDEST, 300), range(344, 500)));
    assertThat(data.losses().flightOverwritten()).isEqualTo(OLDEST + 44);
    assertThat(data.losses().undecodable()).isZero();
  }

  @Test
  void stoppedMidRecord_beforeTheRingWrapped_nothingDropped() {
    Scene scene = new Scene(100);
    scene.apply(cRecord(100, scene.cpu.tsc + 10), 2);
    TraceData data = scene.stopped();

    assertThat(counterValues(data)).isEqualTo(range(0, 100));
    assertThat(data.losses().total()).isZero();
  }

  private static List<Long> concat(List<Long> a, List<Long> b) {
    List<Long> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  /** ASCII text whose {@code failAt}th character throws on its second read (the writing pass). */
  private static final class FailingText implements CharSequence {
    private final int length;
    private final int failAt;
    private int reads;

    FailingText(int length, int failAt) {
      this.length = length;
      this.failAt = failAt;
    }

    @Override
    public int length() {
      return length;
    }

    @Override
    public char charAt(int index) {
      if (index == failAt && ++reads == 2) {
        throw new IllegalStateException("the guest stopped inside its message");
      }
      return 'y';
    }

    @Override
    public CharSequence subSequence(int start, int end) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String toString() {
      return "failing text";
    }
  }
}
