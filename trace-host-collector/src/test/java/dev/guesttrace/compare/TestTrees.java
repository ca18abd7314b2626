package dev.guesttrace.compare;

import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.util.List;
import java.util.SplittableRandom;

/** Span trees for the views' tests, built by hand with exact times. */
public final class TestTrees {
  private TestTrees() {}

  /** A guest span on vCPU 0 with the given children. */
  public static SpanNode span(String name, long startNanos, long endNanos, SpanNode... children) {
    return span(SpanKind.GUEST, 0, name, startNanos, endNanos, children);
  }

  /** A span of any kind on any vCPU with the given children. */
  public static SpanNode span(
      SpanKind kind, int vcpu, String name, long startNanos, long endNanos, SpanNode... children) {
    SpanNode node = new SpanNode(name, kind, vcpu, startNanos, endNanos, 0, 0);
    for (SpanNode child : children) {
      node.addChild(child);
    }
    return node;
  }

  /** Adds events to a span and returns it. */
  public static SpanNode withEvents(SpanNode node, SpanEvent... events) {
    for (SpanEvent event : events) {
      node.addEvent(event);
    }
    return node;
  }

  /** A summary of a run of {@code guest} on {@code host} at the given TSC rate. */
  public static RunSummary summary(String guest, String host, double ticksPerSecond) {
    return new RunSummary(
        guest,
        "emulated",
        1,
        host,
        "Test CPU @ 2.60GHz",
        "Linux 6.1.0",
        "amd64",
        "25",
        true,
        1_700_000_000_000_000_000L,
        ticksPerSecond,
        0.4,
        120,
        "halted");
  }

  /** A one-vCPU tree of {@code roots} for a run of {@code guest}. */
  public static TraceTree tree(RunSummary summary, SpanNode... roots) {
    return new TraceTree(summary, List.of(new TraceTree.VcpuTree(0, List.of(roots))));
  }

  /** A tree with one vCPU tree per argument. */
  public static TraceTree tree(RunSummary summary, TraceTree.VcpuTree... vcpus) {
    return new TraceTree(summary, List.of(vcpus));
  }

  /**
   * A run shaped like the fib sample guest: the host's run span, one guest call per {@code calls},
   * the guest's dispatch spans, a recursive fib({@code n}) whose every call costs about {@code
   * fibNanos} of self time, and a host call {@code print} at the end of each guest call.
   *
   * @param summary the run's summary
   * @param calls guest calls
   * @param n fib's argument
   * @param fibNanos self time of one fib call before jitter
   * @param jitter relative jitter of every duration, e.g. 0.02 for ±2 %
   * @param seed seed of the jitter
   */
  public static TraceTree fibRun(
      RunSummary summary, int calls, int n, long fibNanos, double jitter, long seed) {
    return fibRun(summary, calls, n, fibNanos, jitter, seed, 0);
  }

  /** {@link #fibRun}, with a host stall of {@code stallNanos} inside the first call's fib root. */
  public static TraceTree fibRun(
      RunSummary summary,
      int calls,
      int n,
      long fibNanos,
      double jitter,
      long seed,
      long stallNanos) {
    SplittableRandom random = new SplittableRandom(seed);
    long[] clock = {0};
    Jitter j =
        nanos -> Math.max(1, Math.round(nanos * (1 + jitter * (2 * random.nextDouble() - 1))));
    clock[0] += j.apply(40_000);
    SpanNode run = new SpanNode("run", SpanKind.HOST_RUN, 0, 0, 0, 0, 0);
    for (int c = 0; c < calls; c++) {
      SpanNode call =
          new SpanNode("guest_call fib", SpanKind.HOST_GUEST_CALL, 0, clock[0], 0, 0, 0);
      clock[0] += j.apply(3_000);
      SpanNode dispatch = new SpanNode("dispatch_function", SpanKind.GUEST, 0, clock[0], 0, 0, 0);
      clock[0] += j.apply(800);
      SpanNode internal =
          new SpanNode("internal_dispatch_function", SpanKind.GUEST, 0, clock[0], 0, 0, 0);
      clock[0] += j.apply(1_500);
      SpanNode callGuest =
          new SpanNode("call_guest_function", SpanKind.GUEST, 0, clock[0], 0, n, 0);
      callGuest.addEvent(
          new SpanEvent(clock[0], SpanEvent.Kind.MESSAGE, "Calling guest function", 0, 0));
      clock[0] += j.apply(300);
      callGuest.addEvent(new SpanEvent(clock[0], SpanEvent.Kind.ALLOC, "", 0x10_0000, 4096));
      callGuest.addChild(fib(n, clock, j, fibNanos, c == 0 ? stallNanos : 0));
      SpanNode print = new SpanNode("print", SpanKind.GUEST, 0, clock[0], 0, 0, 0);
      clock[0] += j.apply(500);
      SpanNode hostCall = new SpanNode("host print", SpanKind.HOST_CALL, 0, clock[0], 0, 0, 0);
      clock[0] += j.apply(30_000);
      hostCall.end(clock[0], false);
      print.addChild(hostCall);
      clock[0] += j.apply(200);
      print.end(clock[0], false);
      callGuest.addChild(print);
      callGuest.addEvent(new SpanEvent(clock[0], SpanEvent.Kind.FREE, "", 0x10_0000, 4096));
      clock[0] += j.apply(200);
      callGuest.end(clock[0], false);
      internal.addChild(callGuest);
      clock[0] += j.apply(700);
      internal.end(clock[0], false);
      dispatch.addChild(internal);
      clock[0] += j.apply(400);
      dispatch.end(clock[0], false);
      call.addChild(dispatch);
      clock[0] += j.apply(2_000);
      call.end(clock[0], false);
      run.addChild(call);
      clock[0] += j.apply(5_000);
    }
    run.end(clock[0], false);
    return tree(summary, run);
  }

  private interface Jitter {
    long apply(long nanos);
  }

  private static SpanNode fib(int n, long[] clock, Jitter j, long fibNanos, long stallNanos) {
    SpanNode node = new SpanNode("fib", SpanKind.GUEST, 0, clock[0], 0, n, 0);
    clock[0] += j.apply(fibNanos / 2) + stallNanos;
    if (n >= 2) {
      node.addChild(fib(n - 1, clock, j, fibNanos, 0));
      node.addChild(fib(n - 2, clock, j, fibNanos, 0));
    }
    clock[0] += j.apply(fibNanos - fibNanos / 2);
    node.end(clock[0], false);
    return node;
  }
}
