package dev.guesttrace.render;

import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-function statistics over every span of a trace, all vCPUs: count, total, self, and the
 * distribution of a single call (min, median, p99, max), sorted by total time.
 */
public final class StatsRenderer {
  private StatsRenderer() {}

  /**
   * Statistics of one function.
   *
   * @param name the span name ({@code [host] } prefix for host spans)
   * @param count calls
   * @param totalNanos sum of durations (nested recursive calls counted at every level)
   * @param selfNanos sum of self times
   * @param minNanos shortest call
   * @param medianNanos median call (nearest rank)
   * @param p99Nanos 99th percentile call (nearest rank)
   * @param maxNanos longest call
   */
  public record FunctionStats(
      String name,
      long count,
      long totalNanos,
      long selfNanos,
      long minNanos,
      long medianNanos,
      long p99Nanos,
      long maxNanos) {}

  /** Computes the statistics, sorted by total time, longest first, then by name. */
  public static List<FunctionStats> compute(TraceTree tree) {
    Map<String, Accumulator> byName = new LinkedHashMap<>();
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      for (SpanNode root : v.roots()) {
        collect(root, byName);
      }
    }
    List<FunctionStats> rows = new ArrayList<>();
    byName.forEach((name, acc) -> rows.add(acc.finish(name)));
    rows.sort(
        Comparator.comparingLong(FunctionStats::totalNanos)
            .reversed()
            .thenComparing(FunctionStats::name));
    return rows;
  }

  /** Writes the statistics as an aligned table. */
  public static void render(TraceTree tree, PrintWriter out) {
    List<FunctionStats> rows = compute(tree);
    int width = "function".length();
    for (FunctionStats r : rows) {
      width = Math.max(width, r.name().length());
    }
    String format = "%-" + width + "s %8s %10s %10s %10s %10s %10s %10s%n";
    out.printf(format, "function", "count", "total", "self", "min", "median", "p99", "max");
    for (FunctionStats r : rows) {
      out.printf(
          format,
          r.name(),
          r.count(),
          Durations.duration(r.totalNanos()),
          Durations.duration(r.selfNanos()),
          Durations.duration(r.minNanos()),
          Durations.duration(r.medianNanos()),
          Durations.duration(r.p99Nanos()),
          Durations.duration(r.maxNanos()));
    }
    out.flush();
  }

  private static void collect(SpanNode node, Map<String, Accumulator> byName) {
    String name = Printable.of(node.name());
    String key = node.kind().isHost() ? "[host] " + name : name;
    byName.computeIfAbsent(key, k -> new Accumulator()).add(node);
    for (SpanNode child : node.children()) {
      collect(child, byName);
    }
  }

  private static final class Accumulator {
    private long[] durations = new long[16];
    private int count;
    private long totalNanos;
    private long selfNanos;

    void add(SpanNode node) {
      if (count == durations.length) {
        durations = Arrays.copyOf(durations, count * 2);
      }
      durations[count++] = node.durationNanos();
      totalNanos += node.durationNanos();
      selfNanos += node.selfNanos();
    }

    FunctionStats finish(String name) {
      long[] sorted = Arrays.copyOf(durations, count);
      Arrays.sort(sorted);
      return new FunctionStats(
          name,
          count,
          totalNanos,
          selfNanos,
          sorted[0],
          rank(sorted, 0.5),
          rank(sorted, 0.99),
          sorted[count - 1]);
    }

    /**
     * Nearest-rank percentile: the smallest value with at least {@code q} of values at or below.
     */
    private static long rank(long[] sorted, double q) {
      int index = (int) Math.ceil(q * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
  }
}
