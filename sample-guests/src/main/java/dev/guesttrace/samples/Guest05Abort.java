package dev.guesttrace.samples;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.util.List;

/*
 * Guest 05: abort.
 *
 * What it shows: crash recovery. The guest works through "step" spans and then aborts in the
 * middle of one, the way a panic without a working tracer would: it exits on the abort port
 * (code 42, with a message) without flushing its ring. The records it wrote since its last flush
 * are still in guest memory; the host recovers them, closes the spans that never ended at the
 * abort, and reports the abort code and message. Nothing written is lost.
 *
 * How to run it:
 *
 *   ./guesttrace run abort                    # aborts in the first call, at step 7
 *   ./guesttrace run abort --arg step=3
 *   ./guesttrace run abort --arg at=boot      # aborts during boot instead
 *
 * Exit status 1: the guest aborted.
 *
 * Expected output of `./guesttrace run abort --deterministic --compact` (a stepped clock, so exact;
 * a plain run prints the same tree with real times):
 *
 *   [0µs      ] [host] run abort 65µs
 *   [3µs      ]   [host] trace register 1µs
 *   [6µs      ]   entrypoint 9µs
 *   [7µs      ]     load_gdt 1µs
 *   [9µs      ]     load_idt 3µs
 *   [10µs     ]       init_idt 1µs
 *   [13µs     ]     hyperlight_main 1µs
 *   [16µs     ]   halt 5µs
 *   [18µs     ]     [host] trace flush 1µs
 *   [21µs     ]   [host] Run 43µs
 *   [23µs     ]     dispatch_function 41µs (never ended)
 *   [24µs     ]       internal_dispatch_function 40µs (never ended)
 *   [25µs     ]         try_pop_shared_input_data_into 3µs
 *   [29µs     ]         call_guest_function 35µs (never ended)
 *   [31µs     ]           step ×7, total 21µs, min/median/max 3µs/3µs/3µs (1 span inside each)
 *   [59µs     ]           step 5µs (never ended)
 *   [60µs     ]             compute 1µs
 *   [64µs     ]             !! aborted on vCPU 0 code=42: deliberate abort in step 7
 */

/** Aborts midway with records still unflushed in its ring. */
public final class Guest05Abort implements GuestProgram {
  /** The guest function the host calls. */
  public static final String RUN = "Run";

  /** The abort code. */
  public static final int ABORT_CODE = 42;

  /** Steps in all; the guest aborts in step {@code --arg step} (default 7) before finishing. */
  public static final int STEPS = 10;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public Guest05Abort() {}

  @Override
  public String name() {
    return "abort";
  }

  @Override
  public String summary() {
    return "Aborts midway with records unflushed in its ring: the host recovers them";
  }

  @Override
  public List<String> args() {
    return List.of(
        "at=boot|call (where it aborts, default call)", "step=N (the step that aborts, default 7)");
  }

  @Override
  public FunctionCall defaultCall() {
    return new FunctionCall(RUN, List.of());
  }

  @Override
  public void main(GuestRuntime runtime) {
    if (runtime.arg("at", "call").equals("boot")) {
      steps(runtime);
    }
  }

  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    if (!call.name().equals(RUN)) {
      return Samples.unknownFunction(call.name());
    }
    steps(runtime);
    return null;
  }

  private static void steps(GuestRuntime runtime) {
    Tracer t = runtime.tracer();
    int step = t.name("step");
    int compute = t.name("compute");
    long abortAt = Samples.longArg(runtime, "step", 7, 0, STEPS - 1);
    for (int i = 0; i < STEPS; i++) {
      t.begin(step, i, 0);
      t.begin(compute);
      t.end(compute);
      if (i == abortAt) {
        t.message("step " + i + " failed: giving up");
        // No flush: the records of steps 0..i stay in the ring for the host to recover.
        runtime.abortWithoutFlush(ABORT_CODE, "deliberate abort in step " + i);
      }
      t.end(step);
    }
  }
}
