package dev.guesttrace.otel;

import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.util.ArrayList;
import java.util.List;

/** Span trees built by hand, with the outline each must come back as. */
final class TestTrees {
  private TestTrees() {}

  /** 2025-11-13T02:13:20.000000123Z: ns precision shows when a backend truncates. */
  static final long EPOCH_NANOS = 1_763_000_000_000_000_123L;

  static RunSummary summary(String guest, int vcpus, String outcome) {
    return summary(guest, vcpus, outcome, EPOCH_NANOS);
  }

  static RunSummary summary(String guest, int vcpus, String outcome, long epochNanos) {
    return new RunSummary(
        guest,
        "emulated",
        vcpus,
        "testhost",
        "Test CPU @ 3.00GHz",
        "Linux 6.1.0",
        "x86_64",
        "OpenJDK 25",
        true,
        epochNanos,
        3.0e9,
        1.5,
        40,
        outcome);
  }

  /**
   * Two vCPUs; on vCPU 0 a guest call with nested guest spans, a host call inside the guest span
   * that made it, a message, an alloc/free pair and a counter; on vCPU 1 a span the guest never
   * ended.
   */
  static TraceTree twoVcpus() {
    return twoVcpus(EPOCH_NANOS);
  }

  /** {@link #twoVcpus()} for a run that started at {@code epochNanos}. */
  static TraceTree twoVcpus(long epochNanos) {
    SpanNode run0 = node("vcpu 0", SpanKind.HOST_RUN, 0, 0, 1_000_000);
    SpanNode call = node("guest call main", SpanKind.HOST_GUEST_CALL, 0, 10_000, 900_000);
    SpanNode main = new SpanNode("main", SpanKind.GUEST, 0, 12_345, 899_999, 7, 9);
    main.addEvent(new SpanEvent(13_000, SpanEvent.Kind.MESSAGE, "hello from the guest", 0, 0));
    SpanNode parse = node("parse", SpanKind.GUEST, 0, 20_001, 50_002);
    parse.addEvent(new SpanEvent(21_000, SpanEvent.Kind.ALLOC, "", 0x1000, 64));
    parse.addEvent(new SpanEvent(49_000, SpanEvent.Kind.FREE, "", 0x1000, 64));
    SpanNode print = node("host_print", SpanKind.HOST_CALL, 0, 60_000, 70_500);
    SpanNode compute = node("compute", SpanKind.GUEST, 0, 80_000, 800_000);
    compute.addEvent(new SpanEvent(700_000, SpanEvent.Kind.COUNTER, "iterations", 0, 42));
    SpanNode inner = node("inner", SpanKind.GUEST, 0, 90_000, 95_000);
    run0.addChild(call);
    call.addChild(main);
    main.addChild(parse);
    main.addChild(print);
    main.addChild(compute);
    compute.addChild(inner);

    SpanNode run1 = node("vcpu 1", SpanKind.HOST_RUN, 1, 5_000, 700_000);
    SpanNode worker = node("worker", SpanKind.GUEST, 1, 6_000, 0);
    worker.end(690_000, true);
    run1.addChild(worker);
    return new TraceTree(
        summary("guest02-nested", 2, "halted", epochNanos),
        List.of(
            new TraceTree.VcpuTree(0, List.of(run0)), new TraceTree.VcpuTree(1, List.of(run1))));
  }

  /** The outline {@link #twoVcpus()} must come back as: name [start offset ns +duration ns]. */
  static final String TWO_VCPUS_OUTLINE =
      """
      run guest02-nested (2 vCPUs) [0 +1000000]
        vcpu 0 [0 +1000000]
          guest call main [10000 +890000]
            main [12345 +887654]
              parse [20001 +30001]
              host_print [60000 +10500]
              compute [80000 +720000]
                inner [90000 +5000]
        vcpu 1 [5000 +695000]
          worker [6000 +684000]
      """;

  /**
   * A wide, deep tree of {@code calls} guest calls, each with {@code depth} nested spans and one
   * message at the innermost level, on one vCPU: 1 + calls * (1 + depth) spans (the host run span
   * is the trace's root).
   */
  static TraceTree large(int calls, int depth) {
    return large(calls, depth, EPOCH_NANOS);
  }

  /** {@link #large(int, int)} for a run that started at {@code epochNanos}. */
  static TraceTree large(int calls, int depth, long epochNanos) {
    SpanNode run = node("vcpu 0", SpanKind.HOST_RUN, 0, 0, (long) calls * 1_000 + 1_000);
    for (int c = 0; c < calls; c++) {
      long start = (long) c * 1_000 + 10;
      SpanNode call = node("guest call", SpanKind.HOST_GUEST_CALL, 0, start, start + 900);
      run.addChild(call);
      SpanNode parent = call;
      for (int d = 0; d < depth; d++) {
        SpanNode span = node("f" + d, SpanKind.GUEST, 0, start + 1 + d, start + 800 - d);
        parent.addChild(span);
        parent = span;
      }
      parent.addEvent(new SpanEvent(start + 400, SpanEvent.Kind.MESSAGE, "tick " + c, 0, 0));
    }
    return new TraceTree(
        summary("large", 1, "halted", epochNanos),
        List.of(new TraceTree.VcpuTree(0, List.of(run))));
  }

  static SpanNode node(String name, SpanKind kind, int vcpu, long start, long end) {
    return new SpanNode(name, kind, vcpu, start, end, 0, 0);
  }

  /**
   * The outline of a tree as the exporter must reproduce it, computed from the tree itself (for
   * trees too large to write out): the synthetic run span when there is more than one top-level
   * span, then every node, children in start order.
   */
  static String outline(TraceTree tree) {
    List<SpanNode> tops = new ArrayList<>();
    tree.vcpus().forEach(v -> tops.addAll(v.roots()));
    if (tops.size() == 1) {
      StringBuilder out = new StringBuilder();
      appendNode(out, tops.getFirst(), 0);
      return out.toString();
    }
    long start = Long.MAX_VALUE;
    long end = Long.MIN_VALUE;
    List<SpanNode> roots = new ArrayList<>();
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      for (SpanNode root : vcpu.roots()) {
        roots.add(root);
        start = Math.min(start, root.startNanos());
        end = Math.max(end, root.endNanos());
      }
    }
    StringBuilder out = new StringBuilder();
    out.append("run ")
        .append(tree.summary().guest())
        .append(" (")
        .append(tree.summary().vcpuCount())
        .append(tree.summary().vcpuCount() == 1 ? " vCPU)" : " vCPUs)")
        .append(" [")
        .append(start)
        .append(" +")
        .append(end - start)
        .append("]\n");
    List<SpanNode> sorted = new ArrayList<>(roots);
    sorted.sort(Outline.NODE_ORDER);
    for (SpanNode root : sorted) {
      appendNode(out, root, 1);
    }
    return out.toString();
  }

  private static void appendNode(StringBuilder out, SpanNode node, int level) {
    // Iterative would be needed for very deep trees; the test trees stay shallow.
    out.append("  ".repeat(level))
        .append(node.name())
        .append(" [")
        .append(node.startNanos())
        .append(" +")
        .append(node.durationNanos())
        .append("]\n");
    List<SpanNode> children = new ArrayList<>(node.children());
    children.sort(Outline.NODE_ORDER);
    for (SpanNode child : children) {
      appendNode(out, child, level + 1);
    }
  }
}
