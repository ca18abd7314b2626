package dev.guesttrace.vm.calls;

import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.CallCodec.CallFormatException;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.Register;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.PortHandler;
import dev.guesttrace.vm.VcpuState;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The host side of a guest's host call ({@link dev.guesttrace.abi.ExitPorts#HOST_CALL}): decodes
 * the call from the vCPU's output buffer, runs the registered {@link HostFunction}, and writes the
 * result into the vCPU's input buffer, where the guest reads it after its OUT returns.
 *
 * <p>The call comes from an untrusted guest. A malformed call, an unknown function, a function that
 * throws or a result that does not fit the buffer never reaches the host as an exception: the guest
 * resumes with a nonzero status in {@code RAX} ({@link #STATUS_UNKNOWN_FUNCTION} .. {@link
 * #STATUS_RESULT_TOO_LARGE}) and the string {@code "error: <reason>"} in its input buffer, so an
 * error is never mistaken for a result; the error is counted ({@link #errorCount()}). On success
 * {@code RAX} is {@link #STATUS_OK} (0, which is also what the OUT left there: a guest written
 * before the status reads a result either way). The guest always resumes.
 *
 * <p>Buffer addresses come from the host's own copy of the boot info, never from guest memory.
 */
public final class HostCallHandler implements PortHandler {
  /** Function name reported to listeners when the call could not be decoded. */
  public static final String MALFORMED = "<malformed>";

  /** Prefix of the string a failed host call returns to the guest. */
  public static final String ERROR_PREFIX = "error: ";

  /** Host call status in RAX: the input buffer holds the function's result. */
  public static final int STATUS_OK = 0;

  /** Host call status: no host function of that name. */
  public static final int STATUS_UNKNOWN_FUNCTION = 1;

  /** Host call status: the call in the output buffer could not be decoded (or no buffers). */
  public static final int STATUS_MALFORMED = 2;

  /** Host call status: the function refused its arguments or failed. */
  public static final int STATUS_FAILED = 3;

  /** Host call status: the result does not fit the call buffer. */
  public static final int STATUS_RESULT_TOO_LARGE = 4;

  private final BootInfo boot;
  private final HostFunctions functions;
  private final List<HostCallListener> listeners = new CopyOnWriteArrayList<>();
  private final AtomicLong calls = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private volatile String firstError;

  /**
   * Creates the handler.
   *
   * @param boot the boot info the host wrote (buffer addresses and length)
   * @param functions the functions guests may call
   */
  public HostCallHandler(BootInfo boot, HostFunctions functions) {
    this.boot = Objects.requireNonNull(boot, "boot");
    this.functions = Objects.requireNonNull(functions, "functions");
  }

  /**
   * Adds a listener told about every host call (name, host start and end ns, vCPU).
   *
   * @return this
   */
  public HostCallHandler addListener(HostCallListener listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
    return this;
  }

  @Override
  public ExitAction handle(VcpuState vcpu, int value) {
    long start = System.nanoTime();
    int vcpuId = vcpu.vcpuId();
    MemorySegment memory = vcpu.memory();
    calls.incrementAndGet();
    String name = MALFORMED;
    String error = "";
    int status = STATUS_OK;
    Object result = null;
    if (vcpuId < 0 || vcpuId >= boot.vcpuCount()) {
      error = "vCPU has no call buffers: vcpuId=" + vcpuId;
      status = STATUS_MALFORMED;
    } else {
      try {
        FunctionCall call =
            CallCodec.readCall(memory, boot.outputBuffer(vcpuId), boot.callBufferLength());
        name = call.name();
        Optional<HostFunction> function = functions.find(name);
        if (function.isEmpty()) {
          error = "unknown host function: " + name;
          status = STATUS_UNKNOWN_FUNCTION;
        } else {
          result = function.get().call(call);
        }
      } catch (CallFormatException e) {
        error = "malformed host call: " + e.getMessage();
        status = STATUS_MALFORMED;
      } catch (RuntimeException e) {
        error = "host function " + name + " failed: " + oneLine(e);
        status = STATUS_FAILED;
      }
      String written =
          writeResult(memory, vcpuId, error.isEmpty() ? result : ERROR_PREFIX + error, error);
      if (status == STATUS_OK && !written.isEmpty()) {
        status = STATUS_RESULT_TOO_LARGE;
      }
      error = written;
    }
    if (status != STATUS_OK) {
      // Only an error writes RAX: the OUT left 0 there, and on KVM an unchanged register file
      // costs no KVM_SET_REGS.
      vcpu.register(Register.RAX, status);
    }
    if (!error.isEmpty()) {
      errors.incrementAndGet();
      if (firstError == null) {
        firstError = error;
      }
    }
    long end = System.nanoTime();
    for (HostCallListener listener : listeners) {
      listener.onHostCall(vcpuId, name, start, end, error);
    }
    return ExitAction.RESUME;
  }

  /** Writes the result; if it does not fit, writes an error instead. Returns the error, if any. */
  private String writeResult(MemorySegment memory, int vcpuId, Object result, String error) {
    long input = boot.inputBuffer(vcpuId);
    try {
      CallCodec.writeValue(memory, input, boot.callBufferLength(), result);
      return error;
    } catch (CallFormatException | IllegalArgumentException e) {
      String failed = "host call result not returnable: " + oneLine(e);
      CallCodec.writeValue(memory, input, boot.callBufferLength(), ERROR_PREFIX + failed);
      return failed;
    }
  }

  /** Host calls handled. */
  public long callCount() {
    return calls.get();
  }

  /** Host calls that failed (malformed, unknown function, function threw). */
  public long errorCount() {
    return errors.get();
  }

  /** The first host call error, one line, if any. */
  public Optional<String> firstError() {
    return Optional.ofNullable(firstError);
  }

  private static String oneLine(Throwable e) {
    String message = String.valueOf(e.getMessage());
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
