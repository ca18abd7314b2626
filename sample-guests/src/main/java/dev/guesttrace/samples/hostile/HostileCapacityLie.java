package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * Counts larger than the ring, told after registration: rewrites its region header to claim a
 * capacity of 2^31 - 1 slots, a record length of 4096 and a header length of 0, then keeps tracing.
 * The host read those fields once, at registration, and uses only its own copy: no diagnostic, no
 * read past the ring, every record kept.
 */
public final class HostileCapacityLie extends HostileGuest {
  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileCapacityLie() {}

  @Override
  public String name() {
    return "hostile-capacity-lie";
  }

  @Override
  public String summary() {
    return "Rewrites its ring header after registration to claim a 2^31-slot ring";
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    raw.memory.set(RawRing.U32, raw.region + TraceRegionDescriptor.CAPACITY_OFFSET, 0x7FFF_FFFF);
    raw.memory.set(
        RawRing.U16, raw.region + TraceRegionDescriptor.RECORD_LENGTH_OFFSET, (short) 4096);
    raw.memory.set(RawRing.U16, raw.region + TraceRegionDescriptor.HEADER_LENGTH_OFFSET, (short) 0);
    raw.tracer.flush();
  }
}
