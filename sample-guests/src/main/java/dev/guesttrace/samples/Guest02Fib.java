package dev.guesttrace.samples;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.util.List;

/*
 * Guest 02: fib.
 *
 * What it shows: deep nesting and volume. Fib(n) computes the n-th Fibonacci number by naive
 * recursion with one "fib" span per call (arg0 = n): fib(20) is 21,891 calls, 43,782 records,
 * enough to wrap the default 64 KiB (2048-slot) ring about twenty times. In stream mode the guest
 * flushes each time the ring fills; in flight mode only the last 2048 records survive and the
 * host reports how many were overwritten.
 *
 * How to run it:
 *
 *   ./guesttrace run fib                      # n = 20
 *   ./guesttrace run fib --arg n=25           # 242,785 calls
 *   ./guesttrace run fib --mode flight
 *   ./guesttrace run fib --arg slow=fib       # the outermost fib spends 50 us more (compare)
 *
 * Expected output of `./guesttrace run fib --deterministic --arg n=3 --compact` (a stepped clock, so exact;
 * a plain run prints the same tree with real times):
 *
 *   [0µs      ] [host] run fib 54µs
 *   [3µs      ]   [host] trace register 1µs
 *   [6µs      ]   entrypoint 9µs
 *   [7µs      ]     load_gdt 1µs
 *   [9µs      ]     load_idt 3µs
 *   [10µs     ]       init_idt 1µs
 *   [13µs     ]     hyperlight_main 1µs
 *   [16µs     ]   halt 5µs
 *   [18µs     ]     [host] trace flush 1µs
 *   [21µs     ]   [host] Fib 32µs
 *   [23µs     ]     dispatch_function 24µs
 *   [24µs     ]       internal_dispatch_function 22µs
 *   [25µs     ]         try_pop_shared_input_data_into 3µs
 *   [29µs     ]         call_guest_function 12µs
 *   [31µs     ]           fib 9µs
 *   [32µs     ]             fib 5µs
 *   [33µs     ]               fib 1µs
 *   [35µs     ]               fib 1µs
 *   [38µs     ]             fib 1µs
 *   [42µs     ]         push_shared_output_data 3µs
 *   [48µs     ]     halt 5µs
 *   [50µs     ]       [host] trace flush 1µs
 */

/** Recursive Fibonacci with a span per call. */
public final class Guest02Fib implements GuestProgram {
  /** The guest function the host calls; optional argument: n. */
  public static final String FIB = "Fib";

  /** n when neither the call nor {@code --arg n} gives one. */
  public static final long DEFAULT_N = 20;

  /** Largest n accepted: fib(35) is already 30 million calls. */
  public static final long MAX_N = 35;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public Guest02Fib() {}

  @Override
  public String name() {
    return "fib";
  }

  @Override
  public String summary() {
    return "Recursive Fibonacci, a span per call: deep nesting, wraps the ring many times";
  }

  @Override
  public List<String> args() {
    return List.of(
        "n=N (Fib(n) when the call gives no n, default 20)",
        "slow=fib (each fib spends slowMicros more)",
        "slowMicros=N (default 50)");
  }

  @Override
  public FunctionCall defaultCall() {
    return new FunctionCall(FIB, List.of());
  }

  @Override
  public void main(GuestRuntime runtime) {}

  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    if (!call.name().equals(FIB)) {
      return Samples.unknownFunction(call.name());
    }
    long fallback = Samples.longArg(runtime, "n", DEFAULT_N, 0, MAX_N);
    long n = Math.max(0, Math.min(MAX_N, call.longArg(0, fallback)));
    Tracer tracer = runtime.tracer();
    int fib = tracer.name("fib");
    boolean slow = Samples.isSlow(runtime, "fib");
    tracer.begin(fib, n, 0);
    if (slow) {
      Samples.spin(runtime);
    }
    long result = n < 2 ? n : fib(tracer, fib, n - 1) + fib(tracer, fib, n - 2);
    tracer.end(fib);
    return result;
  }

  private static long fib(Tracer tracer, int nameId, long n) {
    tracer.begin(nameId, n, 0);
    long result = n < 2 ? n : fib(tracer, nameId, n - 1) + fib(tracer, nameId, n - 2);
    tracer.end(nameId);
    return result;
  }
}
