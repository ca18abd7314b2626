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
 * Expected output of `./guesttrace run hello --deterministic` (a stepped clock, so exact;
 * a plain run prints the same tree with real times):
 *
 *   [1µs      ] > [host] run hello
 *   [4µs      ]   > [host] trace register
 *   [5µs      ]   < [host] trace register 1µs
 *   [7µs      ]   > entrypoint
 *   [8µs      ]     > load_gdt
 *   [9µs      ]     < load_gdt 1µs
 *   [10µs     ]     > load_idt
 *   [11µs     ]       > init_idt
 *   [12µs     ]       < init_idt 1µs
 *   [13µs     ]     < load_idt 3µs
 *   [14µs     ]     > hyperlight_main
 *   [15µs     ]     < hyperlight_main 1µs
 *   [16µs     ]   < entrypoint 9µs
 *   [17µs     ]   > halt
 *   [19µs     ]     > [host] trace flush
 *   [20µs     ]     < [host] trace flush 1µs
 *   [22µs     ]   < halt 5µs
 *   [22µs     ]   > [host] PrintOutput
 *   [24µs     ]     > dispatch_function
 *   [25µs     ]       > internal_dispatch_function
 *   [26µs     ]         > try_pop_shared_input_data_into
 *   [27µs     ]           Start converting buffer
 *   [28µs     ]           Finish converting buffer
 *   [29µs     ]         < try_pop_shared_input_data_into 3µs
 *   [30µs     ]         > call_guest_function
 *   [31µs     ]           Calling guest function
 *   [32µs     ]           > call_host_function
 *   [33µs     ]             > call_host_function_without_returning_result
 *   [34µs     ]               > push_shared_output_data
 *   [35µs     ]                 Start copy of data
 *   [36µs     ]                 Finish copy of data
 *   [37µs     ]               < push_shared_output_data 3µs
 *   [38µs     ]               > out32
 *   [40µs     ]                 > [host] HostPrint
 *   [41µs     ]                 < [host] HostPrint 1µs
 *   [43µs     ]               < out32 5µs
 *   [44µs     ]             < call_host_function_without_returning_result 11µs
 *   [45µs     ]             > get_host_return_value
 *   [46µs     ]               > try_pop_shared_input_data_into
 *   [47µs     ]                 Start converting buffer
 *   [48µs     ]                 Finish converting buffer
 *   [49µs     ]               < try_pop_shared_input_data_into 3µs
 *   [50µs     ]             < get_host_return_value 5µs
 *   [51µs     ]           < call_host_function 19µs
 *   [52µs     ]         < call_guest_function 22µs
 *   [53µs     ]         > push_shared_output_data
 *   [54µs     ]           Start copy of data
 *   [55µs     ]           Finish copy of data
 *   [56µs     ]         < push_shared_output_data 3µs
 *   [57µs     ]       < internal_dispatch_function 32µs
 *   [58µs     ]     < dispatch_function 34µs
 *   [59µs     ]     > halt
 *   [61µs     ]       > [host] trace flush
 *   [62µs     ]       < [host] trace flush 1µs
 *   [64µs     ]     < halt 5µs
 *   [64µs     ]   < [host] PrintOutput 42µs
 *   [65µs     ] < [host] run hello 64µs
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
  public List<String> args() {
    return List.of(
        "slow=PrintOutput (PrintOutput spends slowMicros more)", "slowMicros=N (default 50)");
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
    try {
      return runtime.callHost("HostPrint", call.stringArg(0, ""));
    } catch (GuestRuntime.HostCallException e) {
      return e.getMessage(); // the host's error text, returned as the C twin returns it
    }
  }
}
