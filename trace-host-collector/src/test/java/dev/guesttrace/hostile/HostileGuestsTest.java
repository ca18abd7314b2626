package dev.guesttrace.hostile;

import static dev.guesttrace.hostile.Hostile.beginNames;
import static dev.guesttrace.hostile.Hostile.counterValues;
import static dev.guesttrace.hostile.Hostile.diagnostics;
import static dev.guesttrace.hostile.Hostile.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.Diagnostics;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.span.SpanTreeBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * One test per hostile sample guest (DESIGN.md's list of what the host must survive): the run
 * returns a result, the diagnostic is counted exactly, the valid records around the bad ones are
 * kept, and what the host keeps is bounded by the ring, not by what the guest claims.
 *
 * <p>A well-behaved boot with an empty {@code main} writes 12 records (entrypoint, load_gdt,
 * load_idt, init_idt, hyperlight_main, halt: begins and ends); every hostile guest adds a valid
 * {@code before} and {@code after} span around its misbehaviour: 16 records.
 */
class HostileGuestsTest {
  /** The guest library's spans before {@code main}, and the {@code before} span. */
  private static final List<String> BOOT_AND_BEFORE =
      List.of("entrypoint", "load_gdt", "load_idt", "init_idt", "hyperlight_main", "before");

  /** Ring slots of the default 64 KiB ring. */
  private static final int CAPACITY = 2048;

  private static List<String> begins(String... afterBoot) {
    List<String> all = new ArrayList<>(BOOT_AND_BEFORE);
    all.addAll(List.of(afterBoot));
    return all;
  }

  @Test
  void badPointer_refusedRegistrationsAndFlush_countedAndTheOldRingKeptReading() throws Exception {
    GuestRun.Result r = run("hostile-bad-pointer");

    assertThat(r.failed()).isFalse();
    assertThat(diagnostics(r.data()))
        .containsOnly(
            entry(Diagnostics.REGION_OUTSIDE_MEMORY, 2L),
            entry(Diagnostics.UNREGISTERED_FLUSH, 1L));
    // Before the fix a refused re-registration dropped the good ring: the 6 records written after
    // it (after, the library's ends, halt) were lost without a count.
    assertThat(r.data().recordCount()).isEqualTo(16);
    assertThat(beginNames(r.data())).isEqualTo(begins("after", "halt"));
    assertThat(r.data().losses()).isEqualTo(LossCounters.NONE);
  }

  @Test
  void badNameTable_acrossTheEndOfMemory_refusedRingKeptNamesKnownStayKnown() throws Exception {
    GuestRun.Result r = run("hostile-bad-name-table");

    assertThat(r.failed()).isFalse();
    // The same region registered again is a new ring: read again from sequence 0 (10 records
    // twice), then the 6 after it; without a table every named one of those 16 is undefined.
    assertThat(diagnostics(r.data()))
        .containsOnly(
            entry(Diagnostics.BAD_NAME_TABLE, 1L), entry(Diagnostics.UNDEFINED_NAME, 16L));
    assertThat(r.data().recordCount()).isEqualTo(10 + 10 + 6);
    List<String> expected = new ArrayList<>(BOOT_AND_BEFORE);
    expected.addAll(begins("after", "halt"));
    assertThat(beginNames(r.data())).isEqualTo(expected);
  }

  @Test
  void capacityLie_headerRewrittenAfterRegistration_ignoredWithoutLoss() throws Exception {
    GuestRun.Result r = run("hostile-capacity-lie");

    assertThat(r.failed()).isFalse();
    assertThat(r.data().diagnostics()).isEmpty();
    assertThat(r.data().recordCount()).isEqualTo(16);
    assertThat(beginNames(r.data())).isEqualTo(begins("after", "halt"));
  }

  @Test
  void sequenceJump_2pow40_readsAtMostOneRingAndCountsTheOverrun() throws Exception {
    GuestRun.Result r = run("hostile-sequence-jump");

    assertThat(r.failed()).isFalse();
    TraceData data = r.data();
    // 10 records before the jump; the jump reads one ring: the 10 old slots again and 2038 empty
    // ones; then the tracer's real sequence (15) comes back below the cursor, within a ring of
    // where the guest was before the jump: the 5 records it wrote since are read (before the fix
    // they were skipped uncounted), and the halt end (sequence 15) after them.
    assertThat(diagnostics(data))
        .containsOnly(
            entry(Diagnostics.SEQUENCE_JUMP, 1L),
            entry(Diagnostics.EMPTY_SLOT, (long) CAPACITY - 10),
            entry(Diagnostics.TIMESTAMP_BACKWARDS, 1L),
            entry(Diagnostics.SEQUENCE_BACKWARDS, 1L));
    assertThat(beginNames(data)).endsWith("before", "after", "halt");
    assertThat(data.recordCount()).isEqualTo(10 + 10 + 5 + 1);
    assertThat(data.losses().streamOverrun()).isEqualTo((1L << 40) - CAPACITY);
    assertThat(data.losses().undecodable()).isEqualTo(CAPACITY - 10);
  }

  @Test
  void sequenceJump_beyond2pow63_lossCountedWithoutOverflow() throws Exception {
    GuestRun.Result r = run("hostile-sequence-jump", Map.of("jump", Long.toString(Long.MAX_VALUE)));

    assertThat(r.failed()).isFalse();
    assertThat(diagnostics(r.data())).containsEntry(Diagnostics.SEQUENCE_JUMP, 1L);
    // The window [written - capacity, written) straddles 2^63: the decoder's signed loop reads
    // none of it (harmless: those slots hold nothing the guest published honestly). 10 records
    // before, 6 after the guest's sequence came back.
    assertThat(r.data().recordCount()).isEqualTo(16);
    assertThat(beginNames(r.data())).isEqualTo(begins("after", "halt"));
    // The unsigned distance 2^63 - 1 less the ring read: no overflow, no wrap to a negative count.
    assertThat(r.data().losses().streamOverrun()).isEqualTo(Long.MAX_VALUE - CAPACITY);
  }

  @Test
  void sequenceBack_countedAndReadingGoesOnFromTheGuestsSequence() throws Exception {
    GuestRun.Result r = run("hostile-sequence-back");

    assertThat(r.failed()).isFalse();
    // Its two flushes come with no record kept between them: one host span.
    assertThat(diagnostics(r.data()))
        .containsOnly(
            entry(Diagnostics.SEQUENCE_BACKWARDS, 1L),
            entry(Diagnostics.TIMESTAMP_BACKWARDS, 1L),
            entry(Diagnostics.TRACE_EXITS_MERGED, 1L));
    // The 3 slots below the old cursor are read again (the host cannot tell which side lied).
    assertThat(r.data().recordCount()).isEqualTo(16 + 3);
    assertThat(beginNames(r.data()))
        .isEqualTo(begins("hyperlight_main", "before", "after", "halt"));
  }

  @Test
  void unknownKind_emptySlotDanglingContinuation_eachCountedValidOnesKept() throws Exception {
    GuestRun.Result r = run("hostile-unknown-kind");

    assertThat(r.failed()).isFalse();
    assertThat(diagnostics(r.data()))
        .containsOnly(
            entry(Diagnostics.UNKNOWN_KIND, 1L),
            entry(Diagnostics.EMPTY_SLOT, 1L),
            entry(Diagnostics.CONTINUATION_DANGLING, 1L));
    assertThat(counterValues(r.data(), "tick")).containsExactly(1L, 2L, 3L, 4L);
    assertThat(r.data().recordCount()).isEqualTo(16 + 4);
    assertThat(r.data().losses().undecodable()).isEqualTo(3);
    assertThat(beginNames(r.data())).isEqualTo(begins("after", "halt"));
  }

  @Test
  void undefinedName_countedAndKept() throws Exception {
    GuestRun.Result r = run("hostile-undefined-name");

    assertThat(r.failed()).isFalse();
    assertThat(diagnostics(r.data())).containsOnly(entry(Diagnostics.UNDEFINED_NAME, 3L));
    assertThat(r.data().recordCount()).isEqualTo(16 + 3);
    assertThat(beginNames(r.data())).isEqualTo(begins("#9999", "after", "halt"));
    assertThat(treeDiagnostics(r.data())).isEmpty();
  }

  /**
   * The tree builder's diagnostics but {@code span_outside_parent}: host work during an exit can
   * overhang its guest span by the calibration's error, which depends on timing, not on the guest.
   */
  private static List<Diagnostic> treeDiagnostics(TraceData data) {
    return SpanTreeBuilder.buildWithDetails(data).diagnostics().stream()
        .filter(d -> !d.kind().equals(Diagnostics.SPAN_OUTSIDE_PARENT))
        .toList();
  }

  @Test
  void badUtf8_inANameAndAMessage_replacedAndCountedOnceEach() throws Exception {
    GuestRun.Result r = run("hostile-bad-utf8");

    assertThat(r.failed()).isFalse();
    assertThat(diagnostics(r.data())).containsOnly(entry(Diagnostics.BAD_UTF8, 2L));
    assertThat(beginNames(r.data())).isEqualTo(begins("bad\uFFFD(\uFFFD", "after", "halt"));
    assertThat(messages(r.data())).containsExactly("msg\uFFFD");
    assertThat(r.data().recordCount()).isEqualTo(16 + 3);
  }

  @Test
  void longText_messageCutToTheLimitCutShortKeptNameTableStopped() throws Exception {
    GuestRun.Result r = run("hostile-long-text");

    assertThat(r.failed()).isFalse();
    assertThat(diagnostics(r.data()))
        .containsOnly(
            entry(Diagnostics.NAME_TOO_LONG, 1L),
            entry(Diagnostics.MESSAGE_TOO_LONG, 1L),
            entry(Diagnostics.CONTINUATION_MISSING, 1L));
    assertThat(messages(r.data())).containsExactly("L".repeat(4096), "cut short here..");
    assertThat(counterValues(r.data(), "tick")).containsExactly(1L);
    assertThat(r.data().recordCount()).isEqualTo(16 + 3);
    assertThat(beginNames(r.data())).isEqualTo(begins("after", "halt"));
  }

  @Test
  void unbalancedSpans_endsWithoutBeginsDroppedOpenSpansClosedAndCounted() throws Exception {
    GuestRun.Result r = run("hostile-unbalanced-spans");

    assertThat(r.failed()).isFalse();
    assertThat(r.data().diagnostics()).isEmpty();
    assertThat(r.data().recordCount()).isEqualTo(20);
    assertThat(diagnostics(treeDiagnostics(r.data())))
        .containsOnly(
            entry(Diagnostics.SPAN_END_WITHOUT_BEGIN, 2L), entry(Diagnostics.SPAN_UNCLOSED, 2L));
    assertThat(beginNames(r.data()))
        .isEqualTo(begins("after", "never_ended", "never_ended", "halt"));
  }

  @Test
  void timeBackwards_countedOnceAllKept() throws Exception {
    GuestRun.Result r = run("hostile-time-backwards");

    assertThat(r.failed()).isFalse();
    assertThat(diagnostics(r.data())).containsOnly(entry(Diagnostics.TIMESTAMP_BACKWARDS, 1L));
    assertThat(counterValues(r.data(), "tick")).containsExactly(1L, 2L, 3L);
    assertThat(r.data().recordCount()).isEqualTo(16 + 3);
    assertThat(SpanTreeBuilder.buildWithDetails(r.data()).tree()).isNotNull();
  }

  @Test
  void flushStorm_100kFlushes_calibrationPairsThinnedRecordsExact() throws Exception {
    GuestRun.Result r = run("hostile-flush-storm", Map.of("flushes", "100000"));

    assertThat(r.failed()).isFalse();
    // Every flush after the first of the storm lands on the same record: merged into its span.
    assertThat(diagnostics(r.data())).containsOnly(entry(Diagnostics.TRACE_EXITS_MERGED, 99_999L));
    assertThat(r.data().hostSpans())
        .filteredOn(s -> s.name().equals("trace flush"))
        .hasSizeLessThan(10);
    assertThat(r.data().recordCount()).isEqualTo(16);
    // 100,005 exits, three pairs each (the guest's RCX, the host's reads at exit and at entry):
    // 16384 pairs, then every 2nd, 4th, 8th, 16th: about 50,000 kept, not 300,015.
    assertThat(r.data().calibrationPairs()).hasSizeBetween(16_384, 60_000);
  }

  @Test
  void flushStorm_oneSecond_fewHostSpansSmallFile() throws Exception {
    java.io.ByteArrayOutputStream file = new java.io.ByteArrayOutputStream();
    dev.guesttrace.file.TraceFileWriter writer =
        new dev.guesttrace.file.TraceFileWriter(file, "flush storm test");
    GuestRun.Result r =
        GuestRun.builder(Hostile.config("hostile-flush-storm", Map.of("seconds", "1")).build())
            .setSink(writer)
            .build()
            .execute();
    writer.close();

    assertThat(r.failed()).isFalse();
    long flushes = diagnostics(r.data()).get(Diagnostics.TRACE_EXITS_MERGED);
    assertThat(flushes).as("a storm: flushes merged").isGreaterThan(10_000);
    // Host spans: the run, the register, one merged flush per record position (the storm sits at
    // one), the halt flush: not one per exit (issue 16: 966 MB of host spans in 20 s).
    assertThat(r.data().hostSpans()).hasSizeLessThan(8);
    assertThat(r.data().calibrationPairs()).hasSizeLessThan(100_000);
    assertThat(file.size()).as("file bytes").isLessThan(2 << 20);
  }

  @Test
  void neverHalts_busy_stoppedAtTheTimeoutEveryUnflushedRecordRecovered() throws Exception {
    GuestRun.Result r =
        GuestRun.builder(
                Hostile.config("hostile-never-halts", Map.of("records", "1000"))
                    .setTimeout(java.time.Duration.ofMillis(300))
                    .build())
            .build()
            .execute();

    assertThat(r.failed()).isTrue();
    assertThat(r.outcome()).isEqualTo("timeout on vCPU 0 during boot after 300 ms");
    assertThat(counterValues(r.data(), "written")).isEqualTo(range(0, 1000));
    assertThat(r.data().recordCount()).isEqualTo(10 + 1000);
    assertThat(r.data().losses()).isEqualTo(LossCounters.NONE);
  }

  @Test
  void neverHalts_quiet_abandonedAfterASecondTimeoutRecordsRecovered() throws Exception {
    GuestRun.Result r =
        GuestRun.builder(
                Hostile.config("hostile-never-halts", Map.of("records", "1000", "how", "quiet"))
                    .setTimeout(java.time.Duration.ofMillis(300))
                    .build())
            .build()
            .execute();

    assertThat(r.failed()).isTrue();
    assertThat(r.outcome())
        .isEqualTo("timeout on vCPU 0 during boot after 300 ms (vCPU did not stop; abandoned)");
    assertThat(counterValues(r.data(), "written")).isEqualTo(range(0, 1000));
    assertThat(r.data().recordCount()).isEqualTo(10 + 1000);
  }

  @Test
  void neverHalts_moreThanARing_everyRecordInTheTrace() throws Exception {
    GuestRun.Result r =
        GuestRun.builder(
                Hostile.config("hostile-never-halts", Map.of("records", "5000"))
                    .setTimeout(java.time.Duration.ofMillis(300))
                    .build())
            .build()
            .execute();

    assertThat(counterValues(r.data(), "written")).isEqualTo(range(0, 5000));
    assertThat(r.data().losses()).isEqualTo(LossCounters.NONE);
  }

  @Test
  void neverHalts_flightMode_lastRingKeptOverwrittenCounted() throws Exception {
    GuestRun.Result r =
        GuestRun.builder(
                Hostile.config("hostile-never-halts", Map.of("records", "5000"))
                    .setMode(dev.guesttrace.guest.BootInfo.MODE_FLIGHT)
                    .setTimeout(java.time.Duration.ofMillis(300))
                    .build())
            .build()
            .execute();

    // 10 + 5000 records written into 2048 slots: the last 2048 are kept, 2962 counted overwritten.
    assertThat(r.data().recordCount()).isEqualTo(CAPACITY);
    assertThat(counterValues(r.data(), "written")).isEqualTo(range(5000 - CAPACITY, 5000));
    assertThat(r.data().losses().flightOverwritten()).isEqualTo(10 + 5000 - CAPACITY);
  }

  @Test
  void faultMidRecord_publishedRecordsRecoveredHalfRecordIgnored() throws Exception {
    GuestRun.Result r = run("hostile-fault-mid-record", Map.of("records", "1000"));

    assertThat(r.failed()).isTrue();
    assertThat(r.outcome())
        .isEqualTo(
            "guest fault on vCPU 0 during boot: guest accessed memory outside its range:"
                + " address=0x1000008 length=8 memoryBytes=0x1000000");
    assertThat(counterValues(r.data(), "written")).isEqualTo(range(0, 1000));
    assertThat(r.data().recordCount()).isEqualTo(10 + 1000);
    assertThat(r.data().diagnostics()).isEmpty();
  }

  private static GuestRun.Result flightFault(String cut) throws Exception {
    return GuestRun.builder(
            Hostile.config("hostile-fault-mid-record", Map.of("records", "5000", "cut", cut))
                .setMode(dev.guesttrace.guest.BootInfo.MODE_FLIGHT)
                .build())
        .build()
        .execute();
  }

  @Test
  void faultMidRecord_flightWrapped_tornOldestSlotDroppedAndCounted() throws Exception {
    GuestRun.Result r = flightFault("record");

    // 10 + 5000 records published into 2048 slots; the half record at sequence 5010 had written its
    // TSC and header over the slot of sequence 2962 (counter 2952): dropped, the 2047 after kept.
    assertThat(r.outcome()).startsWith("guest fault on vCPU 0 during boot");
    assertThat(counterValues(r.data(), "written")).isEqualTo(range(2953, 5000));
    assertThat(r.data().recordCount()).isEqualTo(CAPACITY - 1);
    assertThat(r.data().losses().flightOverwritten()).isEqualTo(10 + 5000 - CAPACITY + 1);
    assertThat(r.data().diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.FLIGHT_RECORD_TORN,
                0,
                1,
                "the guest stopped while writing a record over the oldest slots of its flight"
                    + " ring: 1 slot dropped, from sequence 2962"));
  }

  @Test
  void faultMidMessage_flightWrapped_itsSevenSlotsDroppedTheRestKept() throws Exception {
    GuestRun.Result r = flightFault("message");

    // The Tracer wrote the 200-byte message's 7 slots (head, 6 continuations) over sequences 2962
    // to 2968 (counters 2952 to 2958), then its text faulted: those 7 dropped, the rest kept.
    assertThat(r.outcome()).startsWith("guest fault on vCPU 0 during boot");
    assertThat(counterValues(r.data(), "written")).isEqualTo(range(2959, 5000));
    assertThat(r.data().recordCount()).isEqualTo(CAPACITY - 7);
    assertThat(r.data().losses().flightOverwritten()).isEqualTo(10 + 5000 - CAPACITY + 7);
    assertThat(r.data().losses().undecodable()).isZero();
    assertThat(r.data().diagnostics()).hasSize(1);
    assertThat(r.data().diagnostics().get(0).first())
        .endsWith("7 slots dropped, from sequence 2962");
  }

  @Test
  void abortUnflushed_everyRecordRecovered() throws Exception {
    GuestRun.Result r = run("hostile-abort-unflushed", Map.of("records", "1000"));

    assertThat(r.failed()).isTrue();
    assertThat(r.outcome())
        .isEqualTo("aborted on vCPU 0 code=13: hostile abort with records unflushed");
    assertThat(counterValues(r.data(), "written")).isEqualTo(range(0, 1000));
    assertThat(r.data().recordCount()).isEqualTo(10 + 1000);
    assertThat(r.data().losses()).isEqualTo(LossCounters.NONE);
  }

  @Test
  void abortUnflushed_overTheQuota_keptUpToItRestCountedAsDropped() throws Exception {
    GuestRun.Result r =
        GuestRun.builder(
                Hostile.config("hostile-abort-unflushed", Map.of("records", "1000"))
                    .setMaxRecords(100)
                    .build())
            .build()
            .execute();

    assertThat(r.data().recordCount()).isEqualTo(100);
    assertThat(r.data().losses().quotaDropped()).isEqualTo(910);
    assertThat(diagnostics(r.data())).containsOnly(entry(Diagnostics.QUOTA_EXCEEDED, 910L));
  }

  private static List<Long> range(long from, long to) {
    List<Long> values = new ArrayList<>();
    for (long v = from; v < to; v++) {
      values.add(v);
    }
    return values;
  }

  private static List<String> messages(TraceData data) {
    VcpuRecords r = data.records(0);
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < r.size(); i++) {
      if (r.kind(i) == RecordKind.MESSAGE) {
        texts.add(r.message(i));
      }
    }
    return texts;
  }
}
