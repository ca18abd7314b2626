package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.Tracer;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TraceCollectorTest {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** Record i as "kind name tsc arg0 arg1" or "message text tsc". */
  static List<String> dump(VcpuRecords r) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < r.size(); i++) {
      if (r.kind(i) == RecordKind.MESSAGE) {
        lines.add("message " + r.message(i) + " " + r.tscTicks(i));
      } else {
        lines.add(
            RecordKind.name(r.kind(i))
                + " "
                + r.name(r.nameId(i))
                + " "
                + r.tscTicks(i)
                + " "
                + r.arg0(i)
                + " "
                + r.arg1(i));
      }
    }
    return lines;
  }

  @Test
  void streamRing_flushedRecordsArriveExactlyWithNamesAndPairs() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM); // rdtsc 5_000_000_010
    int main = t.name("main");
    int work = t.name("work");
    t.begin(main, 1, 2); // 020
    t.message("hello, guest"); // 030
    t.begin(work); // 040
    t.counter(work, -5); // 050
    t.alloc(0x8000, 64); // 060
    t.free(0x8000, 64); // 070
    t.end(work); // 080
    t.end(main); // 090
    t.flush(); // rdtsc 100
    TraceData data = g.finish();

    assertThat(dump(data.records(0)))
        .containsExactly(
            "span_begin main 5000000020 1 2",
            "message hello, guest 5000000030",
            "span_begin work 5000000040 0 0",
            "counter work 5000000050 -5 0",
            "alloc null 5000000060 32768 64",
            "free null 5000000070 32768 64",
            "span_end work 5000000080 0 0",
            "span_end main 5000000090 0 0");
    assertThat(data.calibrationPairs())
        .containsExactly(
            new CalibrationPair(0, 5_000_000_010L, 1_000_100),
            new CalibrationPair(0, 5_000_000_100L, 1_000_200));
    assertThat(data.diagnostics()).isEmpty();
    assertThat(data.losses()).isEqualTo(LossCounters.NONE);
    assertThat(data.outcome()).isEqualTo("halted");
  }

  @Test
  void streamRing_manyWrapsKeepEveryRecordOnceInOrder() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    int n = t.name("n");
    for (int i = 0; i < 5000; i++) {
      t.counter(n, i);
      if (i % 97 == 0) {
        t.message("m" + i + " " + "x".repeat(i % 200));
      }
    }
    TraceData data = g.finish(); // the last records were never flushed: the final drain finds them
    VcpuRecords r = data.records(0);
    long expected = 0;
    int messages = 0;
    for (int i = 0; i < r.size(); i++) {
      if (r.kind(i) == RecordKind.COUNTER) {
        assertThat(r.arg0(i)).isEqualTo(expected++);
      } else {
        long at = expected - 1;
        assertThat(r.message(i)).isEqualTo("m" + at + " " + "x".repeat((int) (at % 200)));
        messages++;
      }
    }
    assertThat(expected).isEqualTo(5000);
    assertThat(messages).isEqualTo(52);
    assertThat(cpu.exits).isGreaterThan(20);
    assertThat(data.diagnostics()).isEmpty();
    assertThat(data.losses().total()).isZero();
  }

  @Test
  void drainOnOtherExit_readsPublishedRecordsWithoutDuplicates() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    int a = t.name("a");
    t.begin(a);
    cpu.register(Register.RCX, 77);
    cpu.out(ExitPorts.HOST_CALL, 0);
    assertThat(g.collector.recordCount()).isEqualTo(1);
    t.end(a);
    cpu.out(0x99, 0); // not a guesttrace port: drains, no calibration pair
    t.flush();
    TraceData data = g.finish();
    assertThat(dump(data.records(0)))
        .containsExactly("span_begin a 5000000020 0 0", "span_end a 5000000030 0 0");
    assertThat(data.calibrationPairs())
        .extracting(CalibrationPair::guestTscTicks)
        .containsExactly(5_000_000_010L, 77L, 5_000_000_040L);
  }

  @Test
  void flightRing_finalDrainKeepsLastCapacityAndCountsOverwritten() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_FLIGHT);
    int n = t.name("n");
    for (int i = 0; i < 1000; i++) {
      t.counter(n, i);
    }
    TraceData data = g.finish();
    VcpuRecords r = data.records(0);
    assertThat(r.size()).isEqualTo(256);
    assertThat(r.arg0(0)).isEqualTo(744);
    assertThat(r.arg0(255)).isEqualTo(999);
    assertThat(data.losses()).isEqualTo(new LossCounters(744, 0, 0, 0, 0));
    assertThat(data.diagnostics()).isEmpty();
    assertThat(cpu.exits).isEqualTo(1); // the registration only
  }

  @Test
  void flightRing_messageWhoseHeadWasOverwrittenIsSkippedAndCounted() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_FLIGHT);
    int n = t.name("n");
    for (int i = 0; i < 250; i++) {
      t.counter(n, i);
    }
    t.message("y".repeat(16 + 31 * 10)); // sequences 250..260: head at 250, 10 continuations
    for (int i = 0; i < 251; i++) {
      t.counter(n, 1000 + i); // 261..511
    }
    // Written 512; the last 256 are 256..511: six continuations of the message, then counters.
    TraceData data = g.finish();
    VcpuRecords r = data.records(0);
    assertThat(r.size()).isEqualTo(251);
    assertThat(r.arg0(0)).isEqualTo(1000);
    assertThat(data.losses().flightOverwritten()).isEqualTo(256 + 5);
    assertThat(data.diagnostics()).isEmpty();
  }

  @Test
  void longUtf8Message_reassembledExactly() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    String text = "\u20ac".repeat(1400) + "\uD83D\uDE00"; // cut by the guest at 4095 bytes
    t.message(text);
    TraceData data = g.finish();
    String got = data.records(0).message(0);
    assertThat(got.getBytes(java.nio.charset.StandardCharsets.UTF_8)).hasSize(4095);
    assertThat(text).startsWith(got);
    assertThat(data.diagnostics()).isEmpty();
  }

  @Test
  void quota_keepsFirstRecordsAndCountsTheRest() {
    FakeGuest g = new FakeGuest(1, 10);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    int n = t.name("n");
    for (int i = 0; i < 300; i++) {
      t.counter(n, i);
    }
    TraceData data = g.finish();
    assertThat(data.records(0).size()).isEqualTo(10);
    assertThat(data.records(0).arg0(9)).isEqualTo(9);
    assertThat(data.losses()).isEqualTo(new LossCounters(0, 0, 0, 290, 0));
    assertThat(data.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.QUOTA_EXCEEDED,
                0,
                290,
                "record quota reached, further records dropped: maxRecords=10"));
  }

  @Test
  void twoVcpus_shareNameTableAndKeepSeparateRings() {
    FakeGuest g = new FakeGuest(2);
    FakeGuest.Cpu c0 = g.cpu(0);
    FakeGuest.Cpu c1 = g.cpu(1);
    c1.tsc = 9_000_000_000L;
    Tracer t0 = g.tracer(c0, 256, TraceRegionDescriptor.MODE_STREAM);
    Tracer t1 = g.tracer(c1, 256, TraceRegionDescriptor.MODE_STREAM);
    int a = t0.name("a");
    int b = t1.name("b");
    t0.begin(a);
    t1.begin(b);
    t1.end(b);
    t0.end(a);
    t0.flush();
    t1.flush();
    TraceData data = g.finish();
    assertThat(dump(data.records(0)))
        .containsExactly("span_begin a 5000000020 0 0", "span_end a 5000000030 0 0");
    assertThat(dump(data.records(1)))
        .containsExactly("span_begin b 9000000020 0 0", "span_end b 9000000030 0 0");
    assertThat(data.records(1).name(a)).isEqualTo("a");
  }

  // ---- untrusted guests --------------------------------------------------------------------

  private static long region(FakeGuest.Cpu cpu) {
    return FakeGuest.REGIONS_ADDRESS + FakeGuest.REGION_STRIDE * cpu.vcpuId;
  }

  private static void register(FakeGuest.Cpu cpu, long address, long length) {
    cpu.register(Register.RDI, address);
    cpu.register(Register.RSI, length);
    cpu.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_REGISTER);
  }

  /** Formats a valid region through the real tracer, then lets the test damage it. */
  private static long formatted(FakeGuest g, FakeGuest.Cpu cpu) {
    g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    return region(cpu);
  }

  @Test
  void register_newerMajorAbiIsRefusedNamingBothSides() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    long r = formatted(g, cpu);
    g.memory.set(U32, r + TraceRegionDescriptor.ABI_VERSION_OFFSET, 2 << 16);
    register(cpu, r, TraceRegionDescriptor.regionLength(256));
    assertThat(g.collector.refusal()).contains("trace ABI not compatible: host=1.0.0 guest=2.0.0");
    cpu.register(Register.RDI, r);
    cpu.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_FLUSH);
    TraceData data = g.finish();
    assertThat(data.diagnostics())
        .extracting(Diagnostic::kind)
        .containsExactly(Diagnostics.ABI_INCOMPATIBLE, Diagnostics.UNREGISTERED_FLUSH);
  }

  @Test
  void register_newerMinorAbiIsAccepted() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    long r = formatted(g, cpu);
    g.memory.set(U32, r + TraceRegionDescriptor.ABI_VERSION_OFFSET, 1 << 16 | 0 << 8 | 7);
    register(cpu, r, TraceRegionDescriptor.regionLength(256));
    assertThat(g.collector.refusal()).isEmpty();
  }

  @Test
  void register_eachInvalidHeaderIsRefusedWithItsMessage() {
    long len = TraceRegionDescriptor.regionLength(256);
    record Case(int offset, int value, int width, String message) {}
    List<Case> cases =
        List.of(
            new Case(0, 0x12345678, 4, "trace region magic: expected 0x43525447, found 0x12345678"),
            new Case(
                8,
                48,
                2,
                "trace region lengths: expected headerLength=64 recordLength=32, found"
                    + " headerLength=48 recordLength=32"),
            new Case(
                12,
                300,
                4,
                "trace region capacity must be a power of two in [256, 16777216]: capacity=300"),
            new Case(
                12,
                512,
                4,
                "trace region longer than registered: capacity=512 needs 16448 bytes, registered"
                    + " length=8256"),
            new Case(16, 7, 4, "trace region mode unknown: mode=7"));
    for (Case c : cases) {
      FakeGuest g = new FakeGuest(1);
      FakeGuest.Cpu cpu = g.cpu(0);
      long r = formatted(g, cpu);
      if (c.width == 2) {
        g.memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, r + c.offset, (short) c.value);
      } else {
        g.memory.set(U32, r + c.offset, c.value);
      }
      register(cpu, r, len);
      assertThat(g.collector.refusal()).as(c.message).contains(c.message);
    }
  }

  @Test
  void register_regionOutsideMemoryIsRefusedWithoutReading() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    register(cpu, FakeGuest.MEMORY_BYTES - 100, 8256);
    register(cpu, Long.MAX_VALUE, Long.MAX_VALUE);
    register(cpu, -64, 8256);
    TraceData data = g.finish();
    assertThat(data.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.REGION_OUTSIDE_MEMORY,
                0,
                3,
                "trace region outside guest memory: regionAddress=0x3fff9c length=8256"
                    + " memoryBytes=4194304"));
  }

  @Test
  void register_wrongVcpuIdIsCountedAndTheExitingVcpuUsed() {
    FakeGuest g = new FakeGuest(2);
    FakeGuest.Cpu cpu = g.cpu(1);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    g.memory.set(U32, region(cpu) + TraceRegionDescriptor.VCPU_ID_OFFSET, 0);
    register(cpu, region(cpu), TraceRegionDescriptor.regionLength(256));
    t.counter(t.name("c"), 1);
    TraceData data = g.finish();
    assertThat(data.records(1).size()).isEqualTo(1);
    assertThat(data.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.VCPU_MISMATCH,
                1,
                1,
                "trace region claims vcpuId=0, registered by vCPU 1"));
  }

  @Test
  void register_nameTableOutsideMemoryKeepsRecordsWithoutNames() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    long r = region(cpu);
    g.memory.set(U64, r + TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET, 0x3FF000L);
    register(cpu, r, TraceRegionDescriptor.regionLength(256));
    t.begin(1);
    TraceData data = g.finish();
    assertThat(data.records(0).size()).isEqualTo(1);
    assertThat(data.diagnostics())
        .extracting(Diagnostic::kind)
        .containsExactly(Diagnostics.BAD_NAME_TABLE, Diagnostics.UNDEFINED_NAME);
  }

  /** Writes a raw slot at {@code sequence} and publishes up to {@code sequence + 1}. */
  private static void rawSlot(
      FakeGuest g, long region, long sequence, long header, long tsc, long arg0, long arg1) {
    long slot = region + TraceRegionDescriptor.slotOffset(sequence, 256);
    g.memory.set(U64, slot, header);
    g.memory.set(U64, slot + 8, tsc);
    g.memory.set(U64, slot + 16, arg0);
    g.memory.set(U64, slot + 24, arg1);
  }

  private static void publish(FakeGuest g, long region, long writeSequence) {
    g.memory.set(U64, region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET, writeSequence);
  }

  @Test
  void decode_badSlotsAreCountedAndValidNeighboursKept() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    int a = t.name("a");
    long r = region(cpu);
    rawSlot(g, r, 0, TraceRecordDescriptor.header(RecordKind.SPAN_BEGIN, 0, 0, a), 100, 0, 0);
    rawSlot(g, r, 1, TraceRecordDescriptor.header(9, 0, 0, 0), 110, 0, 0); // unknown kind
    rawSlot(g, r, 2, 0, 0, 0, 0); // empty
    rawSlot(g, r, 3, TraceRecordDescriptor.header(RecordKind.SPAN_END, 0, 0, 42), 130, 0, 0);
    rawSlot(g, r, 4, TraceRecordDescriptor.header(RecordKind.CONTINUATION, 0, 0, 0), 0, 0, 0);
    // A 3-byte message of invalid UTF-8 (0xFF 0xFE 'x').
    rawSlot(g, r, 5, TraceRecordDescriptor.header(RecordKind.MESSAGE, 0, 3, 0), 150, 0x78FEFFL, 0);
    // A 40-byte message whose single continuation slot is not one.
    rawSlot(
        g, r, 6, TraceRecordDescriptor.header(RecordKind.MESSAGE, 0, 40, 0), 160, 0x41414141, 0);
    rawSlot(g, r, 7, TraceRecordDescriptor.header(RecordKind.SPAN_END, 0, 0, a), 170, 0, 0);
    rawSlot(g, r, 8, TraceRecordDescriptor.header(RecordKind.SPAN_END, 0, 0, a), 120, 0, 0);
    publish(g, r, 9);
    cpu.register(Register.RDI, r);
    cpu.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_FLUSH);
    TraceData data = g.finish();
    assertThat(dump(data.records(0)))
        .containsExactly(
            "span_begin a 100 0 0",
            "span_end null 130 0 0",
            "message \uFFFD\uFFFDx 150",
            "message AAAA" + "\0".repeat(12) + " 160",
            "span_end a 170 0 0",
            "span_end a 120 0 0");
    assertThat(data.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.UNKNOWN_KIND, 0, 1, "unknown record kind: kind=9 sequence=1"),
            new Diagnostic(
                Diagnostics.EMPTY_SLOT, 0, 1, "empty slot in the written range: sequence=2"),
            new Diagnostic(
                Diagnostics.UNDEFINED_NAME,
                0,
                1,
                "span_end names an undefined id: nameId=42 sequence=3 defined=1"),
            new Diagnostic(
                Diagnostics.CONTINUATION_DANGLING,
                0,
                1,
                "continuation slot without a message: sequence=4"),
            new Diagnostic(
                Diagnostics.BAD_UTF8, 0, 1, "message at sequence 5 is not valid UTF-8: replaced"),
            new Diagnostic(
                Diagnostics.CONTINUATION_MISSING,
                0,
                1,
                "message continuation missing: sequence=7 holds span_end, message at 6"),
            new Diagnostic(
                Diagnostics.TIMESTAMP_BACKWARDS,
                0,
                1,
                "guest TSC went back: sequence=8 tscTicks=120 before=170"));
    assertThat(data.losses()).isEqualTo(new LossCounters(0, 0, 3, 0, 0));
  }

  @Test
  void decode_sequenceBackwardsAndJumpAreCounted() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    int a = t.name("a");
    for (int i = 0; i < 10; i++) {
      t.counter(a, i);
    }
    t.flush();
    long r = region(cpu);
    publish(g, r, 4); // back
    cpu.out(ExitPorts.LOG, 3);
    for (int s = 4; s < 4 + 300; s++) {
      rawSlot(
          g,
          r,
          s,
          TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, a),
          6_000_000_000L + s,
          s,
          0);
    }
    publish(g, r, 4 + 300); // 300 ahead of a 256-slot ring: 44 lost
    cpu.out(ExitPorts.LOG, 3);
    TraceData data = g.finish();
    VcpuRecords rec = data.records(0);
    assertThat(rec.size()).isEqualTo(10 + 256);
    assertThat(rec.arg0(10)).isEqualTo(48);
    assertThat(data.losses()).isEqualTo(new LossCounters(0, 44, 0, 0, 0));
    assertThat(data.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.SEQUENCE_BACKWARDS, 0, 1, "write sequence went back: from=10 to=4"),
            new Diagnostic(
                Diagnostics.SEQUENCE_JUMP,
                0,
                1,
                "write sequence ran more than a ring ahead: cursor=4 writeSequence=304"
                    + " capacity=256 lost=44"));
  }

  @Test
  void names_overLongNameStopsTheTableAndIsCounted() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    int a = t.name("a");
    int b = t.name("b");
    // Corrupt entry 2's length prefix (entry 1 is 4 bytes at offset 16).
    g.memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, FakeGuest.NAME_TABLE_ADDRESS + 20, (short) 999);
    t.begin(a);
    t.begin(b);
    TraceData data = g.finish();
    assertThat(data.records(0).name(a)).isEqualTo("a");
    assertThat(data.records(0).name(b)).isNull();
    assertThat(data.diagnostics())
        .extracting(Diagnostic::first)
        .containsExactly(
            "name 2 too long: byteLength=999 max=256",
            "span_begin names an undefined id: nameId=2 sequence=1 defined=1");
  }

  @Test
  void guestDroppedCounter_isReported() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    g.memory.set(U64, region(cpu) + TraceRegionDescriptor.DROPPED_RECORDS_OFFSET, 12L);
    TraceData data = g.finish();
    assertThat(data.losses()).isEqualTo(new LossCounters(0, 0, 0, 0, 12));
  }

  @Test
  void calibrationPairs_areThinnedLogarithmicallyForAGuestThatExitsConstantly() {
    FakeGuest g = new FakeGuest(1);
    FakeGuest.Cpu cpu = g.cpu(0);
    int exits = TraceCollector.PAIRS_BEFORE_THINNING * 4;
    for (int i = 0; i < exits; i++) {
      cpu.register(Register.RCX, i);
      cpu.out(ExitPorts.LOG, 3);
    }
    TraceData data = g.finish();
    int l = TraceCollector.PAIRS_BEFORE_THINNING;
    // All of the first L, every 2nd of the next L, every 4th of the next 2L.
    assertThat(data.calibrationPairs()).hasSize(l + l / 2 + l / 2);
    assertThat(data.calibrationPairs().get(l).guestTscTicks()).isEqualTo(l);
    assertThat(data.calibrationPairs().get(l + 1).guestTscTicks()).isEqualTo(l + 2);
    assertThat(data.calibrationPairs().getLast().guestTscTicks()).isEqualTo(4L * l - 4);
  }

  @Test
  void quota_chargesMessagesTheSlotsTheirTextTook() {
    FakeGuest g = new FakeGuest(1, 20);
    FakeGuest.Cpu cpu = g.cpu(0);
    Tracer t = g.tracer(cpu, 256, TraceRegionDescriptor.MODE_STREAM);
    t.message("x".repeat(16 + 31 * 9)); // 10 slots
    t.message("y".repeat(16 + 31 * 9)); // 10 slots: 20, the quota
    t.message("z"); // 1 slot: over
    TraceData data = g.finish();
    assertThat(data.records(0).size()).isEqualTo(2);
    assertThat(data.losses().quotaDropped()).isEqualTo(1);
  }
}
