package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * A guest that faults halfway through writing a record: writes {@code --arg records=N} (default
 * 1000) counter records named {@code written} without flushing, starts the next record (its header
 * and TSC), then touches memory outside its range before finishing and publishing it. The host
 * reports the fault, recovers all N published records from guest memory, and ignores the half
 * record (it was never published).
 */
public final class HostileFaultMidRecord extends HostileGuest {
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
  void misbehave(GuestRuntime runtime) {
    HostileNeverHalts.writeCounters(runtime, longArg(runtime, "records", 1000));
    RawRing raw = new RawRing(runtime);
    long half = raw.slotAddress(raw.tracer.writeSequence());
    raw.memory.set(RawRing.U64, half, TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, 0));
    raw.memory.set(RawRing.U64, half + TraceRecordDescriptor.TSC_OFFSET, raw.cpu.rdtsc());
    raw.memory.set(RawRing.U64, raw.memory.byteSize() + 8, 0L); // faults: outside guest memory
  }
}
