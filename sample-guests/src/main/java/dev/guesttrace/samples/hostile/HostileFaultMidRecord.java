package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * A guest that faults halfway through writing a record: writes {@code --arg records=N} (default
 * 1000) counter records named {@code written} without flushing, then starts the next record and
 * touches memory outside its range before finishing and publishing it. With {@code --arg
 * cut=record} (default) the record is a counter of which only the TSC word and the header word are
 * written (the order the runtimes store them in); with {@code cut=message} the guest's own {@link
 * dev.guesttrace.guest.Tracer} writes a 200-byte message (7 slots) whose text faults at its 100th
 * character, after the tracer wrote every slot's kind. The host reports the fault and recovers
 * every published record; the half record (never published) is ignored. In flight mode, once the
 * ring has wrapped, the half record has written over the oldest slots: those are dropped and
 * counted, the records after them kept.
 */
public final class HostileFaultMidRecord extends HostileGuest {
  /** Length of the message {@code cut=message} writes: a MESSAGE slot and 6 continuations. */
  static final int MESSAGE_BYTES = 200;

  /** The character of that message whose read faults. */
  static final int FAULT_AT_CHAR = 100;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileFaultMidRecord() {}

  @Override
  public String name() {
    return "hostile-fault-mid-record";
  }

  @Override
  public String summary() {
    return "Writes N records without flushing, then faults halfway through the next one";
  }

  @Override
  public java.util.List<String> args() {
    return java.util.List.of(
        "records=N (records written before the fault, default 1000)",
        "cut=record|message (what the fault cuts, default record)");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    HostileNeverHalts.writeCounters(runtime, longArg(runtime, "records", 1000));
    RawRing raw = new RawRing(runtime);
    if (runtime.arg("cut", "record").equals("message")) {
      runtime.tracer().message(new FaultingText(raw));
      return; // not reached
    }
    long half = raw.slotAddress(raw.tracer.writeSequence());
    raw.memory.set(RawRing.U64, half + TraceRecordDescriptor.TSC_OFFSET, raw.cpu.rdtsc());
    raw.memory.set(RawRing.U64, half, TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, 0));
    fault(raw);
  }

  private static void fault(RawRing raw) {
    raw.memory.set(RawRing.U64, raw.memory.byteSize() + 8, 0L); // outside guest memory
  }

  /**
   * {@value #MESSAGE_BYTES} characters of text whose character {@value #FAULT_AT_CHAR} faults when
   * read the second time: the tracer measures the text first, then writes it into its slots.
   */
  private static final class FaultingText implements CharSequence {
    private final RawRing raw;
    private int reads;

    FaultingText(RawRing raw) {
      this.raw = raw;
    }

    @Override
    public int length() {
      return MESSAGE_BYTES;
    }

    @Override
    public char charAt(int index) {
      if (index == FAULT_AT_CHAR && ++reads == 2) {
        fault(raw);
      }
      return (char) ('a' + index % 26);
    }

    @Override
    public CharSequence subSequence(int start, int end) {
      throw new UnsupportedOperationException("subSequence");
    }

    @Override
    public String toString() {
      return "text that faults at character " + FAULT_AT_CHAR;
    }
  }
}
