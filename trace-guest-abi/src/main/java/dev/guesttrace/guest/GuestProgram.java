package dev.guesttrace.guest;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import java.util.List;

/**
 * A Java guest: the code a user writes, run by the guest library ({@link GuestRuntime}), which
 * provides tracing, guest calls and host calls. Sample guests implement this and are found through
 * {@link java.util.ServiceLoader}.
 */
public interface GuestProgram {
  /** Short name used on the command line, e.g. {@code hello}. */
  String name();

  /** One line saying what the guest shows. */
  String summary();

  /**
   * The {@code --arg key=value} arguments the guest reads, each as {@code key=WHAT (meaning)}, for
   * {@code guesttrace guests}; none by default. WHAT is {@code N} for an integer, or the words the
   * value may be, separated by {@code |}. When a guest declares any, {@code guesttrace run} refuses
   * (exit 2, before the guest starts) an {@code --arg} whose key is not declared or whose value
   * does not fit its WHAT; a guest that declares none is given whatever the user passes.
   */
  default List<String> args() {
    return List.of();
  }

  /** vCPUs the guest runs on unless {@code --vcpus} says otherwise. */
  default int defaultVcpus() {
    return 1;
  }

  /** The guest call the host makes, {@code --calls} times. */
  default FunctionCall defaultCall() {
    return new FunctionCall("main", List.of());
  }

  /** Runs at boot on each vCPU, inside the {@code entrypoint} span, once tracing is set up. */
  void main(GuestRuntime runtime);

  /**
   * Handles one guest call, inside {@code call_guest_function}.
   *
   * @return the value returned to the host: a {@link Long}, a {@link String}, a {@code byte[]}, or
   *     {@code null} for void
   */
  Object call(GuestRuntime runtime, FunctionCall call);
}
