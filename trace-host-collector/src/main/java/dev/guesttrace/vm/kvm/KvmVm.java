package dev.guesttrace.vm.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.guesttrace.abi.BootInfoDescriptor;
import dev.guesttrace.abi.Register;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.VcpuState;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import dev.guesttrace.vm.kvm.Native.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntToLongFunction;

/**
 * A KVM virtual machine running one freestanding ELF64 guest on 1..N vCPUs, driven through {@code
 * /dev/kvm} with FFM downcalls (no JNI).
 *
 * <h2>Guest memory</h2>
 *
 * Two KVM memory slots. Guest RAM, {@code [0, memoryBytes)}, is what {@link #memory()} shows and
 * what the boot info describes ({@link dev.guesttrace.vm.GuestMemoryLayout#standard} works as is);
 * the guest's image and stacks live apart from it, in an image window at {@link #IMAGE_BASE}, so
 * that the heap the boot info hands the guest never overlaps its code.
 *
 * <pre>
 *  0x0000 .. 0x0FFF         unused
 *  0x1000 .. 0x1FFF         boot info (written by the run orchestration, read by the guest)
 *  0x2000 .. 0xFFFF         GDT (0x2000), PML4 (0x3000), PDPT (0x4000), page directories (0x5000..)
 *  0x10000 .. memoryBytes   call buffers and heap, as the boot info says
 *  IMAGE_BASE (0x70000000)  the ELF's PT_LOAD segments (link native guests here), then
 *                           {@link #STACK_BYTES} of stack per vCPU; vCPU i's stack is the i-th from
 *                           the top of the window
 * </pre>
 *
 * Page tables identity-map the first 2 GiB with 2 MiB pages; an access to an address no slot backs
 * ends the run as a fault ({@code guest read outside its memory: address=...}).
 *
 * <h2>Entry convention</h2>
 *
 * Both entries start at the ELF entry point in 64-bit mode with interrupts off, {@code RSP} at the
 * vCPU's stack top (16-byte aligned), {@code RFLAGS = 2}, and
 *
 * <ul>
 *   <li>{@code RDI} = entry kind: {@link #ENTRY_BOOT} (0) or {@link #ENTRY_DISPATCH} (1);
 *   <li>{@code RSI} = vCPU id.
 * </ul>
 *
 * Special registers (segments, CR0/CR3/CR4/EFER, GDT) are reset on every entry, so a guest that
 * faulted can be entered again. An entry ends with {@code HLT}.
 *
 * <h2>Exits</h2>
 *
 * {@code OUT} goes to the {@link ExitHandler} with the vCPU paused; registers are read with {@code
 * KVM_GET_REGS} on first use and written back with {@code KVM_SET_REGS} before the guest continues
 * only if the handler changed one. {@code IN} reads 0. HLT ends the run; MMIO (memory outside guest
 * RAM), shutdown (triple fault), entry failure and internal errors end it as {@link
 * RunOutcome.Faulted} with the registers. A run longer than the timeout is interrupted with a
 * signal to the vCPU's thread and {@code immediate_exit}, and reported as {@link
 * RunOutcome.TimedOut}.
 */
@SuppressWarnings("restricted") // views over mmapped guest memory and kvm_run
public final class KvmVm implements Vm {
  /** Stack bytes per vCPU, at the top of the image window. */
  public static final long STACK_BYTES = 64 * 1024;

  /** Guest address of the image window: native guests are linked here (small code model). */
  public static final long IMAGE_BASE = 0x7000_0000L;

  /** Largest guest image (all PT_LOAD segments, {@code .bss} included). */
  public static final long MAX_IMAGE_BYTES = 64L << 20;

  /** Most guest RAM: it must end below the image window. */
  public static final long MAX_MEMORY_BYTES = IMAGE_BASE;

  /** RDI at entry: boot. */
  public static final int ENTRY_BOOT = 0;

  /** RDI at entry: dispatch one guest call. */
  public static final int ENTRY_DISPATCH = 1;

  private static final long PAGE = 4096;

  private final Arena arena;
  private final long memoryBytes;
  private final long memoryAddress;
  private final MemorySegment memory;
  private final int kvmFd;
  private final int vmFd;
  private final Vcpu[] vcpus;
  private final long runMmapBytes;
  private final long entryPoint;
  private final long imageAddress;
  private final long imageBytes;
  private final Duration timeout;
  private final OptionalLong tscKhz;
  private final KvmTsc guestTsc;
  private final ScheduledExecutorService watchdog;
  private final AtomicBoolean closed = new AtomicBoolean();

  private KvmVm(Builder b) {
    this.arena = b.arena;
    this.memoryBytes = b.memoryBytes;
    this.memoryAddress = b.memoryAddress;
    this.memory = b.memory;
    this.kvmFd = b.kvmFd;
    this.vmFd = b.vmFd;
    this.vcpus = b.vcpus;
    this.runMmapBytes = b.runMmapBytes;
    this.entryPoint = b.entryPoint;
    this.imageAddress = b.imageAddress;
    this.imageBytes = b.imageBytes;
    this.timeout = b.timeout;
    this.tscKhz = b.tscKhz;
    this.guestTsc = b.guestTsc;
    ScheduledThreadPoolExecutor executor =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "kvm-watchdog");
              t.setDaemon(true);
              return t;
            });
    executor.setRemoveOnCancelPolicy(true);
    this.watchdog = executor;
  }

  /** Resources gathered while creating a VM, released together if any step fails. */
  private static final class Builder {
    Arena arena;
    long memoryBytes;
    long memoryAddress;
    MemorySegment memory;
    int kvmFd = -1;
    int vmFd = -1;
    Vcpu[] vcpus;
    long runMmapBytes;
    long entryPoint;
    long imageAddress;
    long imageBytes;
    Duration timeout;
    OptionalLong tscKhz = OptionalLong.empty();
    KvmTsc guestTsc;

    void release() {
      if (vcpus != null) {
        for (Vcpu v : vcpus) {
          if (v != null) {
            v.release(runMmapBytes);
          }
        }
      }
      if (arena != null) {
        arena.close();
      }
      Native.munmapQuietly(memoryAddress, memoryBytes);
      Native.munmapQuietly(imageAddress, imageBytes);
      Native.closeQuietly(vmFd);
      Native.closeQuietly(kvmFd);
    }
  }

  /**
   * Creates a VM with {@code config.memoryBytes()} of memory and {@code config.vcpus()} vCPUs in
   * long mode, with the ELF {@code elf} loaded.
   *
   * @throws VmException with a one-line reason; nothing is left open
   */
  static KvmVm create(VmConfig config, byte[] elf) throws VmException {
    long memoryBytes = config.memoryBytes();
    if (memoryBytes > MAX_MEMORY_BYTES || memoryBytes % PAGE != 0) {
      throw new VmException(
          "kvm guest memory must be a multiple of 4096 bytes up to "
              + MAX_MEMORY_BYTES
              + ": memoryBytes="
              + memoryBytes);
    }
    int vcpuCount = config.vcpus();
    ElfImage image;
    try {
      image = ElfImage.parse(elf, IMAGE_BASE, IMAGE_BASE + MAX_IMAGE_BYTES);
    } catch (ElfImage.ElfException e) {
      throw new VmException(e.getMessage(), e);
    }
    Builder b = new Builder();
    b.memoryBytes = memoryBytes;
    b.timeout = config.timeout();
    b.entryPoint = image.entry();
    long stacksStart = (image.end() + PAGE - 1) & -PAGE;
    b.imageBytes = stacksStart - IMAGE_BASE + vcpuCount * STACK_BYTES;
    try {
      b.arena = Arena.ofShared();
      b.kvmFd = Native.open("/dev/kvm", Native.O_RDWR | Native.O_CLOEXEC);
      int api = Native.ioctl(b.kvmFd, Kvm.GET_API_VERSION, 0, "KVM_GET_API_VERSION");
      if (api != Kvm.API_VERSION) {
        throw new VmException(
            "KVM API version not supported: expected " + Kvm.API_VERSION + ", found " + api);
      }
      b.vmFd = Native.ioctl(b.kvmFd, Kvm.CREATE_VM, 0, "KVM_CREATE_VM");
      b.runMmapBytes = Native.ioctl(b.kvmFd, Kvm.GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
      // Intel needs a TSS area outside guest RAM for real-mode emulation; AMD accepts and ignores
      // it.
      try {
        Native.ioctl(b.vmFd, Kvm.SET_TSS_ADDR, 0xFFFB_D000L, "KVM_SET_TSS_ADDR");
      } catch (NativeException ignored) {
        // Optional: only some hosts need it, and the long-mode guest never uses it.
      }
      b.memoryAddress =
          Native.mmap(
              memoryBytes,
              Native.PROT_READ | Native.PROT_WRITE,
              Native.MAP_PRIVATE | Native.MAP_ANONYMOUS | Native.MAP_NORESERVE,
              -1,
              "mmap guest memory");
      b.memory = MemorySegment.ofAddress(b.memoryAddress).reinterpret(memoryBytes, b.arena, null);
      b.imageAddress =
          Native.mmap(
              b.imageBytes,
              Native.PROT_READ | Native.PROT_WRITE,
              Native.MAP_PRIVATE | Native.MAP_ANONYMOUS | Native.MAP_NORESERVE,
              -1,
              "mmap guest image");
      MemorySegment imageWindow =
          MemorySegment.ofAddress(b.imageAddress).reinterpret(b.imageBytes, b.arena, null);
      registerSlot(b, 0, 0, memoryBytes, b.memoryAddress);
      registerSlot(b, 1, IMAGE_BASE, b.imageBytes, b.imageAddress);
      LongMode.writeTables(b.memory);
      image.load(elf, imageWindow, IMAGE_BASE);
      MemorySegment cpuid = supportedCpuid(b.kvmFd, b.arena);
      b.vcpus = new Vcpu[vcpuCount];
      for (int i = 0; i < vcpuCount; i++) {
        b.vcpus[i] = new Vcpu(i, IMAGE_BASE + b.imageBytes - i * STACK_BYTES);
        Vcpu v = b.vcpus[i];
        v.fd = Native.ioctl(b.vmFd, Kvm.CREATE_VCPU, i, "KVM_CREATE_VCPU");
        v.runAddress =
            Native.mmap(
                b.runMmapBytes,
                Native.PROT_READ | Native.PROT_WRITE,
                Native.MAP_SHARED,
                v.fd,
                "mmap kvm_run");
        v.run = MemorySegment.ofAddress(v.runAddress).reinterpret(b.runMmapBytes, b.arena, null);
        v.regs = b.arena.allocate(Kvm.REGS_SIZE, 8);
        v.sregs = b.arena.allocate(Kvm.SREGS_SIZE, 8);
        v.memory = b.memory;
        Native.ioctl(v.fd, Kvm.SET_CPUID2, cpuid, "KVM_SET_CPUID2");
        Native.ioctl(v.fd, Kvm.GET_SREGS, v.sregs, "KVM_GET_SREGS");
        LongMode.setSpecialRegisters(v.sregs);
        Native.ioctl(v.fd, Kvm.SET_SREGS, v.sregs, "KVM_SET_SREGS");
      }
      int[] vcpuFds = new int[vcpuCount];
      for (int i = 0; i < vcpuCount; i++) {
        vcpuFds[i] = b.vcpus[i].fd;
      }
      // --tsc-ghz: KVM_SET_TSC_KHZ, or a one-line refusal (never ignored); then the host's reader.
      boolean scaled =
          config.tsc().ticksPerSecond() > 0
              && KvmTsc.applyRate(b.kvmFd, vcpuFds, config.tsc().ticksPerSecond());
      b.guestTsc = KvmTsc.create(vcpuFds, scaled, b.arena);
      try {
        int khz = Native.ioctl(b.vcpus[0].fd, Kvm.GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ");
        b.tscKhz = khz > 0 ? OptionalLong.of(khz) : OptionalLong.empty();
      } catch (NativeException e) {
        b.tscKhz = OptionalLong.empty();
      }
      Watchdog.ensureSignalHandler();
      return new KvmVm(b);
    } catch (NativeException e) {
      b.release();
      throw new VmException("kvm: " + e.getMessage(), e);
    } catch (VmException | RuntimeException | Error e) {
      b.release();
      throw e;
    }
  }

  private static void registerSlot(Builder b, int slot, long guestAddress, long bytes, long host)
      throws NativeException {
    MemorySegment region = b.arena.allocate(Kvm.MEMORY_REGION_SIZE, 8);
    region.set(JAVA_INT, 0, slot);
    region.set(JAVA_INT, 4, 0); // flags
    region.set(JAVA_LONG, 8, guestAddress);
    region.set(JAVA_LONG, 16, bytes);
    region.set(JAVA_LONG, 24, host);
    Native.ioctl(b.vmFd, Kvm.SET_USER_MEMORY_REGION, region, "KVM_SET_USER_MEMORY_REGION");
  }

  /** {@code KVM_GET_SUPPORTED_CPUID}, growing the buffer until the kernel's list fits. */
  private static MemorySegment supportedCpuid(int kvmFd, Arena arena) throws NativeException {
    for (int entries = 64; ; entries *= 2) {
      MemorySegment cpuid = arena.allocate(Kvm.CPUID2_HEADER + entries * Kvm.CPUID_ENTRY_SIZE, 8);
      cpuid.set(JAVA_INT, 0, entries);
      int result = Native.ioctlRaw(kvmFd, Kvm.GET_SUPPORTED_CPUID, cpuid);
      if (result >= 0) {
        return cpuid;
      }
      if (-result != Native.E2BIG || entries >= 4096) {
        throw new NativeException("KVM_GET_SUPPORTED_CPUID", -result);
      }
    }
  }

  @Override
  public String backendName() {
    return KvmBackend.NAME;
  }

  @Override
  public MemorySegment memory() {
    return memory;
  }

  @Override
  public int vcpuCount() {
    return vcpus.length;
  }

  @Override
  public OptionalLong tscKhz() {
    return tscKhz;
  }

  /**
   * The host's reader of a paused vCPU's guest TSC ({@link KvmTsc#readGuestTsc}), for calibration
   * pairs at every entry and exit.
   */
  public KvmTsc guestTsc() {
    return guestTsc;
  }

  /**
   * {@link KvmTsc#readGuestTsc}: host TSC plus the vCPU's offset (16 ns). Not when the vCPU's TSC
   * is scaled: that read is the TSC MSR through an ioctl (30-80 us), too dear at every entry and
   * exit; the guest's own TSC at its OUTs and KVM's stated rate calibrate then.
   */
  @Override
  public Optional<IntToLongFunction> guestTscReader() {
    if (guestTsc == null || guestTsc.readsMsr()) {
      return Optional.empty();
    }
    return Optional.of(guestTsc::readGuestTsc);
  }

  /** The guest's ELF entry point. */
  public long entryPoint() {
    return entryPoint;
  }

  @Override
  public RunOutcome run(int vcpuId, Entry entry, ExitHandler handler) {
    if (vcpuId < 0 || vcpuId >= vcpus.length) {
      throw new IllegalArgumentException(
          "vcpuId out of range: vcpuId=" + vcpuId + " vcpuCount=" + vcpus.length);
    }
    if (closed.get()) {
      throw new IllegalStateException("VM closed");
    }
    Vcpu v = vcpus[vcpuId];
    if (!v.busy.compareAndSet(false, true)) {
      throw new IllegalStateException("vCPU already running: vcpuId=" + vcpuId);
    }
    ScheduledFuture<?> alarm = null;
    try {
      v.enter(entryPoint, entry == Entry.BOOT ? ENTRY_BOOT : ENTRY_DISPATCH);
      v.beginRun();
      alarm = watchdog.schedule(v::interrupt, timeout.toNanos(), TimeUnit.NANOSECONDS);
      return v.loop(handler, timeout);
    } catch (NativeException e) {
      return new RunOutcome.Faulted("kvm: " + e.getMessage(), v.registersOrEmpty());
    } finally {
      v.endRun();
      if (alarm != null) {
        alarm.cancel(false);
      }
      v.busy.set(false);
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    watchdog.shutdownNow();
    for (Vcpu v : vcpus) {
      v.release(runMmapBytes);
    }
    // Closing the shared arena first invalidates every segment over guest memory and kvm_run, so
    // no stale MemorySegment can touch the pages once they are unmapped.
    arena.close();
    Native.munmapQuietly(memoryAddress, memoryBytes);
    Native.munmapQuietly(imageAddress, imageBytes);
    Native.closeQuietly(vmFd);
    Native.closeQuietly(kvmFd);
  }

  /** One vCPU: its fd, its kvm_run page, and the register cache an exit handler sees. */
  private static final class Vcpu implements VcpuState {
    final int id;
    final long stackTop;
    final AtomicBoolean busy = new AtomicBoolean();
    int fd = -1;
    long runAddress;
    MemorySegment run;
    MemorySegment regs;
    MemorySegment sregs;
    MemorySegment memory;
    private boolean regsLoaded;
    private boolean regsDirty;
    // Guarded by this: the watchdog may interrupt only the run that armed it.
    private long thread;
    private boolean running;
    private boolean timedOut;

    Vcpu(int id, long stackTop) {
      this.id = id;
      this.stackTop = stackTop;
    }

    void release(long runBytes) {
      Native.munmapQuietly(runAddress, runBytes);
      runAddress = 0;
      Native.closeQuietly(fd);
      fd = -1;
    }

    void enter(long entryPoint, int kind) throws NativeException {
      Native.ioctl(fd, Kvm.GET_SREGS, sregs, "KVM_GET_SREGS");
      LongMode.setSpecialRegisters(sregs);
      Native.ioctl(fd, Kvm.SET_SREGS, sregs, "KVM_SET_SREGS");
      regs.fill((byte) 0);
      regs.set(JAVA_LONG, Register.RIP.ordinal() * 8L, entryPoint);
      regs.set(JAVA_LONG, Register.RSP.ordinal() * 8L, stackTop);
      regs.set(JAVA_LONG, Register.RDI.ordinal() * 8L, kind);
      regs.set(JAVA_LONG, Register.RSI.ordinal() * 8L, id);
      regs.set(JAVA_LONG, Register.RFLAGS.ordinal() * 8L, 2);
      Native.ioctl(fd, Kvm.SET_REGS, regs, "KVM_SET_REGS");
      regsLoaded = true;
      regsDirty = false;
    }

    synchronized void beginRun() {
      thread = Native.pthreadSelf();
      running = true;
      timedOut = false;
      run.set(JAVA_BYTE, Kvm.RUN_IMMEDIATE_EXIT, (byte) 0);
    }

    synchronized void endRun() {
      running = false;
      run.set(JAVA_BYTE, Kvm.RUN_IMMEDIATE_EXIT, (byte) 0);
    }

    /** Called by the watchdog: stop this run if it is still the one that armed the alarm. */
    synchronized void interrupt() {
      if (!running) {
        return;
      }
      timedOut = true;
      // immediate_exit covers the window where the thread is between two KVM_RUNs; the signal
      // kicks it out of a KVM_RUN in progress (KVM returns EINTR).
      run.set(JAVA_BYTE, Kvm.RUN_IMMEDIATE_EXIT, (byte) 1);
      Native.pthreadKill(thread, Watchdog.signal());
    }

    private synchronized boolean timedOut() {
      return timedOut;
    }

    RunOutcome loop(ExitHandler handler, Duration timeout) throws NativeException {
      while (true) {
        handler.onEntry(this);
        if (regsDirty) {
          Native.ioctl(fd, Kvm.SET_REGS, regs, "KVM_SET_REGS");
          regsDirty = false;
        }
        int result = Native.ioctlRaw(fd, Kvm.RUN, MemorySegment.NULL);
        regsLoaded = false;
        if (result < 0) {
          int errno = -result;
          if (errno == Native.EINTR || errno == Native.EAGAIN) {
            if (timedOut()) {
              return new RunOutcome.TimedOut(timeout, true);
            }
            continue;
          }
          return new RunOutcome.Faulted(
              "KVM_RUN failed: " + Native.strerror(errno), registersOrEmpty());
        }
        int reason = run.get(JAVA_INT, Kvm.RUN_EXIT_REASON);
        switch (reason) {
          case Kvm.EXIT_IO -> {
            if (io(handler) == ExitHandler.ExitAction.STOP) {
              return new RunOutcome.Stopped();
            }
          }
          case Kvm.EXIT_HLT -> {
            return new RunOutcome.Halted();
          }
          case Kvm.EXIT_INTR -> {
            if (timedOut()) {
              return new RunOutcome.TimedOut(timeout, true);
            }
          }
          case Kvm.EXIT_MMIO -> {
            long address = run.get(JAVA_LONG, Kvm.RUN_MMIO_PHYS_ADDR);
            int length = run.get(JAVA_INT, Kvm.RUN_MMIO_LEN);
            boolean write = run.get(JAVA_BYTE, Kvm.RUN_MMIO_IS_WRITE) != 0;
            return new RunOutcome.Faulted(
                String.format(
                    "guest %s outside its memory: address=0x%x length=%d",
                    write ? "wrote" : "read", address, length),
                registersOrEmpty());
          }
          case Kvm.EXIT_SHUTDOWN -> {
            long[] registers = registersOrEmpty();
            // A C guest that refused the boot info faults on purpose, saying why in registers.
            String refusal =
                registers.length == 0
                    ? null
                    : BootInfoDescriptor.refusal(
                            registers[Register.RAX.ordinal()],
                            registers[Register.RBX.ordinal()],
                            registers[Register.RCX.ordinal()],
                            registers[Register.RDX.ordinal()])
                        .orElse(null);
            return new RunOutcome.Faulted(
                refusal != null
                    ? refusal
                    : "guest triple fault (KVM_EXIT_SHUTDOWN): an exception with no handler",
                registers);
          }
          case Kvm.EXIT_FAIL_ENTRY -> {
            long code = run.get(JAVA_LONG, Kvm.RUN_FAIL_ENTRY_REASON);
            return new RunOutcome.Faulted(
                String.format("vCPU entry failed: hardware_entry_failure_reason=0x%x", code),
                registersOrEmpty());
          }
          case Kvm.EXIT_INTERNAL_ERROR -> {
            int suberror = run.get(JAVA_INT, Kvm.RUN_INTERNAL_SUBERROR);
            long[] registers = registersOrEmpty();
            String where =
                registers.length == 0
                    ? ""
                    : String.format(" at rip=0x%x", registers[Register.RIP.ordinal()]);
            return new RunOutcome.Faulted(
                "KVM internal error: suberror="
                    + suberror
                    + (suberror == 1 ? " (instruction emulation failed)" : "")
                    + where,
                registers);
          }
          default -> {
            return new RunOutcome.Faulted(
                "unexpected KVM exit: exit_reason=" + reason, registersOrEmpty());
          }
        }
      }
    }

    private ExitHandler.ExitAction io(ExitHandler handler) {
      int direction = run.get(JAVA_BYTE, Kvm.RUN_IO_DIRECTION);
      int size = run.get(JAVA_BYTE, Kvm.RUN_IO_SIZE);
      int port = run.get(JAVA_SHORT, Kvm.RUN_IO_PORT) & 0xFFFF;
      int count = run.get(JAVA_INT, Kvm.RUN_IO_COUNT);
      long dataOffset = run.get(JAVA_LONG, Kvm.RUN_IO_DATA_OFFSET);
      long bytes = (long) size * count;
      if (size < 1
          || size > 4
          || count < 1
          || dataOffset < 0
          || dataOffset + bytes > run.byteSize()) {
        // KVM fills these itself; a value out of range means a kernel we do not understand.
        return ExitHandler.ExitAction.RESUME;
      }
      if (direction == Kvm.IO_DIRECTION_OUT) {
        int value =
            switch (size) {
              case 1 -> run.get(JAVA_BYTE, dataOffset) & 0xFF;
              case 2 -> run.get(JAVA_SHORT, dataOffset) & 0xFFFF;
              default -> run.get(JAVA_INT, dataOffset);
            };
        return handler.onOut(this, port, value);
      }
      run.asSlice(dataOffset, bytes).fill((byte) 0);
      return ExitHandler.ExitAction.RESUME;
    }

    long[] registersOrEmpty() {
      try {
        loadRegisters();
        long[] values = new long[Register.COUNT];
        for (int i = 0; i < values.length; i++) {
          values[i] = regs.get(JAVA_LONG, i * 8L);
        }
        return values;
      } catch (RuntimeException e) {
        return new long[0];
      }
    }

    private void loadRegisters() {
      if (!regsLoaded) {
        try {
          Native.ioctl(fd, Kvm.GET_REGS, regs, "KVM_GET_REGS");
        } catch (NativeException e) {
          throw new IllegalStateException("kvm: " + e.getMessage(), e);
        }
        regsLoaded = true;
      }
    }

    @Override
    public int vcpuId() {
      return id;
    }

    @Override
    public long register(Register register) {
      loadRegisters();
      return regs.get(JAVA_LONG, register.ordinal() * 8L);
    }

    @Override
    public void register(Register register, long value) {
      loadRegisters();
      regs.set(JAVA_LONG, register.ordinal() * 8L, value);
      regsDirty = true;
    }

    @Override
    public MemorySegment memory() {
      return memory;
    }
  }
}
