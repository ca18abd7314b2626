package dev.guesttrace.vm;

import dev.guesttrace.abi.ExitPorts;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Routes OUT exits to the {@link PortHandler} registered for their port (trace, host call, log,
 * abort) and profiles every exit: count, host time spent handling it (min, median, p99, max, total)
 * per reason and port, in bounded memory.
 *
 * <p>An OUT to a port without a handler is counted as {@link ExitProfile#UNKNOWN_PORT} and the
 * guest resumes. A handler or listener that throws stops the run; the error is counted and the
 * first one kept ({@link #firstHandlerError()}): a host bug must not look like a guest fault.
 *
 * <p>Safe for several vCPUs exiting at once. Register handlers before running the guest.
 *
 * <pre>{@code
 * ExitDispatcher exits = new ExitDispatcher()
 *     .register(ExitPorts.TRACE, collector)
 *     .register(ExitPorts.HOST_CALL, hostCalls)
 *     .register(ExitPorts.LOG, new LogHandler(boot, line -> ...))
 *     .register(ExitPorts.ABORT, new AbortHandler(boot, abort -> ...));
 * RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, exits);
 * exits.recordOutcome(outcome, 0);
 * ExitProfile profile = exits.profile();
 * }</pre>
 */
public final class ExitDispatcher implements ExitHandler {
  /** Distinct unknown ports with rows of their own; more are lumped into one row. */
  public static final int MAX_UNKNOWN_PORT_ROWS = 16;

  private volatile Map<Integer, PortHandler> handlers = Map.of();
  private final List<ExitListener> listeners = new CopyOnWriteArrayList<>();
  private final Map<Integer, Stats> outStats = new ConcurrentHashMap<>();
  private final Map<Integer, Stats> unknownStats = new ConcurrentHashMap<>();
  private final Stats otherUnknown = new Stats(ExitProfile.UNKNOWN_PORT, ExitProfile.NO_PORT);
  private final Stats hlt = new Stats(ExitProfile.HLT, ExitProfile.NO_PORT);
  private final Stats fault = new Stats(ExitProfile.FAULT, ExitProfile.NO_PORT);
  private final Stats timeout = new Stats(ExitProfile.TIMEOUT, ExitProfile.NO_PORT);
  private volatile String firstHandlerError;

  /** Creates a dispatcher with no handlers. */
  public ExitDispatcher() {}

  /**
   * Routes OUT exits on {@code port} to {@code handler}, replacing any handler it had.
   *
   * @return this
   */
  public synchronized ExitDispatcher register(int port, PortHandler handler) {
    Objects.requireNonNull(handler, "handler");
    if (port < 0 || port > 0xFFFF) {
      throw new IllegalArgumentException("port must be 0..65535: port=" + port);
    }
    Map<Integer, PortHandler> copy = new HashMap<>(handlers);
    copy.put(port, handler);
    outStats.computeIfAbsent(port, p -> new Stats(ExitProfile.OUT, p));
    handlers = Map.copyOf(copy);
    return this;
  }

  /**
   * Adds a listener that sees every OUT exit before its handler.
   *
   * @return this
   */
  public ExitDispatcher addListener(ExitListener listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
    return this;
  }

  @Override
  public ExitAction onOut(VcpuState vcpu, int port, int value) {
    long start = System.nanoTime();
    PortHandler handler = handlers.get(port);
    ExitAction action = ExitAction.RESUME;
    boolean failed = false;
    try {
      for (ExitListener listener : listeners) {
        listener.onExit(vcpu, port, value);
      }
      if (handler != null) {
        action = handler.handle(vcpu, value);
      }
    } catch (RuntimeException e) {
      failed = true;
      action = ExitAction.STOP;
      if (firstHandlerError == null) {
        firstHandlerError = "exit handler failed on port " + ExitPorts.name(port) + ": " + e;
      }
    }
    long nanos = System.nanoTime() - start;
    Stats stats = handler != null ? outStats.get(port) : unknown(port);
    stats.record(nanos, failed);
    return action;
  }

  /**
   * Counts how a run ended: a HLT, a fault or a timeout ({@link RunOutcome.Stopped} is not an exit
   * of its own: the OUT that stopped it was counted).
   *
   * @param handlingNanos host time spent on it (draining rings, reporting), 0 if not measured
   */
  public void recordOutcome(RunOutcome outcome, long handlingNanos) {
    switch (Objects.requireNonNull(outcome, "outcome")) {
      case RunOutcome.Halted h -> hlt.record(handlingNanos, false);
      case RunOutcome.Faulted f -> fault.record(handlingNanos, false);
      case RunOutcome.TimedOut t -> timeout.record(handlingNanos, false);
      case RunOutcome.Stopped s -> {}
    }
  }

  /** The first handler or listener failure, one line, if any. */
  public Optional<String> firstHandlerError() {
    return Optional.ofNullable(firstHandlerError);
  }

  /** A snapshot of the exit counts so far; rows without exits are left out. */
  public ExitProfile profile() {
    List<Stats> all = new ArrayList<>();
    all.addAll(outStats.values());
    all.addAll(unknownStats.values());
    all.add(otherUnknown);
    all.add(hlt);
    all.add(fault);
    all.add(timeout);
    List<ExitProfile.Row> rows = new ArrayList<>();
    for (Stats stats : all) {
      ExitProfile.Row row = stats.snapshot();
      if (row.count() > 0) {
        rows.add(row);
      }
    }
    rows.sort(
        Comparator.comparingInt((ExitProfile.Row r) -> order(r.reason()))
            .thenComparingInt(ExitProfile.Row::port));
    return new ExitProfile(rows);
  }

  private Stats unknown(int port) {
    Stats stats = unknownStats.get(port);
    if (stats != null) {
      return stats;
    }
    synchronized (unknownStats) {
      if (unknownStats.size() >= MAX_UNKNOWN_PORT_ROWS && !unknownStats.containsKey(port)) {
        return otherUnknown;
      }
      return unknownStats.computeIfAbsent(port, p -> new Stats(ExitProfile.UNKNOWN_PORT, p));
    }
  }

  private static int order(String reason) {
    return switch (reason) {
      case ExitProfile.OUT -> 0;
      case ExitProfile.UNKNOWN_PORT -> 1;
      case ExitProfile.HLT -> 2;
      case ExitProfile.FAULT -> 3;
      default -> 4;
    };
  }

  /** One row's counters; a lock per row, uncontended unless vCPUs exit on the same port at once. */
  private static final class Stats {
    private final String reason;
    private final int port;
    private final LatencyHistogram histogram = new LatencyHistogram();
    private long count;
    private long errors;
    private long totalNanos;
    private long minNanos = Long.MAX_VALUE;
    private long maxNanos;

    Stats(String reason, int port) {
      this.reason = reason;
      this.port = port;
    }

    synchronized void record(long nanos, boolean failed) {
      long n = Math.max(0, nanos);
      count++;
      if (failed) {
        errors++;
      }
      totalNanos += n;
      minNanos = Math.min(minNanos, n);
      maxNanos = Math.max(maxNanos, n);
      histogram.record(n);
    }

    synchronized ExitProfile.Row snapshot() {
      String portName =
          port == ExitProfile.NO_PORT
              ? (reason.equals(ExitProfile.UNKNOWN_PORT) ? "other" : "-")
              : ExitPorts.name(port);
      return new ExitProfile.Row(
          reason,
          port,
          portName,
          count,
          errors,
          totalNanos,
          count == 0 ? 0 : minNanos,
          clamp(histogram.valueAt(0.5)),
          clamp(histogram.valueAt(0.99)),
          maxNanos);
    }

    /** Bucket midpoints never leave the observed range. */
    private long clamp(long value) {
      return count == 0 ? 0 : Math.max(minNanos, Math.min(maxNanos, value));
    }
  }
}
