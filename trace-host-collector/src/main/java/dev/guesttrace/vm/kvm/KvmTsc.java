package dev.guesttrace.vm.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.guesttrace.vm.VmException;
import dev.guesttrace.vm.emulated.RdtscStub;
import dev.guesttrace.vm.kvm.Native.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.Optional;

/**
 * KVM's guest TSC from the host side: its rate ({@code KVM_GET_TSC_KHZ}, {@code KVM_SET_TSC_KHZ}
 * where the kernel can scale) and a paused vCPU's current value, for calibration pairs taken at
 * every VM entry and exit.
 *
 * <p>Reading: with no TSC scaling (the only case KVM offers without {@code KVM_CAP_TSC_CONTROL}) a
 * vCPU's guest TSC is the host TSC plus the vCPU's TSC offset, which KVM exposes as the {@code
 * KVM_VCPU_TSC_OFFSET} attribute. The offset is read once per vCPU (an ioctl: 30 to 80 µs under
 * nested virtualization, as dear as an exit), after which a read is one {@code rdtsc} (about 16
 * ns). The vCPU's {@code IA32_TSC} MSR through {@code KVM_GET_MSRS} gives the same value exactly
 * but costs that ioctl every time: it is kept for checking and for scaled vCPUs, whose scale KVM
 * does not expose.
 *
 * <p>Not thread-safe per vCPU: each vCPU's reads come from the thread that runs it.
 */
public final class KvmTsc {
  static final long CHECK_EXTENSION = 0xAE03L;
  static final int CAP_TSC_CONTROL = 60;
  static final long SET_TSC_KHZ = 0xAEA2L;
  static final long GET_MSRS = 0xC008AE88L;
  static final long GET_DEVICE_ATTR = 0x4018AEE2L;
  static final int MSR_IA32_TSC = 0x10;
  static final int VCPU_TSC_CTRL = 0;
  static final long VCPU_TSC_OFFSET = 0;

  /** Half a kHz: KVM states rates in whole kHz, so a request this close to the rate is the rate. */
  private static final double SAME_RATE_KHZ = 0.5;

  private final int[] vcpuFds;
  private final long[] offsets;
  private final boolean scaled;
  private final MemorySegment msrs;

  private KvmTsc(int[] vcpuFds, long[] offsets, boolean scaled, Arena arena) {
    this.vcpuFds = vcpuFds.clone();
    this.offsets = offsets;
    this.scaled = scaled;
    this.msrs = arena.allocate(8 + 16L * vcpuFds.length, 8);
  }

  /**
   * A reader for the vCPUs {@code vcpuFds} (index = vCPU id), created before they first run: reads
   * each vCPU's TSC offset once.
   *
   * @param scaled whether {@code KVM_SET_TSC_KHZ} scaled these vCPUs (reads then go through the
   *     MSR)
   * @param arena where the MSR buffer lives (the VM's)
   * @throws VmException if the offset cannot be read and the MSR cannot either
   */
  public static KvmTsc create(int[] vcpuFds, boolean scaled, Arena arena) throws VmException {
    long[] offsets = new long[vcpuFds.length];
    boolean viaMsr = scaled || !RdtscStub.available();
    KvmTsc tsc = new KvmTsc(vcpuFds, offsets, viaMsr, arena);
    try {
      if (!viaMsr) {
        MemorySegment attr = arena.allocate(24, 8);
        MemorySegment value = arena.allocate(8, 8);
        for (int v = 0; v < vcpuFds.length; v++) {
          attr.set(JAVA_INT, 0, 0); // flags
          attr.set(JAVA_INT, 4, VCPU_TSC_CTRL); // group
          attr.set(JAVA_LONG, 8, VCPU_TSC_OFFSET); // attr
          attr.set(JAVA_LONG, 16, value.address()); // addr
          Native.ioctl(
              vcpuFds[v], GET_DEVICE_ATTR, attr, "KVM_GET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET)");
          offsets[v] = value.get(JAVA_LONG, 0);
        }
      }
      tsc.msr(0);
    } catch (NativeException e) {
      throw new VmException("kvm: cannot read the guest TSC: " + e.getMessage(), e);
    }
    return tsc;
  }

  /**
   * vCPU {@code vcpu}'s guest TSC now (host TSC plus its offset; the MSR if scaled). Call with the
   * vCPU paused, on its thread.
   */
  public long readGuestTsc(int vcpu) {
    if (scaled) {
      try {
        return msr(vcpu);
      } catch (NativeException e) {
        throw new IllegalStateException("kvm: reading the guest TSC MSR failed: " + e.getMessage());
      }
    }
    return RdtscStub.rdtsc() + offsets[vcpu];
  }

  /**
   * vCPU {@code vcpu}'s {@code IA32_TSC} MSR through {@code KVM_GET_MSRS}: exact, one ioctl.
   *
   * @throws VmException if the ioctl fails
   */
  public long readGuestTscMsr(int vcpu) throws VmException {
    try {
      return msr(vcpu);
    } catch (NativeException e) {
      throw new VmException("kvm: reading the guest TSC MSR failed: " + e.getMessage(), e);
    }
  }

  private long msr(int vcpu) throws NativeException {
    msrs.set(JAVA_INT, 0, 1); // nmsrs
    msrs.set(JAVA_INT, 4, 0);
    msrs.set(JAVA_INT, 8, MSR_IA32_TSC);
    msrs.set(JAVA_INT, 12, 0);
    msrs.set(JAVA_LONG, 16, 0);
    int read = Native.ioctl(vcpuFds[vcpu], GET_MSRS, msrs, "KVM_GET_MSRS(IA32_TSC)");
    if (read != 1) {
      throw new NativeException("KVM_GET_MSRS(IA32_TSC) read " + read + " MSRs", 0);
    }
    return msrs.get(JAVA_LONG, 16);
  }

  /** vCPU {@code vcpu}'s TSC offset as read at creation (0 when reads go through the MSR). */
  public long offset(int vcpu) {
    return offsets[vcpu];
  }

  /** Whether reads go through the MSR ioctl rather than {@code rdtsc} plus the offset. */
  public boolean readsMsr() {
    return scaled;
  }

  /**
   * Presents {@code ticksPerSecond} to the vCPUs {@code vcpuFds} with {@code KVM_SET_TSC_KHZ}, or
   * leaves them as they are if that is already their rate (within KVM's kHz resolution).
   *
   * @return whether the vCPUs are now scaled
   * @throws VmException with the reason, one line, if the kernel cannot present the rate: no TSC
   *     scaling ({@code KVM_CAP_TSC_CONTROL} is 0, as under most nested virtualization) or the call
   *     failed. Never ignored: a request the host cannot honour stops the run.
   */
  public static boolean applyRate(int kvmFd, int[] vcpuFds, double ticksPerSecond)
      throws VmException {
    try {
      long current = Native.ioctl(vcpuFds[0], Kvm.GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ");
      double khz = ticksPerSecond / 1000;
      if (Math.abs(khz - current) <= SAME_RATE_KHZ) {
        return false;
      }
      long requested = Math.round(khz);
      if (Math.abs(khz - requested) > 1e-6 * khz) {
        throw new VmException(
            String.format(
                Locale.ROOT,
                "kvm: --tsc-ghz %s: KVM sets TSC rates in whole kHz, found %.3f kHz",
                ghz(ticksPerSecond),
                khz));
      }
      int control = Native.ioctl(kvmFd, CHECK_EXTENSION, CAP_TSC_CONTROL, "KVM_CHECK_EXTENSION");
      if (control <= 0) {
        throw new VmException(unsupported(ticksPerSecond, current));
      }
      for (int fd : vcpuFds) {
        Native.ioctl(fd, SET_TSC_KHZ, requested, "KVM_SET_TSC_KHZ");
        long now = Native.ioctl(fd, Kvm.GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ");
        if (now != requested) {
          throw new VmException(
              "kvm: KVM_SET_TSC_KHZ " + requested + " left the vCPU at " + now + " kHz");
        }
      }
      return true;
    } catch (NativeException e) {
      throw new VmException("kvm: --tsc-ghz " + ghz(ticksPerSecond) + ": " + e.getMessage(), e);
    }
  }

  /**
   * Why this host's KVM cannot present {@code ticksPerSecond}, one line; empty if it can (TSC
   * scaling available, or it is already the rate). Creates and closes a throwaway VM to ask.
   */
  public static Optional<String> rateUnavailableReason(double ticksPerSecond) {
    int kvm = -1;
    int vm = -1;
    int vcpu = -1;
    try {
      kvm = Native.open("/dev/kvm", Native.O_RDWR | Native.O_CLOEXEC);
      vm = Native.ioctl(kvm, Kvm.CREATE_VM, 0, "KVM_CREATE_VM");
      vcpu = Native.ioctl(vm, Kvm.CREATE_VCPU, 0, "KVM_CREATE_VCPU");
      long current = Native.ioctl(vcpu, Kvm.GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ");
      if (Math.abs(ticksPerSecond / 1000 - current) <= SAME_RATE_KHZ) {
        return Optional.empty();
      }
      int control = Native.ioctl(kvm, CHECK_EXTENSION, CAP_TSC_CONTROL, "KVM_CHECK_EXTENSION");
      return control > 0 ? Optional.empty() : Optional.of(unsupported(ticksPerSecond, current));
    } catch (NativeException e) {
      return Optional.of("kvm: cannot ask KVM about TSC rates: " + e.getMessage());
    } finally {
      Native.closeQuietly(vcpu);
      Native.closeQuietly(vm);
      Native.closeQuietly(kvm);
    }
  }

  private static String unsupported(double ticksPerSecond, long currentKhz) {
    return String.format(
        Locale.ROOT,
        "--tsc-ghz %s needs TSC scaling, which this host's KVM lacks (KVM_CAP_TSC_CONTROL is 0,"
            + " as under most nested virtualization); its guests' TSC runs at %.6f GHz",
        ghz(ticksPerSecond),
        currentKhz / 1e6);
  }

  private static String ghz(double ticksPerSecond) {
    return new java.math.BigDecimal(ticksPerSecond / 1e9)
        .round(new java.math.MathContext(10))
        .stripTrailingZeros()
        .toPlainString();
  }
}
