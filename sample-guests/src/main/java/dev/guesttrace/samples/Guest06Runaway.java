package dev.guesttrace.samples;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.util.List;

/*
 * Guest 06: runaway.
 *
 * What it shows: a guest that never halts. Its call loops forever doing "spin" spans with a
 * "tick" inside. In stream mode it still exits each time its ring fills (so the host keeps
 * receiving records); in flight mode it never exits at all. Either way the host stops it at
 * --timeout (within twice the timeout, even if the guest ignored the stop request), reports the
 * timeout, and shows what the guest did until then.
 *
 * How to run it:
 *
 *   ./guesttrace run runaway --timeout 1s
 *   ./guesttrace run runaway --timeout 1s --mode flight
 *   ./guesttrace run runaway --arg at=boot    # runs away during boot instead
 *
 * Exit status 1: the guest timed out.
 *
 * Expected output of `./guesttrace run runaway --timeout 200ms`, first 16 lines (times vary;
 * the test compares the shape):
 *
 *   [36.303ms ] > [host] run runaway
 *   [64.234ms ]   > entrypoint
 *   [64.845ms ]     > load_gdt
 *   [64.857ms ]     < load_gdt 11.65µs
 *   [64.865ms ]     > load_idt
 *   [64.871ms ]       > init_idt
 *   [64.877ms ]       < init_idt 6.105µs
 *   [64.884ms ]     < load_idt 18.9µs
 *   [64.889ms ]     > hyperlight_main
 *   [64.917ms ]     < hyperlight_main 27.3µs
 *   [64.923ms ]   < entrypoint 688.2µs
 *   [64.929ms ]   > halt
 *   [66.012ms ]   < halt 1.083ms
 *   [72.616ms ]   > [host] Spin
 *   [76.69ms  ]     > dispatch_function
 *   [76.721ms ]       > internal_dispatch_function
 */

/** Never halts: the timeout must stop it. */
public final class Guest06Runaway implements GuestProgram {
  /** The guest function the host calls. */
  public static final String SPIN = "Spin";

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public Guest06Runaway() {}

  @Override
  public String name() {
    return "runaway";
  }

  @Override
  public String summary() {
    return "Never halts: loops doing spans until the host stops it at --timeout";
  }

  @Override
  public FunctionCall defaultCall() {
    return new FunctionCall(SPIN, List.of());
  }

  @Override
  public void main(GuestRuntime runtime) {
    if (runtime.arg("at", "call").equals("boot")) {
      spin(runtime);
    }
  }

  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    if (!call.name().equals(SPIN)) {
      return Samples.unknownFunction(call.name());
    }
    spin(runtime);
    return null;
  }

  private static void spin(GuestRuntime runtime) {
    Tracer t = runtime.tracer();
    int spin = t.name("spin");
    int tick = t.name("tick");
    long i = 0;
    while (true) {
      t.begin(spin, i++, 0);
      t.begin(tick);
      t.end(tick);
      t.end(spin);
    }
  }
}
