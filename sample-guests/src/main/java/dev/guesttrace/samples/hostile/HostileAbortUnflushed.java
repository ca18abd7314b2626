package dev.guesttrace.samples.hostile;

import dev.guesttrace.guest.GuestRuntime;

/**
 * A guest that aborts with records unflushed, as a crash that cannot run the tracer would: writes
 * {@code --arg records=N} (default 1000) counter records named {@code written}, then aborts without
 * flushing. The host reports the abort and recovers all N records from guest memory.
 */
public final class HostileAbortUnflushed extends HostileGuest {
  /** The abort code. */
  public static final int ABORT_CODE = 13;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileAbortUnflushed() {}

  @Override
  public String name() {
    return "hostile-abort-unflushed";
  }

  @Override
  public String summary() {
    return "Writes N records without flushing, then aborts without flushing";
  }

  @Override
  public java.util.List<String> args() {
    return java.util.List.of("records=N (records written before the abort, default 1000)");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    HostileNeverHalts.writeCounters(runtime, longArg(runtime, "records", 1000));
    runtime.abortWithoutFlush(ABORT_CODE, "hostile abort with records unflushed");
  }
}
