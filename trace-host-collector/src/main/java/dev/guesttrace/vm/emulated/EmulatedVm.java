package dev.guesttrace.vm.emulated;

import dev.guesttrace.guest.GuestImage;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.function.IntToLongFunction;

/**
 * An emulated micro-VM: guest memory in a shared {@link Arena}, one {@link EmulatedVcpu} (and host
 * thread) per vCPU, and the guest TSC.
 *
 * <p>Closing frees the memory even under an abandoned vCPU thread: a shared arena's close makes
 * every later access from any thread fail, so the thread dies on its next memory access.
 */
public final class EmulatedVm implements Vm {
  private final VmConfig config;
  private final String guestName;
  private final Arena arena;
  private final MemorySegment memory;
  private final GuestTsc tsc;
  private final EmulatedVcpu[] vcpus;
  private Watchdog watchdog;
  private boolean closed;

  EmulatedVm(VmConfig config, String guestName, GuestImage image) {
    this.config = config;
    this.guestName = guestName;
    this.tsc = GuestTsc.create(config.tsc());
    this.arena = Arena.ofShared();
    try {
      this.memory = GuestMemory.allocate(arena, config.memoryBytes());
    } catch (RuntimeException | OutOfMemoryError e) {
      arena.close();
      throw e;
    }
    this.vcpus = new EmulatedVcpu[config.vcpus()];
    for (int i = 0; i < vcpus.length; i++) {
      vcpus[i] = new EmulatedVcpu(i, memory, tsc, image, config.timeout());
    }
  }

  @Override
  public String backendName() {
    return EmulatedBackend.NAME;
  }

  @Override
  public MemorySegment memory() {
    return memory;
  }

  @Override
  public int vcpuCount() {
    return vcpus.length;
  }

  /** The configuration this VM was created with. */
  public VmConfig config() {
    return config;
  }

  /** The guest's name. */
  public String guestName() {
    return guestName;
  }

  /**
   * The guest TSC: for tests and the emulator's own reports ({@link GuestTsc#guestTicksAtNanoTime}
   * is the exact truth for the virtual source). The collector never sees it; the host reads a
   * paused vCPU's TSC through {@link #guestTscReader()}, as a hypervisor can.
   */
  public GuestTsc tsc() {
    return tsc;
  }

  /**
   * {@inheritDoc}
   *
   * <p>Here: called from the vCPU's driver thread ({@link #startDriver}) the guest runs on the
   * calling thread; from any other thread it runs on vCPU {@code vcpuId}'s own host thread, exit
   * handlers on that thread while this one waits. A {@link VmConfig#timeout()} of zero or less
   * means no limit.
   *
   * @throws IllegalStateException if the VM is closed or the vCPU is already running
   */
  @Override
  public RunOutcome run(int vcpuId, Entry entry, ExitHandler handler) {
    Objects.requireNonNull(entry, "entry");
    Objects.requireNonNull(handler, "handler");
    Objects.checkIndex(vcpuId, vcpus.length);
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("VM is closed: guest=" + guestName);
      }
    }
    return vcpus[vcpuId].run(entry, handler);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Here: the driver thread gets the vCPU thread's deep stack, and its runs of {@code vcpuId}
   * execute the guest on itself, with no thread hand-off (a guest call then costs no wake-up of
   * another thread, tens of µs on a virtualized host). One watchdog thread per VM stops such runs
   * at the timeout. Runs of {@code vcpuId} from other threads still go through the vCPU's own
   * thread.
   */
  @Override
  public Thread startDriver(
      int vcpuId, String name, Runnable body, Consumer<RunOutcome.TimedOut> onAbandoned) {
    Objects.checkIndex(vcpuId, vcpus.length);
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(body, "body");
    Objects.requireNonNull(onAbandoned, "onAbandoned");
    Thread driver =
        Thread.ofPlatform()
            .daemon()
            .name(name)
            .stackSize(EmulatedVcpu.STACK_BYTES)
            .unstarted(
                () -> {
                  try {
                    body.run();
                  } catch (EmulatedVcpu.AbandonedRun e) {
                    // The run was abandoned and reported through onAbandoned: nothing left to do.
                  }
                });
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("VM is closed: guest=" + guestName);
      }
      adopt(vcpuId, driver, onAbandoned);
    }
    driver.start();
    return driver;
  }

  /**
   * Makes the calling thread vCPU {@code vcpuId}'s driver, as {@link #startDriver} makes its own
   * thread: from now on its runs of {@code vcpuId} execute the guest on it. For a caller that
   * cannot choose its thread (a benchmark harness); its stack must be as deep as the guest needs
   * (the vCPU threads reserve 64 MiB). An abandoned run reports through {@code onAbandoned} and
   * then throws an {@link Error} to the caller.
   */
  public void adoptCurrentThread(int vcpuId, Consumer<RunOutcome.TimedOut> onAbandoned) {
    Objects.checkIndex(vcpuId, vcpus.length);
    Objects.requireNonNull(onAbandoned, "onAbandoned");
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("VM is closed: guest=" + guestName);
      }
      adopt(vcpuId, Thread.currentThread(), onAbandoned);
    }
  }

  private void adopt(int vcpuId, Thread driver, Consumer<RunOutcome.TimedOut> onAbandoned) {
    if (watchdog == null && config.timeout().isPositive()) {
      watchdog = new Watchdog(guestName, vcpus, config.timeout());
    }
    vcpus[vcpuId].adopt(driver, watchdog, onAbandoned);
  }

  /**
   * Empty: like a hypervisor that does not report its TSC rate, so the collector has to calibrate
   * (and the scaled rate stays a secret it must find).
   */
  @Override
  public OptionalLong tscKhz() {
    return OptionalLong.empty();
  }

  /** {@link GuestTsc#read}: what the guest would read now. */
  @Override
  public Optional<IntToLongFunction> guestTscReader() {
    return Optional.of(tsc::read);
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    for (EmulatedVcpu vcpu : vcpus) {
      vcpu.shutdown();
    }
    Watchdog w;
    synchronized (this) {
      w = watchdog;
    }
    if (w != null) {
      w.close();
    }
    try {
      arena.close();
    } catch (IllegalStateException e) {
      // Only if memory is pinned by a native call, which this backend never makes: leak it then.
    }
  }
}
