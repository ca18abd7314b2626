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
 *   [0µs      ] > [host] run hello
 *   [3µs      ]   > [host] trace register
 *   [4µs      ]   < [host] trace register 1µs
 *   [6µs      ]   > entrypoint
 *   [7µs      ]     > load_gdt
 *   [8µs      ]     < load_gdt 1µs
 *   [9µs      ]     > load_idt
 *   [10µs     ]       > init_idt
 *   [11µs     ]       < init_idt 1µs
 *   [12µs     ]     < load_idt 3µs
 *   [13µs     ]     > hyperlight_main
 *   [14µs     ]     < hyperlight_main 1µs
 *   [15µs     ]   < entrypoint 9µs
 *   [16µs     ]   > halt
 *   [18µs     ]     > [host] trace flush
 *   [19µs     ]     < [host] trace flush 1µs
 *   [21µs     ]   < halt 5µs
 *   [21µs     ]   > [host] PrintOutput
 *   [23µs     ]     > dispatch_function
 *   [24µs     ]       > internal_dispatch_function
 *   [25µs     ]         > try_pop_shared_input_data_into
 *   [26µs     ]           Start converting buffer
 *   [27µs     ]           Finish converting buffer
 *   [28µs     ]         < try_pop_shared_input_data_into 3µs
 *   [29µs     ]         > call_guest_function
 *   [30µs     ]           Calling guest function
 *   [31µs     ]           > call_host_function
 *   [32µs     ]             > call_host_function_without_returning_result
 *   [33µs     ]               > push_shared_output_data
 *   [34µs     ]                 Start copy of data
 *   [35µs     ]                 Finish copy of data
 *   [36µs     ]               < push_shared_output_data 3µs
 *   [37µs     ]               > out32
 *   [39µs     ]                 > [host] HostPrint
 *   [40µs     ]                 < [host] HostPrint 1µs
 *   [42µs     ]               < out32 5µs
 *   [43µs     ]             < call_host_function_without_returning_result 11µs
 *   [44µs     ]             > get_host_return_value
 *   [45µs     ]               > try_pop_shared_input_data_into
 *   [46µs     ]                 Start converting buffer
 *   [47µs     ]                 Finish converting buffer
 *   [48µs     ]               < try_pop_shared_input_data_into 3µs
 *   [49µs     ]             < get_host_return_value 5µs
 *   [50µs     ]           < call_host_function 19µs
 *   [51µs     ]         < call_guest_function 22µs
 *   [52µs     ]         > push_shared_output_data
 *   [53µs     ]           Start copy of data
 *   [54µs     ]           Finish copy of data
 *   [55µs     ]         < push_shared_output_data 3µs
 *   [56µs     ]       < internal_dispatch_function 32µs
 *   [57µs     ]     < dispatch_function 34µs
 *   [58µs     ]     > halt
 *   [60µs     ]       > [host] trace flush
 *   [61µs     ]       < [host] trace flush 1µs
 *   [63µs     ]     < halt 5µs
 *   [63µs     ]   < [host] PrintOutput 42µs
 *   [64µs     ] < [host] run hello 64µs
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
