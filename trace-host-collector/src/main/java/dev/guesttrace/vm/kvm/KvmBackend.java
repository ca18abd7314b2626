package dev.guesttrace.vm.kvm;

import dev.guesttrace.vm.Backend;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.Vm;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * The KVM backend: native ELF64 guests on real hardware virtualization, through {@code /dev/kvm}
 * and the FFM API. See {@link KvmVm} for guest memory, the entry convention and exits.
 *
 * <pre>{@code
 * Backend kvm = new KvmBackend();
 * if (kvm.unavailableReason().isEmpty()) {
 *   GuestSource.Elf hello = KvmGuests.find("hello").orElseThrow();
 *   try (KvmVm vm = (KvmVm) kvm.create(config, hello)) { ... }
 * }
 * }</pre>
 */
public final class KvmBackend implements Backend {
  /** The backend's name on the command line. */
  public static final String NAME = "kvm";

  private static final Path DEV_KVM = Path.of("/dev/kvm");

  private final Path device;

  /** Creates the backend; nothing is opened until {@link #create}. */
  public KvmBackend() {
    this(DEV_KVM);
  }

  /** A backend that checks {@code device} instead of {@code /dev/kvm} (tests). */
  KvmBackend(Path device) {
    this.device = device;
  }

  @Override
  public String name() {
    return NAME;
  }

  /** {@code EPERM} and {@code EACCES}: the device's mode or group keeps this user out. */
  private static final int EPERM = 1;

  private static final int EACCES = 13;

  /**
   * Why {@code device} did not open, in one line; for a permission error also what to do: the user
   * needs read and write access, usually through the device's group.
   */
  static String openFailure(Path device, int errno, String error) {
    String line = "cannot open " + device + ": " + error;
    if (errno != EPERM && errno != EACCES) {
      return line;
    }
    String group;
    try {
      group =
          Files.readAttributes(device, java.nio.file.attribute.PosixFileAttributes.class)
              .group()
              .getName();
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      group = null;
    }
    return line
        + " (this user needs read and write access to it: "
        + (group == null || group.equals("root")
            ? "ask the machine's administrator for it, often through a group 'kvm'"
            : "add the user to group '" + group + "' and log in again")
        + ")";
  }

  @Override
  public Optional<String> unavailableReason() {
    String os = System.getProperty("os.name", "?");
    String arch = System.getProperty("os.arch", "?");
    if (!os.toLowerCase(Locale.ROOT).startsWith("linux")
        || !(arch.equals("amd64") || arch.equals("x86_64"))) {
      return Optional.of("kvm needs x86-64 Linux: os=" + os + " arch=" + arch);
    }
    if (!Files.exists(device)) {
      return Optional.of("no " + device);
    }
    int fd = -1;
    try {
      fd = Native.open(device.toString(), Native.O_RDWR | Native.O_CLOEXEC);
      int api = Native.ioctl(fd, Kvm.GET_API_VERSION, 0, "KVM_GET_API_VERSION");
      if (api != Kvm.API_VERSION) {
        return Optional.of(
            "KVM API version not supported: expected " + Kvm.API_VERSION + ", found " + api);
      }
      return Optional.empty();
    } catch (Native.NativeException e) {
      return Optional.of(openFailure(device, e.errno, Native.strerror(e.errno)));
    } catch (LinkageError e) {
      return Optional.of("cannot call libc through the FFM API: " + e.getMessage());
    } finally {
      if (fd >= 0) {
        Native.closeQuietly(fd);
      }
    }
  }

  /**
   * Which KVM implementation this host runs, from {@code /sys/module}: {@code kvm_intel} or {@code
   * kvm_amd} (hardware virtualization) or {@code kvm_pvm} (PVM: shadow paging with the guest at CPL
   * 3; a guest that is not a PVM-enlightened kernel, as guesttrace's are not, runs in KVM's
   * instruction emulator, microseconds per instruction). Empty if none is loaded or it cannot be
   * told. Worth showing next to any timing taken on this backend.
   */
  public static Optional<String> hypervisorModule() {
    return hypervisorModule(Path.of("/sys/module"));
  }

  static Optional<String> hypervisorModule(Path sysModule) {
    for (String module : new String[] {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
      if (Files.isDirectory(sysModule.resolve(module))) {
        return Optional.of(module);
      }
    }
    return Optional.empty();
  }

  /**
   * Creates a VM running {@code guest}, which must be a {@link GuestSource.Elf}.
   *
   * @return a {@link KvmVm}
   */
  @Override
  public Vm create(VmConfig config, GuestSource guest) throws VmException {
    if (!(guest instanceof GuestSource.Elf elf)) {
      throw new VmException(
          "the kvm backend runs native ELF guests, not Java guests: guest=" + guest.name());
    }
    Optional<String> unavailable = unavailableReason();
    if (unavailable.isPresent()) {
      throw new VmException("kvm backend unavailable: " + unavailable.get());
    }
    byte[] bytes;
    try {
      long size = Files.size(elf.elf());
      if (size > ElfImage.MAX_FILE_BYTES) {
        throw new VmException(
            "guest binary too large: expected at most "
                + ElfImage.MAX_FILE_BYTES
                + " bytes, found "
                + size);
      }
      bytes = Files.readAllBytes(elf.elf());
    } catch (IOException e) {
      throw new VmException("cannot read guest binary " + elf.elf() + ": " + e.getMessage(), e);
    }
    return KvmVm.create(config, bytes);
  }
}
