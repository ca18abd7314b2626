package example;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.util.List;

/**
 * @NAME@: a Java guest (written by `guesttrace init java`; docs/guests.md explains it).
 *
 * <p>The guest library (GuestRuntime) boots the vCPU, sets up tracing, decodes each guest call and
 * traces its own plumbing (entrypoint, dispatch_function, ...); this class adds the guest's own
 * spans, messages, counters and allocations. It is found through
 * META-INF/services/dev.guesttrace.guest.GuestProgram.
 */
public final class @CLASS@ implements GuestProgram {
  private int work;
  private int step;
  private int items;

  /** Created by guesttrace (ServiceLoader). */
  public @CLASS@() {}

  @Override
  public String name() {
    return "@NAME@";
  }

  @Override
  public String summary() {
    return "a starter guest: Work(steps) sums squares in traced steps";
  }

  @Override
  public FunctionCall defaultCall() {
    return new FunctionCall("Work", List.of(3L));
  }

  /** At boot on each vCPU, inside the span hyperlight_main. */
  @Override
  public void main(GuestRuntime runtime) {
    Tracer t = runtime.tracer();
    work = t.name("work");
    step = t.name("step");
    items = t.name("items");
    runtime.log(ExitPorts.LOG_INFO, "@NAME@ booted");
  }

  /** One guest call, inside the span call_guest_function. */
  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    if (!call.name().equals("Work")) {
      return "error: unknown guest function: " + call.name();
    }
    // Work() is Work(1); anything but one integer 0..1000 is an error the host reports.
    long steps = call.longArg(0, 1);
    if (call.args().size() > 1
        || (call.args().size() == 1 && !(call.args().getFirst() instanceof Long))
        || steps < 0
        || steps > 1000) {
      return "error: Work expects one integer, 0..1000 steps";
    }
    Tracer t = runtime.tracer();
    long buffer = runtime.heapAddress(); // this vCPU's share of the guest heap
    long sum = 0;
    t.begin(work, steps, 0);
    for (long i = 1; i <= steps; i++) {
      t.begin(step);
      t.alloc(buffer, 4096);
      sum += i * i;
      t.counter(items, i);
      t.free(buffer, 4096);
      t.end(step);
    }
    t.message("work done");
    t.end(work);
    return sum;
  }
}
