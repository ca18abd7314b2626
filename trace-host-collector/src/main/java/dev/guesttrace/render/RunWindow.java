package dev.guesttrace.render;

import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;

/**
 * The span of time a run covers, as the views show it: time zero is the start of the earliest
 * top-level span of any vCPU (normally the host's run span), so that the first line of a tree reads
 * {@code [0µs]} whatever the host spent creating the VM before it. Every view measures from the
 * same zero, so a time in the tree, the JSON and a filtered view of one vCPU agree.
 *
 * @param originNanos the run's start on the tree's clock (ns since the trace's own start)
 * @param endNanos the run's end on the same clock: the latest end of a top-level span
 * @param vcpuNanos the sum over vCPUs of each vCPU's own top-level extent: what "% of run" in the
 *     statistics is a share of, so that work spread over several vCPUs never exceeds 100 %
 */
public record RunWindow(long originNanos, long endNanos, long vcpuNanos) {

  /** The window of every vCPU of {@code tree}; all zero for a tree without spans. */
  public static RunWindow of(TraceTree tree) {
    long origin = Long.MAX_VALUE;
    long end = Long.MIN_VALUE;
    long vcpuNanos = 0;
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      long vStart = Long.MAX_VALUE;
      long vEnd = Long.MIN_VALUE;
      for (SpanNode root : v.roots()) {
        vStart = Math.min(vStart, root.startNanos());
        vEnd = Math.max(vEnd, root.endNanos());
      }
      if (vStart <= vEnd) {
        vcpuNanos += vEnd - vStart;
        origin = Math.min(origin, vStart);
        end = Math.max(end, vEnd);
      }
    }
    return origin <= end ? new RunWindow(origin, end, vcpuNanos) : new RunWindow(0, 0, 0);
  }

  /** {@code endNanos - originNanos}. */
  public long durationNanos() {
    return endNanos - originNanos;
  }

  /** The extent of one vCPU's top-level spans, 0 if it has none or no such vCPU exists. */
  public static long vcpuDurationNanos(TraceTree tree, int vcpu) {
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      if (v.vcpu() == vcpu && !v.roots().isEmpty()) {
        long start = Long.MAX_VALUE;
        long end = Long.MIN_VALUE;
        for (SpanNode root : v.roots()) {
          start = Math.min(start, root.startNanos());
          end = Math.max(end, root.endNanos());
        }
        return Math.max(0, end - start);
      }
    }
    return 0;
  }
}
