package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * A name table pointer across the end of memory: rewrites its region header so that the name table
 * starts 8 bytes before the end of guest memory, and registers the region again. The host refuses
 * the table ({@code bad_name_table}) but not the ring: it drains the old registration, reads the
 * region again from sequence 0 (the same region registered again is a new ring), and counts every
 * named record after it as {@code undefined_name}; names it already had stay known.
 */
public final class HostileBadNameTable extends HostileGuest {
  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileBadNameTable() {}

  @Override
  public String name() {
    return "hostile-bad-name-table";
  }

  @Override
  public String summary() {
    return "Registers its ring again with a name table that runs past the end of memory";
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    raw.memory.set(
        RawRing.U64,
        raw.region + TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET,
        raw.memory.byteSize() - 8);
    raw.register(raw.region, TraceRegionDescriptor.regionLength(raw.capacity));
  }
}
