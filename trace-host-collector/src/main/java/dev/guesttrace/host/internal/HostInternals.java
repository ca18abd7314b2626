package dev.guesttrace.host.internal;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceSink;
import dev.guesttrace.host.GuestTrace;
import dev.guesttrace.host.GuestTracer;
import java.util.Objects;

/**
 * guesttrace's own doors into the host API's implementation, for its CLI and run orchestration: an
 * extra sink, a fixed wall-clock start, the trace in memory. No compatibility promise
 * (OpenTelemetry keeps such things in {@code internal} packages too); embedders use {@code
 * dev.guesttrace.host}.
 */
public final class HostInternals {
  private static volatile Access access;

  private HostInternals() {}

  /** What {@link GuestTracer} lets its own toolkit do. */
  public interface Access {
    /** Also streams the trace to {@code sink} (e.g. a file writer the caller owns). */
    void addSink(GuestTracer.Builder builder, TraceSink sink);

    /** The run's wall-clock start, ns since the epoch (0 for deterministic output). */
    void setStartEpochNanos(GuestTracer.Builder builder, long epochNanos);

    /** The whole trace in memory. */
    TraceData data(GuestTrace trace);
  }

  /** Called once by {@link GuestTracer}'s class initializer. */
  public static void register(Access implementation) {
    access = Objects.requireNonNull(implementation, "implementation");
  }

  /** The implementation's doors. */
  public static Access access() {
    if (access == null) {
      try {
        Class.forName(GuestTracer.class.getName(), true, GuestTracer.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(e);
      }
    }
    return access;
  }
}
