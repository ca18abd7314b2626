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
 *   [0ms      ] > [host] run runaway
 *   [16.238ms ]   > [host] trace register
 *   [38.763ms ]   < [host] trace register 22.53ms
 *   [39.236ms ]   > entrypoint
 *   [39.71ms  ]     > load_gdt
 *   [39.72ms  ]     < load_gdt 10.67µs
 *   [39.726ms ]     > load_idt
 *   [39.732ms ]       > init_idt
 *   [39.737ms ]       < init_idt 5.002µs
 *   [39.742ms ]     < load_idt 15.6µs
 *   [39.747ms ]     > hyperlight_main
 *   [39.768ms ]     < hyperlight_main 21.4µs
 *   [39.773ms ]   < entrypoint 537.3µs
 *   [39.779ms ]   > halt
 *   [39.797ms ]     > [host] trace flush
 *   [40.642ms ]     < [host] trace flush 844.1µs
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
  public List<String> args() {
    return List.of("at=boot|call (where it spins, default call)");
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
