package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * Pointers outside guest memory: registers a trace region that starts past the end of memory, one
 * that starts inside but overlaps the end, and flushes naming a region outside memory. The host
 * must refuse both registrations ({@code region_outside_memory} twice), count the flush ({@code
 * unregistered_flush}), keep reading the ring it already had, and never read outside memory.
 */
public final class HostileBadPointer extends HostileGuest {
  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileBadPointer() {}

  @Override
  public String name() {
    return "hostile-bad-pointer";
  }

  @Override
  public String summary() {
    return "Registers trace regions outside and across the end of memory, flushes a bad address";
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    long memoryBytes = raw.memory.byteSize();
    long length = TraceRegionDescriptor.regionLength(TraceRegionDescriptor.MIN_CAPACITY);
    raw.register(memoryBytes + 4096, length);
    raw.register(memoryBytes - TraceRegionDescriptor.HEADER_LENGTH, length);
    raw.flushNaming(-64L);
  }
}
