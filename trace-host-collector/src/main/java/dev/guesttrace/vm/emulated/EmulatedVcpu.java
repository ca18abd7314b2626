package dev.guesttrace.vm.emulated;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.GuestImage;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.VcpuState;
import dev.guesttrace.vm.Vm;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One emulated vCPU: a register file, the guest's view of the machine ({@link GuestCpu}) and a host
 * thread that runs guest code. Exits run the handler on that thread while the caller of {@link
 * #run} waits, so an exit costs no thread switch.
 *
 * <p>Which thread: the vCPU's driver ({@link #adopt}, e.g. {@code GuestRun}'s thread for this vCPU,
 * started with the same deep stack) runs the guest on itself, so a guest call costs no thread
 * hand-off; the VM's {@link Watchdog} enforces the timeout. Any other caller hands the run to a
 * dedicated thread of the vCPU and waits (spinning briefly, then sleeping): that thread is what
 * lets {@link #run} return after the timeout even from a guest that cannot be stopped.
 *
 * <p>Stopping a guest: the host sets a kill flag that every {@code rdtsc}, {@code out} and register
 * access checks (an opaque read, as cheap as a plain one but never hoisted out of a loop); the
 * guest then unwinds with {@link GuestExit#KILL}. A guest that touches none of them is abandoned
 * after a second timeout: its thread is a daemon and finds the memory gone at close.
 */
final class EmulatedVcpu implements GuestCpu {
  private static final VarHandle KILLED;

  static {
    try {
      KILLED = MethodHandles.lookup().findVarHandle(EmulatedVcpu.class, "killed", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Stack for deeply recursive guests (fib): reserved address space, committed on use. */
  static final long STACK_BYTES = 64L << 20;

  /**
   * How long the caller of {@link #run} and the idle vCPU thread spin before they sleep, ns (system
   * property {@code guesttrace.emulated.spinMicros}, default 50 µs; 0 sleeps at once). Waking a
   * sleeping thread on another core costs tens of µs on a virtualized host (an IPI, the idle core's
   * HLT exit), more than a short guest call: spinning keeps a call at a few µs.
   */
  static final long SPIN_NANOS = Long.getLong("guesttrace.emulated.spinMicros", 50) * 1000;

  /** Past this much of the spin, each round also yields (caller and vCPU may share a core). */
  private static final long YIELD_AFTER_NANOS = SPIN_NANOS / 5;

  private final int vcpuId;
  private final MemorySegment memory;
  private final GuestTsc tsc;

  /**
   * The guest reads the host's TSC ({@link GuestTsc#readsHardware}) plus this offset: held here, so
   * that a guest's read is one load less deep (about 1 ns of a 10 ns read, docs/performance.md,
   * "The TSC read").
   */
  private final boolean hardwareTsc;

  private final long tscOffsetTicks;
  private final GuestImage image;
  private final Duration timeout;
  private final long[] registers = new long[Register.COUNT];
  private final State state = new State();
  private final AtomicBoolean busy = new AtomicBoolean();

  /** The run handed to the vCPU thread and not yet taken by it. */
  private volatile Task pending;

  /** Whether the vCPU thread sleeps (or is about to) and must be woken for the next run. */
  private volatile boolean sleeping;

  private volatile boolean stopping;
  private volatile boolean killed;

  private ExitHandler handler;
  private Thread thread;
  private volatile boolean abandoned;

  /** The driver thread whose runs execute on itself ({@link #adopt}), or null. */
  private volatile Thread carrier;

  private Consumer<RunOutcome.TimedOut> onAbandoned;

  /** The run in progress on the carrier, watched by the VM's {@link Watchdog}; else null. */
  private volatile InlineRun inlineRun;

  private Watchdog watchdog;

  EmulatedVcpu(int vcpuId, MemorySegment memory, GuestTsc tsc, GuestImage image, Duration timeout) {
    this.vcpuId = vcpuId;
    this.memory = memory;
    this.tsc = tsc;
    this.hardwareTsc = tsc.readsHardware();
    this.tscOffsetTicks = tsc.offsetTicks(vcpuId);
    this.image = image;
    this.timeout = timeout;
  }

  // ---- GuestCpu: what guest code sees (vCPU thread only) ----

  @Override
  public int vcpuId() {
    return vcpuId;
  }

  @Override
  public MemorySegment memory() {
    return memory;
  }

  @Override
  public long rdtsc() {
    checkKilled();
    if (hardwareTsc) {
      return RdtscStub.rdtsc() + tscOffsetTicks; // what tsc.read returns, read from this object
    }
    return tsc.read(vcpuId);
  }

  @Override
  public long register(Register register) {
    checkKilled();
    return registers[register.ordinal()];
  }

  @Override
  public void register(Register register, long value) {
    checkKilled();
    registers[register.ordinal()] = value;
  }

  @Override
  public void out(int port, int value) {
    checkKilled();
    registers[Register.RAX.ordinal()] = Integer.toUnsignedLong(value);
    ExitAction action;
    try {
      action = handler.onOut(state, port & 0xFFFF, value);
      if (action != ExitAction.STOP) {
        handler.onEntry(state);
      }
    } catch (RuntimeException | Error e) {
      throw new HostFailure(port, e);
    }
    if (action == ExitAction.STOP) {
      throw GuestExit.STOP;
    }
    checkKilled();
  }

  @Override
  public void hlt() {
    throw GuestExit.HALT;
  }

  private void checkKilled() {
    if ((boolean) KILLED.getOpaque(this)) {
      throw GuestExit.KILL;
    }
  }

  // ---- host side ----

  /** Asks the guest to stop at its next TSC read, register access or OUT. */
  void kill() {
    killed = true;
  }

  RunOutcome run(Vm.Entry entry, ExitHandler exitHandler) {
    if (abandoned) {
      // Before the busy check: an abandoned run on the carrier never releases it.
      return abandonedOutcome();
    }
    if (!busy.compareAndSet(false, true)) {
      throw new IllegalStateException("vCPU is already running: vcpuId=" + vcpuId);
    }
    try {
      if (abandoned) {
        return abandonedOutcome();
      }
      killed = false;
      if (Thread.currentThread() == carrier) {
        return runInline(entry, exitHandler);
      }
      Task task = new Task(entry, exitHandler);
      startThread();
      // Publish, then wake the vCPU thread only if it went to sleep: while it spins (right after
      // its last run) the volatile write alone reaches it. Pairs with the re-check in take().
      pending = task;
      if (sleeping) {
        LockSupport.unpark(thread);
      }
      return await(task);
    } finally {
      busy.set(false);
    }
  }

  /**
   * Makes {@code driver} this vCPU's carrier: its runs execute the guest on itself, with no thread
   * hand-off; {@code watchdog} stops them at the timeout. If one does not stop, {@code onAbandoned}
   * gets its outcome (on the watchdog's thread) and the run never returns to its caller.
   */
  void adopt(Thread driver, Watchdog watchdog, Consumer<RunOutcome.TimedOut> onAbandoned) {
    this.watchdog = watchdog;
    this.onAbandoned = onAbandoned;
    this.carrier = driver;
  }

  private RunOutcome runInline(Vm.Entry entry, ExitHandler exitHandler) {
    InlineRun run = new InlineRun(System.nanoTime());
    inlineRun = run;
    if (watchdog != null) {
      watchdog.runStarted();
    }
    handler = exitHandler;
    RunOutcome outcome = null;
    RuntimeException failure = null;
    try {
      outcome = execute(entry);
    } catch (HostFailure e) {
      failure = hostFailure(e);
    } finally {
      handler = null;
    }
    if (!run.finish()) {
      // The watchdog gave up on this run and reported it: its caller must never see it end.
      inlineRun = null;
      throw AbandonedRun.INSTANCE;
    }
    inlineRun = null;
    if (failure != null) {
      throw failure;
    }
    return outcome;
  }

  /**
   * The watchdog's look at this vCPU: stops an inline run that ran past the timeout, abandons one
   * that did not stop within another timeout.
   *
   * @return whether an inline run is in progress
   */
  boolean watch(long nowNanos) {
    InlineRun run = inlineRun;
    if (run == null) {
      return false;
    }
    long timeoutNanos = timeout.toNanos();
    if (nowNanos - run.startNanos >= timeoutNanos && run.beginKill()) {
      killed = true;
      run.killed(nowNanos);
    } else if (run.state == InlineRun.KILLED
        && nowNanos - run.killNanos >= timeoutNanos
        && run.beginAbandon()) {
      abandoned = true;
      try {
        onAbandoned.accept(new RunOutcome.TimedOut(timeout, false));
      } finally {
        run.abandoned();
      }
    }
    return true;
  }

  /** Whether a run is in progress on the carrier. */
  boolean runningInline() {
    return inlineRun != null;
  }

  private RunOutcome abandonedOutcome() {
    return new RunOutcome.Faulted(
        "vCPU " + vcpuId + " was abandoned after a timeout and is still running",
        registers.clone());
  }

  private static RuntimeException hostFailure(HostFailure e) {
    return new IllegalStateException(
        "exit handler failed on port " + ExitPorts.name(e.port) + ": " + e.getCause(),
        e.getCause());
  }

  /**
   * Waits for {@code task}: spins for a while (a guest call is often shorter than waking a sleeping
   * thread), then sleeps until the timeout; then asks the guest to stop and waits as long again;
   * then abandons the vCPU.
   */
  private RunOutcome await(Task task) {
    boolean limited = timeout.isPositive();
    long timeoutNanos = limited ? timeout.toNanos() : Long.MAX_VALUE;
    if (spinUntilDone(task) || waitDone(task, timeoutNanos)) {
      return task.result();
    }
    kill();
    // Whatever it ends with once asked to stop (usually TimedOut, stopped=true).
    if (waitDone(task, limited ? timeoutNanos : 1_000_000_000L)) {
      return task.result();
    }
    abandoned = true;
    return new RunOutcome.TimedOut(timeout, false);
  }

  private static boolean spinUntilDone(Task task) {
    if (SPIN_NANOS <= 0) {
      return task.done;
    }
    long start = System.nanoTime();
    for (int i = 1; ; i++) {
      if (task.done) {
        return true;
      }
      if ((i & 63) == 0) {
        long spent = System.nanoTime() - start;
        if (spent > SPIN_NANOS) {
          return false;
        }
        if (spent > YIELD_AFTER_NANOS) {
          // Lets the vCPU thread run if it shares this core; returns at once if not.
          Thread.yield();
          continue;
        }
      }
      Thread.onSpinWait();
    }
  }

  /**
   * Sleeps until {@code task} is done or {@code nanos} have passed; an interrupt ends the wait at
   * once (the interrupt stays set).
   *
   * @return whether the task is done
   */
  private static boolean waitDone(Task task, long nanos) {
    if (task.done) {
      return true;
    }
    Thread me = Thread.currentThread();
    task.waiter = me;
    long deadline = System.nanoTime() + nanos;
    try {
      while (!task.done) {
        if (me.isInterrupted()) {
          return task.done;
        }
        if (nanos == Long.MAX_VALUE) {
          LockSupport.park(task);
          continue;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        LockSupport.parkNanos(task, left);
      }
      return true;
    } finally {
      task.waiter = null;
    }
  }

  private synchronized void startThread() {
    if (thread == null) {
      thread =
          Thread.ofPlatform()
              .daemon()
              .name("vcpu-" + vcpuId)
              .stackSize(STACK_BYTES)
              .unstarted(this::loop);
      thread.start();
    }
  }

  /** Stops the vCPU's thread once idle; a running guest is asked to stop first. */
  synchronized void shutdown() {
    kill();
    stopping = true;
    if (thread != null) {
      thread.interrupt();
      LockSupport.unpark(thread);
    }
  }

  private void loop() {
    while (true) {
      Task task = take();
      if (task == null) {
        return;
      }
      handler = task.handler;
      RunOutcome outcome = null;
      RuntimeException failure = null;
      try {
        outcome = execute(task.entry);
      } catch (HostFailure e) {
        failure = hostFailure(e);
      } catch (RuntimeException | Error e) {
        // Not the guest's (execute catches what guest code throws): the run loop itself failed.
        failure = new IllegalStateException("vCPU " + vcpuId + " failed: " + e, e);
      } finally {
        handler = null; // before the caller learns of the end: its next run may set it at once
      }
      task.complete(outcome, failure);
    }
  }

  /**
   * The next task, or null once the VM shuts down: spins first (the caller's next run usually
   * follows at once), then sleeps until {@link #run} wakes it.
   */
  private Task take() {
    long start = System.nanoTime();
    for (int i = 1; ; i++) {
      Task task = pending;
      if (task != null) {
        pending = null;
        return task;
      }
      if (stopping) {
        return null;
      }
      long spent = (i & 63) == 0 ? System.nanoTime() - start : 0;
      if (spent > SPIN_NANOS || SPIN_NANOS <= 0) {
        sleeping = true;
        // Re-check after announcing the sleep: run() publishes, then reads sleeping.
        if (pending == null && !stopping) {
          LockSupport.park(this);
        }
        sleeping = false;
        Thread.interrupted(); // shutdown's interrupt is seen through stopping
      } else if (spent > YIELD_AFTER_NANOS) {
        Thread.yield();
      } else {
        Thread.onSpinWait();
      }
    }
  }

  private RunOutcome execute(Vm.Entry entry) {
    try {
      try {
        handler.onEntry(state);
      } catch (RuntimeException e) {
        throw new HostFailure(-1, e);
      }
      if (entry == Vm.Entry.BOOT) {
        image.boot(this);
      } else {
        image.dispatch(this);
      }
      return faultOrTimeout("guest " + entryName(entry) + " returned without executing HLT");
    } catch (GuestExit exit) {
      if (exit == GuestExit.HALT) {
        return new RunOutcome.Halted();
      } else if (exit == GuestExit.STOP) {
        return new RunOutcome.Stopped();
      }
      return new RunOutcome.TimedOut(timeout, true);
    } catch (HostFailure e) {
      throw e;
    } catch (IndexOutOfBoundsException e) {
      return faultOrTimeout(outOfRange(e, memory.byteSize()));
    } catch (StackOverflowError e) {
      return faultOrTimeout("guest overflowed its stack");
    } catch (Throwable e) {
      return faultOrTimeout("guest faulted: " + e.getClass().getSimpleName() + ": " + oneLine(e));
    }
  }

  /** A guest that faults because it was being stopped (memory closed under it) timed out. */
  private RunOutcome faultOrTimeout(String reason) {
    if (killed) {
      return new RunOutcome.TimedOut(timeout, true);
    }
    return new RunOutcome.Faulted(reason, registers.clone());
  }

  private static final Pattern OUT_OF_BOUNDS =
      Pattern.compile("new offset = (-?\\d+); new length = (-?\\d+)");

  /**
   * The reason for an access outside guest memory, in guest terms: the JDK's message names the host
   * address of the segment, which says nothing to the user.
   */
  static String outOfRange(IndexOutOfBoundsException e, long memoryBytes) {
    String message = oneLine(e);
    Matcher m = OUT_OF_BOUNDS.matcher(message);
    if (m.find()) {
      return String.format(
          "guest accessed memory outside its range: address=0x%x length=%s memoryBytes=0x%x",
          Long.parseLong(m.group(1)), m.group(2), memoryBytes);
    }
    return "guest accessed memory outside its range: " + message;
  }

  private static String entryName(Vm.Entry entry) {
    return entry == Vm.Entry.BOOT ? "boot" : "dispatch";
  }

  private static String oneLine(Throwable e) {
    String message = String.valueOf(e.getMessage());
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }

  /** One run handed to the vCPU thread; its result is published by the volatile {@link #done}. */
  private static final class Task {
    final Vm.Entry entry;
    final ExitHandler handler;
    private RunOutcome outcome;
    private RuntimeException failure;
    volatile boolean done;

    /** The caller, once it sleeps; null while it spins. */
    volatile Thread waiter;

    Task(Vm.Entry entry, ExitHandler handler) {
      this.entry = entry;
      this.handler = handler;
    }

    void complete(RunOutcome outcome, RuntimeException failure) {
      this.outcome = outcome;
      this.failure = failure;
      done = true;
      Thread w = waiter;
      if (w != null) {
        LockSupport.unpark(w);
      }
    }

    /** The outcome, or the host failure rethrown; only once {@link #done}. */
    RunOutcome result() {
      if (failure != null) {
        throw failure;
      }
      return outcome;
    }
  }

  /**
   * One run on the carrier and its watchdog's state, moved by compare-and-set so that a run that
   * ends just as the watchdog acts is either stopped, abandoned or done, never two of them.
   */
  private static final class InlineRun {
    static final int RUNNING = 0;
    static final int KILLING = 1;
    static final int KILLED = 2;
    static final int ABANDONING = 3;
    static final int ABANDONED = 4;
    static final int DONE = 5;
    private static final VarHandle STATE;

    static {
      try {
        STATE = MethodHandles.lookup().findVarHandle(InlineRun.class, "state", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final long startNanos;
    volatile int state;
    volatile long killNanos;

    InlineRun(long startNanos) {
      this.startNanos = startNanos;
    }

    boolean beginKill() {
      return STATE.compareAndSet(this, RUNNING, KILLING);
    }

    void killed(long nowNanos) {
      killNanos = nowNanos;
      state = KILLED;
    }

    boolean beginAbandon() {
      return STATE.compareAndSet(this, KILLED, ABANDONING);
    }

    void abandoned() {
      state = ABANDONED;
    }

    /**
     * The guest returned: marks the run done and says so, or says that the watchdog abandoned it
     * (after waiting for its report to be made).
     */
    boolean finish() {
      while (true) {
        int s = state;
        switch (s) {
          case RUNNING, KILLED -> {
            if (STATE.compareAndSet(this, s, DONE)) {
              return true;
            }
          }
          case ABANDONED -> {
            return false;
          }
          default -> Thread.onSpinWait(); // the watchdog is between two states: a few µs at most
        }
      }
    }
  }

  /** Unwinds the carrier of an abandoned run: caught where the carrier thread starts. */
  static final class AbandonedRun extends Error {
    private static final long serialVersionUID = 1L;
    static final AbandonedRun INSTANCE = new AbandonedRun();

    private AbandonedRun() {
      super("vCPU run abandoned after a timeout", null, false, false);
    }
  }

  /** An exit handler threw: a host bug, reported to the caller of run, not blamed on the guest. */
  private static final class HostFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int port;

    HostFailure(int port, Throwable cause) {
      super(cause);
      this.port = port;
    }
  }

  /** The paused vCPU as an exit handler sees it: no kill checks, the host must not be unwound. */
  private final class State implements VcpuState {
    @Override
    public int vcpuId() {
      return vcpuId;
    }

    @Override
    public long register(Register register) {
      return registers[register.ordinal()];
    }

    @Override
    public void register(Register register, long value) {
      registers[register.ordinal()] = value;
    }

    @Override
    public MemorySegment memory() {
      return memory;
    }
  }
}
