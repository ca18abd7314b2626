package dev.guesttrace.run;

import dev.guesttrace.abi.BootInfoDescriptor;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceSink;
import dev.guesttrace.collect.TraceSinks;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.host.GuestTrace;
import dev.guesttrace.host.GuestTracer;
import dev.guesttrace.host.TraceMode;
import dev.guesttrace.host.VcpuTracer;
import dev.guesttrace.host.internal.HostInternals;
import dev.guesttrace.render.Printable;
import dev.guesttrace.vm.ExitDispatcher;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.GuestMemoryLayout;
import dev.guesttrace.vm.PortHandler;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import dev.guesttrace.vm.calls.AbortHandler;
import dev.guesttrace.vm.calls.GuestCallResult;
import dev.guesttrace.vm.calls.GuestCalls;
import dev.guesttrace.vm.calls.HostCallHandler;
import dev.guesttrace.vm.calls.HostFunctions;
import dev.guesttrace.vm.calls.LogHandler;
import dev.guesttrace.vm.emulated.EmulatedVm;
import dev.guesttrace.vm.emulated.GuestTsc;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * One run of a guest: create the VM, write the boot info, boot every vCPU, make the guest calls,
 * and collect the trace, with host spans (the run per vCPU, each guest call, each host call) on the
 * same host clock as the calibrated guest spans.
 *
 * <p>Each vCPU is driven by its own host thread ({@link Vm#startDriver}: on the emulated backend
 * the guest runs on that thread, no hand-off per call): it boots, then makes its share of the calls
 * (round-robin), so vCPUs run at once as on a real hypervisor. A vCPU that faults, aborts or times
 * out ends its own work; the run's outcome names the first failure. The collector drains a vCPU's
 * ring at every exit and once more at the end, so nothing the guest wrote is lost, flushed or not.
 */
public final class GuestRun {
  private final RunConfig config;
  private final TraceSink extraSink;
  private final Consumer<String> hostPrint;
  private final LogHandler.Listener logListener;
  private final LongSupplier clock;
  private final Consumer<MemorySegment> memoryAtEnd;
  private final boolean keepRecords;

  /** What a run that does not keep its records keeps of its trace, for {@link Result#data()}. */
  private TraceData.Builder summary;

  /** The clock of the run in progress ({@link #clockFor}); set before the vCPU threads start. */
  private LongSupplier runClock;

  private GuestRun(Builder b) {
    this.config = b.config;
    this.extraSink = b.extraSink;
    this.hostPrint = b.hostPrint;
    this.logListener = b.logListener;
    this.clock = b.clock;
    this.memoryAtEnd = b.memoryAtEnd;
    this.keepRecords = b.keepRecords;
  }

  /** A run of {@code config}; by default the trace is only kept in memory. */
  public static Builder builder(RunConfig config) {
    return new Builder(config);
  }

  /**
   * The result of a run.
   *
   * @param data the whole trace, as the trace file holds it; without records, host spans and
   *     calibration pairs if the run was built with {@link Builder#setKeepRecords
   *     setKeepRecords(false)}
   * @param outcome one line: {@code halted}, or the first failure
   * @param failed whether a vCPU aborted, faulted or timed out, or a call failed or returned an
   *     error ({@link #CALL_ERROR_PREFIX})
   * @param firstCallResults the results of the first {@link #KEPT_CALL_RESULTS} calls that
   *     returned, in call order (a call that failed or never ran has none)
   * @param callsReturned how many calls returned a result, of every vCPU
   */
  public record Result(
      TraceData data,
      String outcome,
      boolean failed,
      List<CallReturn> firstCallResults,
      long callsReturned) {
    /** Copies the list: a result does not change. */
    public Result {
      firstCallResults = List.copyOf(firstCallResults);
    }
  }

  /**
   * What one guest call returned.
   *
   * @param call the call's index, from 0, in the order the run makes its calls ({@code --calls})
   * @param value the value, as text
   */
  public record CallReturn(long call, String value) {}

  /**
   * Most call results a {@link Result} keeps: {@code --calls} can make millions of calls, and a
   * result can be 16 KiB of text, so only the first ones are kept and the rest are counted.
   */
  public static final int KEPT_CALL_RESULTS = 16;

  /**
   * How a guest call's STRING result says the call failed ({@code error: unknown guest function:
   * Nope}, as the guest libraries' unknown-function reply and the starter guests write it): the run
   * stops that vCPU's calls and fails with the text (docs/guests.md, "Guest calls").
   */
  public static final String CALL_ERROR_PREFIX = "error: ";

  /** Most characters of a guest's error text in the run's one-line outcome. */
  static final int MAX_ERROR_CHARS = 300;

  /** A guest's error text on one line, cut to {@link #MAX_ERROR_CHARS}. */
  static String errorLine(String text) {
    String line = Printable.of(text);
    return line.length() <= MAX_ERROR_CHARS
        ? line
        : line.substring(0, MAX_ERROR_CHARS) + "... (" + text.length() + " characters)";
  }

  /**
   * Runs the guest to the end.
   *
   * @throws VmException if the VM cannot be created (nothing ran)
   */
  public Result execute() throws VmException {
    GuestMemoryLayout layout =
        GuestMemoryLayout.standard(
            config.memoryBytes(), config.vcpus(), RunConfig.callBufferLength());
    BootInfoDescriptor.Contents bootContents =
        layout.bootContents(config.ringBytes(), config.mode(), config.args());
    BootInfo boot = BootInfo.of(bootContents);
    VmConfig vmConfig =
        new VmConfig(config.memoryBytes(), config.vcpus(), config.timeout(), config.tsc());
    try (Vm vm = config.backend().create(vmConfig, config.source())) {
      LongSupplier clock = clockFor(vm);
      runClock = clock;
      MemorySegment memory = vm.memory();
      BootInfoDescriptor.write(memory, bootContents);
      GuestTracer tracer = tracer(vm, clock);

      AtomicReference<String> firstAbort = new AtomicReference<>();
      HostCallHandler hostCalls = new HostCallHandler(boot, HostFunctions.standard(hostPrint));
      // Host-call spans are timed on the run's clock, so deterministic runs stay deterministic.
      ThreadLocal<String> calledFunction = new ThreadLocal<>();
      hostCalls.addListener(
          (vcpuId, function, startNanos, endNanos, error) -> calledFunction.set(function));
      PortHandler timedHostCalls =
          (vcpu, value) -> {
            long start = clock.getAsLong();
            ExitHandler.ExitAction action = hostCalls.handle(vcpu, value);
            String function = calledFunction.get();
            calledFunction.remove();
            tracer
                .vcpu(vcpu.vcpuId())
                .recordHostCall(
                    function == null ? HostCallHandler.MALFORMED : function,
                    start,
                    clock.getAsLong());
            return action;
          };
      // The VMM's own ports; the trace port is the tracer's.
      ExitDispatcher vmmPorts =
          new ExitDispatcher()
              .register(ExitPorts.HOST_CALL, timedHostCalls)
              .register(ExitPorts.LOG, new LogHandler(boot, logListener))
              .register(
                  ExitPorts.ABORT,
                  new AbortHandler(
                      boot,
                      abort ->
                          firstAbort.compareAndSet(
                              null,
                              "aborted on vCPU "
                                  + abort.vcpuId()
                                  + " code="
                                  + abort.code()
                                  + (abort.message().isEmpty() ? "" : ": " + abort.message()))));

      GuestCalls calls = new GuestCalls(vm, boot);
      // Slot c is call c's result; each driver writes only its own calls' slots, and the
      // drivers' end latches publish them to this thread.
      String[] firstResults = new String[Math.min(config.calls(), KEPT_CALL_RESULTS)];
      VcpuDriver[] drivers = new VcpuDriver[config.vcpus()];
      for (int v = 0; v < config.vcpus(); v++) {
        drivers[v] =
            new VcpuDriver(
                v,
                vm,
                calls,
                new TracedExits(tracer.vcpu(v), vmmPorts),
                vmmPorts,
                firstAbort,
                firstResults);
        vm.startDriver(v, "vcpu-host-" + v, drivers[v], drivers[v]::abandoned);
      }
      for (VcpuDriver d : drivers) {
        d.awaitEnd();
      }

      String outcome = "halted";
      boolean failed = false;
      long returned = 0;
      for (VcpuDriver d : drivers) {
        returned += d.callsReturned;
        if (d.failure != null && !failed) {
          failed = true;
          outcome = d.failure;
        }
      }
      GuestTrace trace = tracer.finish(outcome, failed);
      memoryAtEnd.accept(memory);
      List<CallReturn> first = new ArrayList<>();
      for (int c = 0; c < firstResults.length; c++) {
        if (firstResults[c] != null) {
          first.add(new CallReturn(c, firstResults[c]));
        }
      }
      TraceData data = keepRecords ? HostInternals.access().data(trace) : summary.build();
      return new Result(data, outcome, failed, first, returned);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("no output file is opened here: " + e.getMessage(), e);
    }
  }

  /** The run's tracer: guesttrace's own VMM is an ordinary client of the host API. */
  private GuestTracer tracer(Vm vm, LongSupplier clock) throws java.io.IOException {
    List<String> args = new ArrayList<>();
    config.args().forEach((k, v) -> args.add(k + "=" + v));
    GuestTracer.Builder b =
        GuestTracer.builder(vm.memory(), config.vcpus())
            .setBackend(vm.backendName())
            .setGuestName(config.source().name())
            .setMode(TraceMode.valueOf(config.modeName().toUpperCase(java.util.Locale.ROOT)))
            .setRingBytes(config.ringBytes())
            .setArgs(args)
            .setGuestTscKhz(vm.tscKhz().orElse(0))
            .setClock(clock)
            .setMaxRecords(config.maxRecords());
    // A deterministic run's stepped TSC advances at every read: host reads would change its
    // golden output. Its host clock is that TSC anyway.
    if (!config.deterministic()) {
      vm.guestTscReader().ifPresent(read -> b.setGuestTscReader(read::applyAsLong));
    }
    HostInternals.Access internals = HostInternals.access();
    if (extraSink != null) {
      internals.addSink(b, extraSink);
    }
    if (!keepRecords) {
      // The quota bounds the memory that kept records take; the sink's records take none here.
      b.setKeepInMemory(false).setMaxRecords(Long.MAX_VALUE);
      summary = TraceData.builder();
      internals.addSink(b, new SummarySink(summary));
    }
    if (config.deterministic()) {
      internals.setStartEpochNanos(b, 0);
    }
    return b.build();
  }

  /**
   * The host clock of this run: {@link System#nanoTime()} (or the builder's), or for a
   * deterministic run on the emulated backend vCPU 0's stepped TSC itself, so that host and guest
   * times are one deterministic count and golden output stays exact.
   */
  private LongSupplier clockFor(Vm vm) {
    if (config.deterministic() && vm instanceof EmulatedVm emulated) {
      GuestTsc tsc = emulated.tsc();
      return () -> tsc.read(0);
    }
    return clock;
  }

  /** Drives one vCPU: boot, then its share of the calls, with host spans around them. */
  private final class VcpuDriver implements Runnable {
    private final int vcpu;
    private final Vm vm;
    private final GuestCalls calls;
    private final TracedExits exits;
    private final ExitDispatcher vmmPorts;
    private final VcpuTracer tracer;
    private final AtomicReference<String> firstAbort;
    private final String[] firstResults;
    long callsReturned;
    String failure;

    /** Ends when the driver is done, or when its run was abandoned and reported for it. */
    private final CountDownLatch end = new CountDownLatch(1);

    /** What the vCPU is running, for the failure message of an abandoned run. */
    private String running = "boot";

    private long runStart;

    /** Set (before its thread can see the run end) when a run was abandoned. */
    private volatile boolean abandoned;

    VcpuDriver(
        int vcpu,
        Vm vm,
        GuestCalls calls,
        TracedExits exits,
        ExitDispatcher vmmPorts,
        AtomicReference<String> firstAbort,
        String[] firstResults) {
      this.firstResults = firstResults;
      this.vmmPorts = vmmPorts;
      this.vcpu = vcpu;
      this.vm = vm;
      this.calls = calls;
      this.exits = exits;
      this.tracer = exits.tracer();
      this.firstAbort = firstAbort;
    }

    @Override
    public void run() {
      runStart = clock().getAsLong();
      try {
        RunOutcome booted = vm.run(vcpu, Vm.Entry.BOOT, exits);
        if (!ended(booted, "boot")) {
          return;
        }
        running = "call " + config.call().name();
        for (int c = vcpu; c < config.calls(); c += config.vcpus()) {
          long callStart = clock().getAsLong();
          GuestCallResult result = calls.call(vcpu, config.call(), exits);
          boolean ok = ended(result.outcome(), running);
          tracer.recordGuestCall(config.call().name(), callStart, clock().getAsLong());
          if (!ok) {
            return;
          }
          if (!result.ok()) {
            failure = result.error();
            return;
          }
          if (c < firstResults.length) {
            firstResults[c] = String.valueOf(result.value());
          }
          callsReturned++;
          if (result.value() instanceof String text && text.startsWith(CALL_ERROR_PREFIX)) {
            // A guest's way to say the call failed (an unknown function, a bad argument): the
            // run failed, in one line, rather than a result that only --verbose would show.
            failure = "guest call " + config.call().name() + " returned " + errorLine(text);
            return;
          }
        }
      } catch (RuntimeException e) {
        // A host-side bug must not lose the trace: report it as this vCPU's failure.
        failure = "host error on vCPU " + vcpu + ": " + e;
        tracer.onStop(true);
      } finally {
        if (!abandoned) { // else the abandonment ended this vCPU's run and its trace
          tracer.recordRun("run " + config.source().name(), runStart, clock().getAsLong());
          end.countDown();
        }
      }
    }

    /**
     * The vCPU's run (on this driver's thread) timed out and did not stop: it never returns to
     * {@link #run}, so its end is reported here, on the backend's watchdog thread.
     */
    void abandoned(RunOutcome.TimedOut outcome) {
      abandoned = true;
      ended(outcome, running);
      tracer.recordRun("run " + config.source().name(), runStart, clock().getAsLong());
      end.countDown();
    }

    void awaitEnd() {
      boolean interrupted = false;
      while (true) {
        try {
          end.await();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }

    private LongSupplier clock() {
      return runClock;
    }

    /** Tells the tracer how the vCPU's run ended and says whether it halted normally. */
    private boolean ended(RunOutcome outcome, String what) {
      switch (outcome) {
        case RunOutcome.Halted h -> {
          tracer.onHalt();
          return true;
        }
        case RunOutcome.Stopped s -> {
          java.util.Optional<String> hostError = vmmPorts.firstHandlerError();
          tracer.onStop(hostError.isPresent());
          String abort = firstAbort.get();
          failure =
              abort != null
                  ? abort
                  : "stopped on vCPU "
                      + vcpu
                      + " during "
                      + what
                      + hostError.map(e -> ": " + e).orElse("");
        }
        case RunOutcome.Faulted f -> {
          tracer.onFault(f.reason());
          failure = "guest fault on vCPU " + vcpu + " during " + what + ": " + f.reason();
        }
        case RunOutcome.TimedOut t -> {
          tracer.onTimeout();
          failure =
              "timeout on vCPU "
                  + vcpu
                  + " during "
                  + what
                  + " after "
                  + t.timeout().toMillis()
                  + " ms"
                  + (t.stopped() ? "" : " (vCPU did not stop; abandoned)");
        }
      }
      return false;
    }
  }

  /** Builder for {@link GuestRun}. */
  public static final class Builder {
    private final RunConfig config;
    private TraceSink extraSink;
    private Consumer<String> hostPrint = s -> {};
    private LogHandler.Listener logListener = (vcpu, level, text) -> {};
    private LongSupplier clock = System::nanoTime;
    private Consumer<MemorySegment> memoryAtEnd = memory -> {};
    private boolean keepRecords = true;

    private Builder(RunConfig config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /** Also streams the trace to {@code sink}, e.g. the trace file writer. */
    public Builder setSink(TraceSink sink) {
      this.extraSink = Objects.requireNonNull(sink, "sink");
      return this;
    }

    /** Receives what the guest prints with the {@code HostPrint} host function. */
    public Builder setHostPrint(Consumer<String> hostPrint) {
      this.hostPrint = Objects.requireNonNull(hostPrint, "hostPrint");
      return this;
    }

    /** Receives the guest's log lines. */
    public Builder setLogListener(LogHandler.Listener logListener) {
      this.logListener = Objects.requireNonNull(logListener, "logListener");
      return this;
    }

    /** The host monotonic clock, {@link System#nanoTime()} unless a test makes it deterministic. */
    public Builder setClock(LongSupplier clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Receives guest memory at the end of the run, after the final drain and before the VM is
     * closed (e.g. to dump it); valid only during the call.
     */
    public Builder setMemoryAtEnd(Consumer<MemorySegment> memoryAtEnd) {
      this.memoryAtEnd = Objects.requireNonNull(memoryAtEnd, "memoryAtEnd");
      return this;
    }

    /**
     * Whether the run keeps its records in memory for {@link Result#data()} (the default), or only
     * streams them to the sink ({@link #setSink}, e.g. the trace file writer). Without them the
     * host's memory no longer grows with the trace: {@link RunConfig#maxRecords()} (which bounds
     * that memory) does not apply, and {@link Result#data()} holds the header, the diagnostics and
     * the losses, but no records, host spans or calibration pairs.
     */
    public Builder setKeepRecords(boolean keepRecords) {
      this.keepRecords = keepRecords;
      return this;
    }

    /**
     * Builds the run.
     *
     * @throws IllegalStateException if the run keeps no records and has no sink to stream them to
     */
    public GuestRun build() {
      if (!keepRecords && extraSink == null) {
        throw new IllegalStateException("setKeepRecords(false) needs a sink: setSink");
      }
      return new GuestRun(this);
    }
  }

  /**
   * The parts of a trace whose size does not grow with the run (header, names, diagnostics, the end
   * with its losses), for a run that streams its records elsewhere.
   */
  private static final class SummarySink extends TraceSinks.Adapter {
    private final TraceData.Builder summary;

    SummarySink(TraceData.Builder summary) {
      this.summary = summary;
    }

    @Override
    public void onHeader(dev.guesttrace.collect.TraceHeader header) {
      summary.onHeader(header);
    }

    @Override
    public void onDiagnostic(dev.guesttrace.collect.Diagnostic diagnostic) {
      summary.onDiagnostic(diagnostic);
    }

    @Override
    public void onFinish(dev.guesttrace.collect.TraceEnd end) {
      summary.onFinish(end);
    }
  }
}
