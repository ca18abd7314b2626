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
 *   [5µs      ]   > entrypoint
 *   [6µs      ]     > load_gdt
 *   [7µs      ]     < load_gdt 1µs
 *   [8µs      ]     > load_idt
 *   [9µs      ]       > init_idt
 *   [10µs     ]       < init_idt 1µs
 *   [11µs     ]     < load_idt 3µs
 *   [12µs     ]     > hyperlight_main
 *   [13µs     ]     < hyperlight_main 1µs
 *   [14µs     ]   < entrypoint 9µs
 *   [15µs     ]   > halt
 *   [18µs     ]   < halt 3µs
 *   [18µs     ]   > [host] PrintOutput
 *   [20µs     ]     > dispatch_function
 *   [21µs     ]       > internal_dispatch_function
 *   [22µs     ]         > try_pop_shared_input_data_into
 *   [23µs     ]           Start converting buffer
 *   [24µs     ]           Finish converting buffer
 *   [25µs     ]         < try_pop_shared_input_data_into 3µs
 *   [26µs     ]         > call_guest_function
 *   [27µs     ]           Calling guest function
 *   [28µs     ]           > call_host_function
 *   [29µs     ]             > call_host_function_without_returning_result
 *   [30µs     ]               > push_shared_output_data
 *   [31µs     ]                 Start copy of data
 *   [32µs     ]                 Finish copy of data
 *   [33µs     ]               < push_shared_output_data 3µs
 *   [34µs     ]               > out32
 *   [36µs     ]                 > [host] HostPrint
 *   [37µs     ]                 < [host] HostPrint 1µs
 *   [39µs     ]               < out32 5µs
 *   [40µs     ]             < call_host_function_without_returning_result 11µs
 *   [41µs     ]             > get_host_return_value
 *   [42µs     ]               > try_pop_shared_input_data_into
 *   [43µs     ]                 Start converting buffer
 *   [44µs     ]                 Finish converting buffer
 *   [45µs     ]               < try_pop_shared_input_data_into 3µs
 *   [46µs     ]             < get_host_return_value 5µs
 *   [47µs     ]           < call_host_function 19µs
 *   [48µs     ]         < call_guest_function 22µs
 *   [49µs     ]         > push_shared_output_data
 *   [50µs     ]           Start copy of data
 *   [51µs     ]           Finish copy of data
 *   [52µs     ]         < push_shared_output_data 3µs
 *   [53µs     ]       < internal_dispatch_function 32µs
 *   [54µs     ]     < dispatch_function 34µs
 *   [55µs     ]     > halt
 *   [58µs     ]     < halt 3µs
 *   [58µs     ]   < [host] PrintOutput 40µs
 *   [59µs     ] < [host] run hello 58µs
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
