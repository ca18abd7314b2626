package dev.guesttrace.guest;

import static dev.guesttrace.guest.ReferenceReader.KIND_ALLOC;
import static dev.guesttrace.guest.ReferenceReader.KIND_COUNTER;
import static dev.guesttrace.guest.ReferenceReader.KIND_FREE;
import static dev.guesttrace.guest.ReferenceReader.KIND_SPAN_BEGIN;
import static dev.guesttrace.guest.ReferenceReader.KIND_SPAN_END;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.guesttrace.guest.ReferenceReader.Header;
import dev.guesttrace.guest.ReferenceReader.Record;
import dev.guesttrace.guest.TestCpu.Exit;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TracerTest {
  private static final long TABLE = 0x10000;
  private static final int TABLE_LENGTH = 4096;
  private static final long REGION = 0x20000;
  private static final int CAPACITY = 256;
  private static final long REGION_LENGTH = 64 + CAPACITY * 32L;
  private static final int STREAM = 0;
  private static final int FLIGHT = 1;
  private static final int TRACE_PORT = 0x70;
  private static final int OP_REGISTER = 1;
  private static final int OP_FLUSH = 2;

  private final TestCpu cpu = new TestCpu(3, 1 << 20);
  private final NameTableWriter names = new NameTableWriter(cpu.memory(), TABLE, TABLE_LENGTH);

  private Tracer register(int mode) {
    return Tracer.register(cpu, names, REGION, CAPACITY, mode);
  }

  private Header header() {
    return ReferenceReader.header(cpu.region());
  }

  /** Everything the host has, after a final flush. */
  private List<Record> flushAndCollect(Tracer tracer) {
    tracer.flush();
    return cpu.host().records();
  }

  private static String text(Record r) {
    return r.text();
  }

  @Test
  void register_formatsHeaderAndExitsOnceWithTscInRcx() {
    register(STREAM);

    assertThat(header())
        .isEqualTo(
            new Header(
                0x43525447,
                0x010000,
                64,
                32,
                CAPACITY,
                STREAM,
                3,
                0,
                0,
                0,
                TABLE,
                TABLE_LENGTH,
                0));
    assertThat(cpu.exits())
        .containsExactly(
            new Exit(TRACE_PORT, OP_REGISTER, REGION, REGION_LENGTH, cpu.lastTsc(), 0));
  }

  @Test
  void register_invalidCapacity_throwsNamingIt() {
    assertThatThrownBy(() -> Tracer.register(cpu, names, REGION, 300, STREAM))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capacity must be a power of two in range: capacity=300");
    assertThatThrownBy(() -> Tracer.register(cpu, names, REGION, 128, STREAM))
        .hasMessageContaining("capacity=128");
    assertThat(cpu.exits()).isEmpty();
  }

  @Test
  void register_regionPastMemoryEnd_throws() {
    long address = (1 << 20) - 1024;
    assertThatThrownBy(() -> Tracer.register(cpu, names, address, CAPACITY, STREAM))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "trace region does not fit guest memory: regionAddress="
                + address
                + " length="
                + REGION_LENGTH);
  }

  @Test
  void register_regionNotEightByteAligned_throwsBeforeAnyExit() {
    assertThatThrownBy(() -> Tracer.register(cpu, names, REGION + 4, CAPACITY, STREAM))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("trace region must be 8-byte aligned: regionAddress=" + (REGION + 4));
    assertThat(cpu.exits()).isEmpty();
  }

  @Test
  void spanBeginEnd_writeOneSlotEachWithConsecutiveTimestamps() {
    Tracer tracer = register(STREAM);
    int parse = tracer.name("parse");
    long registeredTsc = cpu.lastTsc();

    tracer.begin(parse, 7, -1);
    tracer.end(parse);

    assertThat(header().writeSequence()).isEqualTo(2);
    assertThat(ReferenceReader.decode(cpu.region(), 0, 2, CAPACITY))
        .containsExactly(
            new Record(0, KIND_SPAN_BEGIN, 0, parse, registeredTsc + 10, 7, -1, null, 1),
            new Record(1, KIND_SPAN_END, 0, parse, registeredTsc + 20, 0, 0, null, 1));
  }

  @Test
  void spanTryWithResources_endsInnermostWithItsName() {
    Tracer tracer = register(STREAM);
    int outer = tracer.name("outer");
    int inner = tracer.name("inner");

    try (Tracer.Span s1 = tracer.span(outer)) {
      try (Tracer.Span s2 = tracer.span(inner)) {
        assertThat(s2).isSameAs(s1);
      }
    }

    assertThat(flushAndCollect(tracer))
        .extracting(Record::kind, Record::nameId)
        .containsExactly(
            tuple(KIND_SPAN_BEGIN, outer),
            tuple(KIND_SPAN_BEGIN, inner),
            tuple(KIND_SPAN_END, inner),
            tuple(KIND_SPAN_END, outer));
  }

  @Test
  void endInnermost_beyondTrackedDepth_carriesNoName() {
    Tracer tracer = register(STREAM);
    int deep = tracer.name("deep");
    for (int i = 0; i < 4097; i++) {
      tracer.span(deep);
    }

    tracer.endInnermost(); // level 4097 is deeper than the 4096 names remembered
    tracer.endInnermost();

    List<Record> records = flushAndCollect(tracer);
    assertThat(records.get(4097).kind()).isEqualTo(KIND_SPAN_END);
    assertThat(records.get(4097).nameId()).isZero();
    assertThat(records.get(4098).nameId()).isEqualTo(deep);
  }

  @Test
  void allocFreeCounter_carryAddressSizeAndValue() {
    Tracer tracer = register(STREAM);
    int queue = tracer.name("queue_depth");

    tracer.alloc(0x40_0000, 4096);
    tracer.free(0x40_0000, 0);
    tracer.counter(queue, -12);

    assertThat(flushAndCollect(tracer))
        .extracting(Record::kind, Record::nameId, Record::arg0, Record::arg1)
        .containsExactly(
            tuple(KIND_ALLOC, 0, 0x40_0000L, 4096L),
            tuple(KIND_FREE, 0, 0x40_0000L, 0L),
            tuple(KIND_COUNTER, queue, -12L, 0L));
  }

  @Test
  void stream_fullRing_flushesExactlyWhenTheNextRecordWouldOverwrite() {
    Tracer tracer = register(STREAM);
    int c = tracer.name("c");

    for (int i = 0; i < CAPACITY; i++) {
      tracer.counter(c, i);
    }
    assertThat(cpu.exits()).hasSize(1); // registration only: the ring is full, nothing lost yet

    tracer.counter(c, CAPACITY);

    assertThat(cpu.exits()).hasSize(2);
    Exit flush = cpu.exits().get(1);
    assertThat(flush.port()).isEqualTo(TRACE_PORT);
    assertThat(flush.value()).isEqualTo(OP_FLUSH);
    assertThat(flush.rdi()).isEqualTo(REGION);
    assertThat(flush.writeSequence()).isEqualTo(CAPACITY);
    assertThat(cpu.host().cursor()).isEqualTo(CAPACITY);
    assertThat(header().writeSequence()).isEqualTo(CAPACITY + 1);
  }

  @Test
  void stream_wrapAround_hostReadsEveryRecordOnceInOrder() {
    Tracer tracer = register(STREAM);
    int c = tracer.name("c");

    for (int i = 0; i < 1000; i++) {
      tracer.counter(c, i);
    }
    tracer.flush();

    List<Exit> flushes = cpu.exits().subList(1, cpu.exits().size());
    assertThat(flushes).extracting(Exit::writeSequence).containsExactly(256L, 512L, 768L, 1000L);
    // Each flush carries the TSC read just before its OUT, later than every record before it.
    assertThat(flushes).extracting(Exit::rcx).isSorted().doesNotHaveDuplicates();
    List<Record> records = cpu.host().records();
    assertThat(records).hasSize(1000);
    for (int i = 0; i < 1000; i++) {
      assertThat(records.get(i).sequence()).isEqualTo(i);
      assertThat(records.get(i).arg0()).isEqualTo(i);
    }
    assertThat(records).extracting(Record::tscTicks).isSorted().doesNotHaveDuplicates();
    assertThat(cpu.host().lostSlots()).isZero();
    assertThat(header().flushCount()).isEqualTo(4);
    assertThat(header().droppedRecords()).isZero();
    assertThat(header().overwrittenSlots()).isZero();
  }

  @Test
  void stream_messageThatDoesNotFit_flushesBeforeItsFirstSlot() {
    Tracer tracer = register(STREAM);
    int c = tracer.name("c");
    for (int i = 0; i < 250; i++) {
      tracer.counter(c, i);
    }
    String fits = "x".repeat(100); // 1 + 3 continuation slots: 254 slots used
    String spills = "y".repeat(200); // 1 + 6 continuation slots: would need 261

    tracer.message(fits);
    assertThat(cpu.exits()).hasSize(1);
    tracer.message(spills);

    assertThat(cpu.exits()).hasSize(2);
    assertThat(cpu.exits().get(1).writeSequence()).isEqualTo(254);
    List<Record> records = flushAndCollect(tracer);
    assertThat(records).hasSize(252);
    assertThat(records.get(250)).extracting(Record::text).isEqualTo(fits);
    assertThat(records.get(251).text()).isEqualTo(spills);
    assertThat(records.get(251).sequence()).isEqualTo(254);
    assertThat(records.get(251).slots()).isEqualTo(7);
  }

  @Test
  void flight_neverExitsAndCountsOverwrittenSlots() {
    Tracer tracer = register(FLIGHT);
    int c = tracer.name("c");

    for (int i = 0; i < 1000; i++) {
      tracer.counter(c, i);
    }
    tracer.flush();

    assertThat(cpu.exits()).hasSize(1);
    assertThat(header().mode()).isEqualTo(FLIGHT);
    assertThat(header().writeSequence()).isEqualTo(1000);
    assertThat(header().overwrittenSlots()).isEqualTo(1000 - CAPACITY);
    assertThat(tracer.overwrittenSlots()).isEqualTo(1000 - CAPACITY);
    assertThat(header().flushCount()).isZero();
    List<Record> recovered = ReferenceReader.recoverFlight(cpu.region());
    assertThat(recovered).hasSize(CAPACITY);
    assertThat(recovered.getFirst().arg0()).isEqualTo(1000 - CAPACITY);
    assertThat(recovered.getLast().arg0()).isEqualTo(999);
  }

  @Test
  void flight_beforeFirstWrap_overwritesNothing() {
    Tracer tracer = register(FLIGHT);
    for (int i = 0; i < CAPACITY; i++) {
      tracer.alloc(i, 1);
    }

    assertThat(header().overwrittenSlots()).isZero();
    assertThat(ReferenceReader.recoverFlight(cpu.region())).hasSize(CAPACITY);
    tracer.alloc(CAPACITY, 1);
    assertThat(header().overwrittenSlots()).isEqualTo(1);
  }

  @Test
  void flight_oldestSlotsAreContinuations_readerSkipsThemAndKeepsTheRest() {
    Tracer tracer = register(FLIGHT);
    int c = tracer.name("c");
    for (int i = 0; i < 254; i++) {
      tracer.counter(c, i); // sequences 0..253
    }
    tracer.message("m".repeat(100)); // MESSAGE at 254, continuations at 255..257
    for (int i = 0; i < 253; i++) {
      tracer.counter(c, 1000 + i); // sequences 258..510
    }

    // The last 256 slots are 255..510: three orphaned continuations, then 253 counters.
    assertThat(header().writeSequence()).isEqualTo(511);
    assertThat(header().overwrittenSlots()).isEqualTo(511 - CAPACITY);
    List<Record> recovered = ReferenceReader.recoverFlight(cpu.region());
    assertThat(recovered).hasSize(253);
    assertThat(recovered.getFirst().sequence()).isEqualTo(258);
    assertThat(recovered.getFirst().arg0()).isEqualTo(1000);
    assertThat(recovered).extracting(Record::kind).containsOnly(KIND_COUNTER);
  }

  @Test
  void flight_messageCrossingCapacity_countsOnlyTheReusedSlots() {
    Tracer tracer = register(FLIGHT);
    for (int i = 0; i < 254; i++) {
      tracer.alloc(i, 1);
    }

    tracer.message("z".repeat(100)); // slots 254..257: 256 and 257 reuse slots 0 and 1

    assertThat(header().overwrittenSlots()).isEqualTo(2);
    List<Record> recovered = ReferenceReader.recoverFlight(cpu.region());
    assertThat(recovered.getLast().text()).isEqualTo("z".repeat(100));
    assertThat(recovered.getFirst().sequence()).isEqualTo(2);
  }

  @Test
  void message_shortAscii_fitsInOneSlot() {
    Tracer tracer = register(STREAM);

    tracer.message("0123456789abcdef"); // exactly the 16 inline bytes
    tracer.message("");

    assertThat(header().writeSequence()).isEqualTo(2);
    List<Record> records = flushAndCollect(tracer);
    assertThat(records).extracting(TracerTest::text).containsExactly("0123456789abcdef", "");
    assertThat(records).extracting(Record::slots).containsExactly(1, 1);
  }

  @Test
  void message_nonAscii_encodesTwoThreeAndFourByteUtf8() {
    Tracer tracer = register(STREAM);
    String text = "a\u00e9\u20ac\uD83D\uDE00"; // a, e-acute (2), euro (3), grinning face (4)

    tracer.message(text);
    tracer.message("a".repeat(15) + "\u20ac" + "b"); // the euro sign straddles slot 0 and 1

    List<Record> records = flushAndCollect(tracer);
    assertThat(records.get(0).text()).isEqualTo(text);
    assertThat(records.get(0).text().getBytes(StandardCharsets.UTF_8)).hasSize(10);
    assertThat(records.get(1).text()).isEqualTo("a".repeat(15) + "\u20ac" + "b");
    assertThat(records.get(1).slots()).isEqualTo(2);
  }

  @Test
  void message_unpairedSurrogates_becomeQuestionMarks() {
    Tracer tracer = register(STREAM);

    tracer.message("a\uD800b\uDC00c");
    tracer.message("end\uD83D");
    tracer.message(new StringBuilder("\uDE00\uD83D\uDE00"));

    assertThat(flushAndCollect(tracer))
        .extracting(TracerTest::text)
        .containsExactly("a?b?c", "end?", "?\uD83D\uDE00");
  }

  @Test
  void message_longAscii_cutAt4096BytesIn133Slots() {
    Tracer tracer = register(STREAM);
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 5000; i++) {
      text.append((char) ('a' + i % 26));
    }

    tracer.message(text);

    Record r = flushAndCollect(tracer).getFirst();
    assertThat(r.text()).isEqualTo(text.substring(0, 4096));
    assertThat(r.slots()).isEqualTo(133);
    assertThat(header().writeSequence()).isEqualTo(133);
  }

  @Test
  void message_longMultiByte_cutAtCharacterBoundary() {
    Tracer tracer = register(STREAM);
    String euros = "\u20ac".repeat(2000); // 3 bytes each: 1365 fit in 4095 bytes
    String faces = "a" + "\uD83D\uDE00".repeat(1100); // 1 + 4 * 1023 = 4093 bytes fit

    tracer.message(euros);
    tracer.message(faces);

    List<Record> records = flushAndCollect(tracer);
    assertThat(records.get(0).text()).isEqualTo("\u20ac".repeat(1365));
    assertThat(records.get(0).slots()).isEqualTo(1 + (4095 - 16 + 30) / 31);
    assertThat(records.get(1).text()).isEqualTo("a" + "\uD83D\uDE00".repeat(1023));
    assertThat(records.get(1).text().getBytes(StandardCharsets.UTF_8)).hasSize(4093);
  }

  @Test
  void message_longMessagesWrapTheStreamRing_arriveWhole() {
    Tracer tracer = register(STREAM);
    String text = "\u00e9".repeat(3000); // 6000 bytes, cut to 2048 characters = 4096 bytes

    for (int i = 0; i < 10; i++) {
      tracer.message(text); // 133 slots each: at most one fits per 256-slot ring-full after one
    }

    List<Record> records = flushAndCollect(tracer);
    assertThat(records).hasSize(10);
    assertThat(records).extracting(TracerTest::text).containsOnly("\u00e9".repeat(2048));
    assertThat(cpu.host().lostSlots()).isZero();
  }

  @Test
  void messageText_writesTheSameSlotsAsTheString_streamAndWrappedFlight() {
    List<String> texts =
        List.of(
            "",
            "0123456789abcdef",
            "Start converting buffer",
            "a\u00e9\u20ac\uD83D\uDE00",
            "a".repeat(15) + "\u20ac" + "b",
            "a\uD800b\uDC00c",
            "end\uD83D",
            "\u20ac".repeat(2000),
            "m".repeat(100));
    for (int mode : new int[] {STREAM, FLIGHT}) {
      TestCpu asText = new TestCpu(3, 1 << 20);
      TestCpu asString = new TestCpu(3, 1 << 20);
      Tracer textTracer =
          Tracer.register(
              asText,
              new NameTableWriter(asText.memory(), TABLE, TABLE_LENGTH),
              REGION,
              CAPACITY,
              mode);
      Tracer stringTracer =
          Tracer.register(
              asString,
              new NameTableWriter(asString.memory(), TABLE, TABLE_LENGTH),
              REGION,
              CAPACITY,
              mode);
      // Enough rounds to fill the stream ring several times and wrap the flight ring.
      for (int round = 0; round < 3; round++) {
        for (String t : texts) {
          textTracer.message(Tracer.Text.of(t));
          stringTracer.message(t);
          textTracer.counter(0, round);
          stringTracer.counter(0, round);
        }
      }

      assertThat(textTracer.writeSequence())
          .isEqualTo(stringTracer.writeSequence())
          .isGreaterThan(CAPACITY);
      assertThat(asText.region()).isEqualTo(asString.region());
      assertThat(asText.exits()).isEqualTo(asString.exits());
      assertThat(asText.host().records()).isEqualTo(asString.host().records());
    }
    assertThat(Tracer.Text.of("\u20ac".repeat(2000)).toString()).hasSize(2000);
  }

  @Test
  void messageText_disabledTracer_writesNothing() {
    Tracer tracer = Tracer.disabled(cpu, names);

    tracer.message(Tracer.Text.of("nothing"));

    assertThat(tracer.writeSequence()).isZero();
    assertThat(cpu.exits()).isEmpty();
  }

  @Test
  void name_sameNameTwice_returnsSameIdAndWritesOneEntry() {
    Tracer tracer = register(STREAM);

    int a = tracer.name("alpha");
    int b = tracer.name("beta");
    int again = tracer.name("alpha");

    assertThat(a).isEqualTo(1);
    assertThat(b).isEqualTo(2);
    assertThat(again).isEqualTo(a);
    assertThat(ReferenceReader.names(cpu.bytes(TABLE, TABLE_LENGTH)))
        .containsExactly(null, "alpha", "beta");
  }

  @Test
  void name_tableFull_returnsZeroAndCountsRefusal() {
    // Header 16 bytes + one entry for a 4-byte name (2 + 4 -> 8 bytes): nothing else fits.
    NameTableWriter small = new NameTableWriter(cpu.memory(), 0x30000, 24);

    assertThat(small.intern("abcd")).isEqualTo(1);
    assertThat(small.intern("e")).isZero();
    assertThat(small.intern("abcd")).isEqualTo(1);
    assertThat(small.namesRefused()).isEqualTo(1);
    assertThat(ReferenceReader.names(cpu.bytes(0x30000, 24))).containsExactly(null, "abcd");
  }

  @Test
  void name_longerThan256Bytes_cutAtCharacterBoundary() {
    Tracer tracer = register(STREAM);

    int id = tracer.name("\u20ac".repeat(100)); // 300 bytes: 85 characters = 255 bytes fit

    assertThat(ReferenceReader.names(cpu.bytes(TABLE, TABLE_LENGTH)).get(id))
        .isEqualTo("\u20ac".repeat(85));
  }

  @Test
  void name_nonAscii_storedAsUtf8() {
    Tracer tracer = register(STREAM);

    int id = tracer.name("gr\u00f6\u00dfe_\u6e2c\u5b9a");

    assertThat(ReferenceReader.names(cpu.bytes(TABLE, TABLE_LENGTH)).get(id))
        .isEqualTo("gr\u00f6\u00dfe_\u6e2c\u5b9a");
  }

  @Test
  void disabled_writesNothingAndNeverExits() {
    Tracer tracer = Tracer.disabled(cpu, names);

    tracer.begin(1);
    tracer.message("x");
    tracer.alloc(1, 2);
    tracer.end(1);
    tracer.flush();

    assertThat(tracer.enabled()).isFalse();
    assertThat(tracer.writeSequence()).isZero();
    assertThat(cpu.exits()).isEmpty();
  }
}
