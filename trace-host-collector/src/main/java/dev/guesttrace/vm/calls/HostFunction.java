package dev.guesttrace.vm.calls;

import dev.guesttrace.abi.CallCodec.FunctionCall;

/** A function the guest can call on the host. */
@FunctionalInterface
public interface HostFunction {
  /**
   * Runs the call. The arguments come from the guest: check their types and ranges.
   *
   * @return a {@link Long}, a {@link String}, a {@code byte[]}, or {@code null} for void
   * @throws RuntimeException to fail the call: the guest gets an error value, the host goes on
   */
  Object call(FunctionCall call);
}
