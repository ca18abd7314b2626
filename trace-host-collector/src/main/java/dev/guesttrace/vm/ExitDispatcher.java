package dev.guesttrace.vm;

import dev.guesttrace.abi.ExitPorts;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
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
  public static final int MAX_UNKNOWN_PORT_ROWS = ExitProfiler.MAX_UNKNOWN_PORT_ROWS;

  private volatile Map<Integer, PortHandler> handlers = Map.of();
  private final List<ExitListener> listeners = new CopyOnWriteArrayList<>();
  private final ExitProfiler profiler = new ExitProfiler();
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
    profiler.knownPort(port);
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
    profiler.out(port, nanos, failed);
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
      case RunOutcome.Halted h -> profiler.hlt(handlingNanos);
      case RunOutcome.Faulted f -> profiler.fault(handlingNanos);
      case RunOutcome.TimedOut t -> profiler.timeout(handlingNanos);
      case RunOutcome.Stopped s -> {}
    }
  }

  /** The first handler or listener failure, one line, if any. */
  public Optional<String> firstHandlerError() {
    return Optional.ofNullable(firstHandlerError);
  }

  /** A snapshot of the exit counts so far; rows without exits are left out. */
  public ExitProfile profile() {
    return profiler.profile();
  }
}
