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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One emulated vCPU: a register file, the guest's view of the machine ({@link GuestCpu}) and a
 * dedicated host thread that runs guest code. Exits run the handler on that thread while the caller
 * of {@link #run} waits, so an exit costs no thread switch.
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
  private static final long STACK_BYTES = 64L << 20;

  private final int vcpuId;
  private final MemorySegment memory;
  private final GuestTsc tsc;
  private final GuestImage image;
  private final Duration timeout;
  private final long[] registers = new long[Register.COUNT];
  private final State state = new State();
  private final AtomicBoolean busy = new AtomicBoolean();
  private final SynchronousQueue<Task> tasks = new SynchronousQueue<>();

  private volatile boolean killed;

  private ExitHandler handler;
  private Thread thread;
  private volatile boolean abandoned;

  EmulatedVcpu(int vcpuId, MemorySegment memory, GuestTsc tsc, GuestImage image, Duration timeout) {
    this.vcpuId = vcpuId;
    this.memory = memory;
    this.tsc = tsc;
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
    if (!busy.compareAndSet(false, true)) {
      throw new IllegalStateException("vCPU is already running: vcpuId=" + vcpuId);
    }
    try {
      if (abandoned) {
        return new RunOutcome.Faulted(
            "vCPU " + vcpuId + " was abandoned after a timeout and is still running",
            registers.clone());
      }
      killed = false;
      Task task = new Task(entry, exitHandler);
      startThread();
      try {
        tasks.put(task);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return new RunOutcome.TimedOut(timeout, true);
      }
      return await(task);
    } finally {
      busy.set(false);
    }
  }

  private RunOutcome await(Task task) {
    boolean limited = timeout.isPositive();
    try {
      return limited
          ? task.outcome.get(timeout.toNanos(), TimeUnit.NANOSECONDS)
          : task.outcome.get();
    } catch (TimeoutException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      kill();
      try {
        // Whatever it ends with once asked to stop (usually TimedOut, stopped=true).
        return task.outcome.get(limited ? timeout.toNanos() : 1_000_000_000L, TimeUnit.NANOSECONDS);
      } catch (TimeoutException | InterruptedException again) {
        abandoned = true;
        return new RunOutcome.TimedOut(timeout, false);
      } catch (ExecutionException failed) {
        throw hostFailure(failed);
      }
    } catch (ExecutionException failed) {
      throw hostFailure(failed);
    }
  }

  private static RuntimeException hostFailure(ExecutionException failed) {
    Throwable cause = failed.getCause();
    return cause instanceof RuntimeException r
        ? r
        : new IllegalStateException(cause.getMessage(), cause);
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
    if (thread != null) {
      thread.interrupt();
    }
  }

  private void loop() {
    while (true) {
      Task task;
      try {
        task = tasks.take();
      } catch (InterruptedException e) {
        return;
      }
      handler = task.handler;
      try {
        task.outcome.complete(execute(task.entry));
      } catch (HostFailure e) {
        task.outcome.completeExceptionally(
            new IllegalStateException(
                "exit handler failed on port " + ExitPorts.name(e.port) + ": " + e.getCause(),
                e.getCause()));
      } finally {
        handler = null;
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

  private record Task(Vm.Entry entry, ExitHandler handler, CompletableFuture<RunOutcome> outcome) {
    Task(Vm.Entry entry, ExitHandler handler) {
      this(entry, handler, new CompletableFuture<>());
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
