package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * Timestamps that go backwards: three counter records whose middle one carries a TSC half the
 * previous one's. The host counts it once ({@code timestamp_backwards}: the third record is later
 * than the second) and keeps all three.
 */
public final class HostileTimeBackwards extends HostileGuest {
  private int tick;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileTimeBackwards() {}

  @Override
  public String name() {
    return "hostile-time-backwards";
  }

  @Override
  public String summary() {
    return "Writes a record whose timestamp is earlier than the one before it";
  }

  @Override
  void prepare(GuestRuntime runtime) {
    tick = runtime.tracer().name("tick");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    long s = raw.reserve(3);
    long header = TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, tick);
    long now = raw.cpu.rdtsc();
    raw.slot(s, header, now, 1, 0);
    raw.slot(s + 1, header, now / 2, 2, 0);
    raw.slot(s + 2, header, raw.cpu.rdtsc(), 3, 0);
    raw.tracer.flush();
  }
}
