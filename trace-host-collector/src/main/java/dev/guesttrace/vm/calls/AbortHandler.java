package dev.guesttrace.vm.calls;

import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.PortHandler;
import dev.guesttrace.vm.VcpuState;
import java.util.Objects;
import java.util.Optional;

/**
 * The host side of {@link dev.guesttrace.abi.ExitPorts#ABORT}: the abort code is the OUT value, the
 * message ({@code u32 length} + UTF-8, bounded) sits in the vCPU's output buffer. Tells a listener
 * and stops the run ({@link dev.guesttrace.vm.RunOutcome.Stopped}).
 */
public final class AbortHandler implements PortHandler {
  /**
   * A guest abort.
   *
   * @param vcpuId the vCPU that aborted
   * @param code the abort code
   * @param message the guest's message (cut to bounds, bad UTF-8 replaced)
   */
  public record Abort(int vcpuId, int code, String message) {}

  private final BootInfo boot;
  private final java.util.function.Consumer<Abort> listener;
  private volatile Abort first;

  /** Creates the handler; {@code listener} hears every abort. */
  public AbortHandler(BootInfo boot, java.util.function.Consumer<Abort> listener) {
    this.boot = Objects.requireNonNull(boot, "boot");
    this.listener = Objects.requireNonNull(listener, "listener");
  }

  @Override
  public ExitAction handle(VcpuState vcpu, int value) {
    int vcpuId = vcpu.vcpuId();
    String message = "";
    if (vcpuId >= 0 && vcpuId < boot.vcpuCount()) {
      message =
          GuestText.read(vcpu.memory(), boot.outputBuffer(vcpuId), boot.callBufferLength()).text();
    }
    Abort abort = new Abort(vcpuId, value, message);
    synchronized (this) {
      if (first == null) {
        first = abort;
      }
    }
    listener.accept(abort);
    return ExitAction.STOP;
  }

  /** The first abort of the VM, if any. */
  public Optional<Abort> firstAbort() {
    return Optional.ofNullable(first);
  }
}
