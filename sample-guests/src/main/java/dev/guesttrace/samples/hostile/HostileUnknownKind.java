package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * Slots the host cannot decode, between valid ones: a record of kind 0x7E (unknown), a zeroed slot
 * inside the written range, and a continuation slot with no message before it. Each is counted
 * ({@code unknown_kind}, {@code empty_slot}, {@code continuation_dangling}, and as {@code
 * undecodable} loss); the valid counter records between them are kept.
 */
public final class HostileUnknownKind extends HostileGuest {
  /** The kind byte this guest writes; ABI 1.0 defines kinds 0 to 7. */
  public static final int BOGUS_KIND = 0x7E;

  private int tick;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileUnknownKind() {}

  @Override
  public String name() {
    return "hostile-unknown-kind";
  }

  @Override
  public String summary() {
    return "Writes a record of unknown kind, a zeroed slot and a dangling continuation";
  }

  @Override
  void prepare(GuestRuntime runtime) {
    tick = runtime.tracer().name("tick");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    long s = raw.reserve(7);
    raw.slot(
        s, TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, tick), raw.cpu.rdtsc(), 1, 0);
    raw.record(s + 1, BOGUS_KIND, tick);
    raw.slot(
        s + 2, TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, tick), raw.cpu.rdtsc(), 2, 0);
    raw.slot(s + 3, 0, 0, 0, 0);
    raw.slot(
        s + 4, TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, tick), raw.cpu.rdtsc(), 3, 0);
    raw.continuation(s + 5, (byte) 'x');
    raw.slot(
        s + 6, TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, tick), raw.cpu.rdtsc(), 4, 0);
    raw.tracer.flush();
  }
}
