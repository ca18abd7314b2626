package dev.guesttrace.samples;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import java.util.List;

/*
 * Guest 01: hello.
 *
 * What it shows: the shape of every guest call, as Hyperlight traces it. The host calls the guest
 * function PrintOutput("Hello, World!"); the guest calls the host function HostPrint with the
 * text and returns what the host returned (the number of bytes printed). The guest library traces
 * its own plumbing: entrypoint (load_gdt, load_idt, hyperlight_main) and halt at boot, then per
 * call dispatch_function > internal_dispatch_function > try_pop_shared_input_data_into and
 * call_guest_function > call_host_function > push_shared_output_data, out32,
 * get_host_return_value, with messages such as "Calling guest function".
 *
 * How to run it:
 *
 *   ./guesttrace run hello
 *   ./guesttrace run hello --calls 3
 *   ./guesttrace run hello --arg slow=PrintOutput     # PrintOutput spends 50 us more (compare)
 *
 * Expected output:
 *
 *   ---- EXPECTED TREE: pasted by the lead once the renderer exists ----
 */

/** Hello, World: a guest call that calls the host back. */
public final class Guest01Hello implements GuestProgram {
  /** The guest function the host calls. */
  public static final String PRINT_OUTPUT = "PrintOutput";

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public Guest01Hello() {}

  @Override
  public String name() {
    return "hello";
  }

  @Override
  public String summary() {
    return "Hello, World: a guest call that calls the host back (the seed's trace shape)";
  }

  @Override
  public FunctionCall defaultCall() {
    return new FunctionCall(PRINT_OUTPUT, List.of("Hello, World!"));
  }

  @Override
  public void main(GuestRuntime runtime) {
    // Nothing to set up: hyperlight_main stays a leaf, as in the seed.
  }

  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    if (!call.name().equals(PRINT_OUTPUT)) {
      return Samples.unknownFunction(call.name());
    }
    if (Samples.isSlow(runtime, PRINT_OUTPUT)) {
      Samples.spin(runtime);
    }
    return runtime.callHost("HostPrint", call.stringArg(0, ""));
  }
}
