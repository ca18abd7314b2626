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
   * <p>Here: the guest runs on vCPU {@code vcpuId}'s own host thread, exit handlers run on that
   * thread while this one waits. A {@link VmConfig#timeout()} of zero or less means no limit.
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
    try {
      arena.close();
    } catch (IllegalStateException e) {
      // Only if memory is pinned by a native call, which this backend never makes: leak it then.
    }
  }
}
