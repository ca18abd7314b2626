package dev.guesttrace.vm.emulated;

import dev.guesttrace.vm.Backend;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import java.util.Objects;
import java.util.Optional;

/**
 * The emulated micro-VM backend: runs Java guests ({@link GuestSource.Java}) anywhere Java runs,
 * with real guest memory (off-heap), one host thread per vCPU, synchronous OUT exits, HLT, faults
 * for out-of-range memory access, timeouts, and a scaled and offset TSC.
 *
 * <pre>{@code
 * try (Vm vm = new EmulatedBackend().create(config, new GuestSource.Java("hello", image))) {
 *   bootInfo.write(vm.memory());
 *   RunOutcome outcome = vm.run(0, Vm.Entry.BOOT, dispatcher);
 * }
 * }</pre>
 */
public final class EmulatedBackend implements Backend {
  /** The backend's name on the command line. */
  public static final String NAME = "emulated";

  /** Creates the backend. */
  public EmulatedBackend() {}

  @Override
  public String name() {
    return NAME;
  }

  /** Always available. */
  @Override
  public Optional<String> unavailableReason() {
    return Optional.empty();
  }

  /**
   * Creates an emulated VM.
   *
   * @return an {@link EmulatedVm}
   * @throws VmException if the guest is not a Java guest, the TSC configuration cannot be
   *     presented, or the memory cannot be allocated
   */
  @Override
  public EmulatedVm create(VmConfig config, GuestSource guest) throws VmException {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(guest, "guest");
    if (!(guest instanceof GuestSource.Java java)) {
      throw new VmException(
          "the emulated backend runs Java guests, found a native binary: guest="
              + guest.name()
              + " (use --backend kvm)");
    }
    try {
      return new EmulatedVm(config, java.name(), java.image());
    } catch (IllegalArgumentException e) {
      throw new VmException(e.getMessage(), e);
    } catch (OutOfMemoryError e) {
      throw new VmException("cannot allocate guest memory: memoryBytes=" + config.memoryBytes(), e);
    }
  }
}
