package dev.guesttrace.vm.calls;

import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.PortHandler;
import dev.guesttrace.vm.VcpuState;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The host side of {@link dev.guesttrace.abi.ExitPorts#LOG}: reads {@code u32 length} + UTF-8 from
 * the vCPU's output buffer (bounded, bad UTF-8 replaced and counted) and hands the line to a
 * listener. The guest always resumes.
 */
public final class LogHandler implements PortHandler {
  /** Receives guest log lines. */
  @FunctionalInterface
  public interface Listener {
    /**
     * A log line.
     *
     * @param vcpuId the vCPU that logged
     * @param level {@link dev.guesttrace.abi.ExitPorts#LOG_ERROR} .. {@code LOG_DEBUG}, or any
     *     value the guest chose
     * @param text the line
     */
    void onLog(int vcpuId, int level, String text);
  }

  private final BootInfo boot;
  private final Listener listener;
  private final AtomicLong lines = new AtomicLong();
  private final AtomicLong malformed = new AtomicLong();

  /** Creates the handler. */
  public LogHandler(BootInfo boot, Listener listener) {
    this.boot = Objects.requireNonNull(boot, "boot");
    this.listener = Objects.requireNonNull(listener, "listener");
  }

  @Override
  public ExitAction handle(VcpuState vcpu, int value) {
    lines.incrementAndGet();
    int vcpuId = vcpu.vcpuId();
    if (vcpuId < 0 || vcpuId >= boot.vcpuCount()) {
      malformed.incrementAndGet();
      return ExitAction.RESUME;
    }
    GuestText text =
        GuestText.read(vcpu.memory(), boot.outputBuffer(vcpuId), boot.callBufferLength());
    if (!text.problem().isEmpty()) {
      malformed.incrementAndGet();
    }
    listener.onLog(vcpuId, value, text.text());
    return ExitAction.RESUME;
  }

  /** Log exits handled. */
  public long lineCount() {
    return lines.get();
  }

  /** Log lines that were cut, not valid UTF-8, or from a vCPU without buffers. */
  public long malformedCount() {
    return malformed.get();
  }
}
