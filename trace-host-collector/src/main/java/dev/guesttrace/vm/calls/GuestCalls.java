package dev.guesttrace.vm.calls;

import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.CallCodec.CallFormatException;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.RunOutcome;
import dev.guesttrace.vm.Vm;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Calls guest functions, Hyperlight style: the host writes the call into the vCPU's input buffer,
 * enters the guest's dispatch entry, and reads the return value the guest left in its output buffer
 * when it halted. The value is untrusted and validated ({@link CallCodec}).
 *
 * <pre>{@code
 * GuestCalls calls = new GuestCalls(vm, boot);
 * GuestCallResult r = calls.call(0, new FunctionCall("PrintOutput", List.of("Hello")), exits);
 * }</pre>
 */
public final class GuestCalls {
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Vm vm;
  private final BootInfo boot;

  /**
   * Creates the caller.
   *
   * @param vm the VM, booted
   * @param boot the boot info the host wrote into it
   */
  public GuestCalls(Vm vm, BootInfo boot) {
    this.vm = Objects.requireNonNull(vm, "vm");
    this.boot = Objects.requireNonNull(boot, "boot");
  }

  /**
   * Calls {@code call} on vCPU {@code vcpuId} and waits for it.
   *
   * @param handler handles the exits the guest takes during the call
   * @throws IllegalArgumentException if the call does not fit the input buffer
   */
  public GuestCallResult call(int vcpuId, FunctionCall call, ExitHandler handler) {
    Objects.requireNonNull(call, "call");
    Objects.checkIndex(vcpuId, boot.vcpuCount());
    MemorySegment memory = vm.memory();
    try {
      CallCodec.writeCall(memory, boot.inputBuffer(vcpuId), boot.callBufferLength(), call);
    } catch (CallFormatException e) {
      throw new IllegalArgumentException(
          "guest call does not fit the call buffer: function="
              + call.name()
              + " callBufferLength="
              + boot.callBufferLength(),
          e);
    }
    // An empty output buffer: a guest that halts without writing a value is caught, not misread.
    long output = boot.outputBuffer(vcpuId);
    memory.set(U32, output, 0);
    RunOutcome outcome = vm.run(vcpuId, Vm.Entry.DISPATCH, handler);
    if (!(outcome instanceof RunOutcome.Halted)) {
      return new GuestCallResult(outcome, null, describe(call.name(), outcome));
    }
    try {
      Object value = CallCodec.readValue(memory, output, boot.callBufferLength());
      return new GuestCallResult(outcome, value, "");
    } catch (CallFormatException e) {
      return new GuestCallResult(
          outcome,
          null,
          "guest call " + call.name() + " returned a malformed value: " + e.getMessage());
    }
  }

  private static String describe(String function, RunOutcome outcome) {
    return "guest call "
        + function
        + " did not complete: "
        + switch (outcome) {
          case RunOutcome.Stopped s -> "the guest aborted";
          case RunOutcome.Faulted f -> f.reason();
          case RunOutcome.TimedOut t ->
              "timed out after "
                  + t.timeout().toMillis()
                  + " ms"
                  + (t.stopped() ? "" : " (abandoned)");
          case RunOutcome.Halted h -> "halted";
        };
  }
}
