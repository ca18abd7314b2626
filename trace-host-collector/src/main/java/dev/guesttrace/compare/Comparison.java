package dev.guesttrace.compare;

import dev.guesttrace.span.CallPaths;
import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Several runs (side A) against several runs (side B), path by path: "is B slower than A, and
 * where?".
 *
 * <p>Spans are aligned by their call path, the span names from the root down (e.g. {@code
 * run;dispatch_function;call_guest_function;fib}). By default the vCPUs of a run are merged: a
 * path's values in a run add up its spans on every vCPU. With {@link Options#perVcpu()} each path
 * starts with its vCPU ({@code vcpu 1;run;...}). Paths are at most {@link CallPaths#MAX_FRAMES}
 * spans deep: everything deeper is one {@link CallPaths#DEEPER_FRAME} path. For every path and
 * every run the comparison sums the number of spans, their total (inclusive) duration and their
 * self duration; a path missing from a run counts 0 there. Each side is then summarised by the
 * median and the min..max range over its runs ({@link Spread}). All durations are calibrated
 * nanoseconds: each run's guest TSC was converted with that run's own calibration, so runs taken at
 * different TSC rates compare directly.
 *
 * <p>With {@link Options#excludeTracing()} (the default) every run's trace exits are taken out
 * first ({@link TracingTime#withoutTracing}): the host's flushes sit inside whatever guest span was
 * open, and would otherwise make a path look slower wherever the tracer happened to flush.
 *
 * <h2>When a difference is marked</h2>
 *
 * For the per-run total (for {@link Row#totalMark()}) or self duration (for {@link
 * Row#selfMark()}), with {@code floor = max(minAbsoluteDifferenceNanos, minRelativeDifference *
 * median(A))} (by default 1 µs and 5 % of A's median), a path is marked {@link Mark#SLOWER} when
 * all three hold:
 *
 * <pre>{@code
 * median(B) - median(A) >= floor                          the typical run moved
 * min(B) - min(A)       >= floor                          the fastest run moved too
 * median(B) - median(A) >  2 * (deviation(A) + deviation(B))   beyond the runs' spread
 * }</pre>
 *
 * and {@link Mark#FASTER} when the same holds the other way round. The deviation is each side's
 * median absolute deviation from its median. The fastest run is the one least disturbed by the host
 * (a stall only ever adds time), so a single stall in one run cannot make a mark; with three runs
 * or more per side, medians and deviations ignore one wild run, so it cannot take a mark away
 * either. With fewer than {@value #MIN_RUNS_TO_MARK} runs on a side nothing is marked: one run
 * cannot tell a stall from a change.
 */
public final class Comparison {
  /** Runs each side needs before anything is marked. */
  public static final int MIN_RUNS_TO_MARK = 2;

  private final List<Run> sideA;
  private final List<Run> sideB;
  private final Options options;
  private final List<Row> rows;

  private Comparison(List<Run> sideA, List<Run> sideB, Options options, List<Row> rows) {
    this.sideA = sideA;
    this.sideB = sideB;
    this.options = options;
    this.rows = rows;
  }

  /**
   * Compares two sides of unlabeled runs; the runs are labeled {@code A1, A2, ...} and {@code B1,
   * B2, ...}.
   *
   * @param a the runs of side A (the baseline), at least one
   * @param b the runs of side B, at least one
   * @param options path and marking options
   */
  public static Comparison of(List<TraceTree> a, List<TraceTree> b, Options options) {
    return ofRuns(label("A", a), label("B", b), options);
  }

  /**
   * Compares two sides of labeled runs (e.g. labeled with their file names).
   *
   * @param a the runs of side A (the baseline), at least one
   * @param b the runs of side B, at least one
   * @param options path and marking options
   */
  public static Comparison ofRuns(List<Run> a, List<Run> b, Options options) {
    Objects.requireNonNull(options, "options");
    List<Run> sideA = options.excludeTracing() ? withoutTracing(a) : List.copyOf(a);
    List<Run> sideB = options.excludeTracing() ? withoutTracing(b) : List.copyOf(b);
    if (sideA.isEmpty() || sideB.isEmpty()) {
      throw new IllegalArgumentException(
          "each side needs at least one run: a=" + sideA.size() + " b=" + sideB.size());
    }
    boolean canMark = sideA.size() >= MIN_RUNS_TO_MARK && sideB.size() >= MIN_RUNS_TO_MARK;
    List<Map<String, long[]>> perRunA = new ArrayList<>();
    List<Map<String, long[]>> perRunB = new ArrayList<>();
    Set<String> paths = new LinkedHashSet<>();
    for (Run run : sideA) {
      perRunA.add(sumByPath(run.tree(), options.perVcpu()));
      paths.addAll(perRunA.getLast().keySet());
    }
    for (Run run : sideB) {
      perRunB.add(sumByPath(run.tree(), options.perVcpu()));
      paths.addAll(perRunB.getLast().keySet());
    }
    List<Row> rows = new ArrayList<>(paths.size());
    for (String path : paths) {
      SideStats statsA = stats(path, perRunA);
      SideStats statsB = stats(path, perRunB);
      rows.add(
          new Row(
              path,
              statsA,
              statsB,
              canMark ? mark(statsA.totalNanos(), statsB.totalNanos(), options) : Mark.NONE,
              canMark ? mark(statsA.selfNanos(), statsB.selfNanos(), options) : Mark.NONE));
    }
    // Equal impact (always so for identical sides): the larger path first, then by name.
    rows.sort(
        Comparator.comparingLong(Row::impactNanos)
            .thenComparingLong(Row::largerMedianTotalNanos)
            .reversed()
            .thenComparing(Row::path));
    return new Comparison(sideA, sideB, options, List.copyOf(rows));
  }

  /** The runs of side A, the baseline. */
  public List<Run> sideA() {
    return sideA;
  }

  /** The runs of side B. */
  public List<Run> sideB() {
    return sideB;
  }

  /** The options this comparison was made with. */
  public Options options() {
    return options;
  }

  /**
   * One row per call path found on either side: largest impact first, then the larger median total
   * first, then by path.
   */
  public List<Row> rows() {
    return rows;
  }

  /** Rows whose total or self duration is marked. */
  public List<Row> markedRows() {
    return rows.stream().filter(Row::marked).toList();
  }

  /** Whether either side had too few runs for anything to be marked. */
  public boolean tooFewRunsToMark() {
    return sideA.size() < MIN_RUNS_TO_MARK || sideB.size() < MIN_RUNS_TO_MARK;
  }

  /**
   * Applies the marking rule of this class to one quantity (the run counts are checked by the
   * caller).
   *
   * @param a side A's per-run values
   * @param b side B's per-run values
   * @param options the floors
   */
  public static Mark mark(Spread a, Spread b, Options options) {
    double floor =
        Math.max(
            options.minAbsoluteDifferenceNanos(), options.minRelativeDifference() * a.median());
    double medians = (double) b.median() - a.median();
    double fastest = (double) b.min() - a.min();
    double noise = 2.0 * ((double) a.deviation() + b.deviation());
    // A difference of 0 never marks, whatever the floors: "beyond the spread" is strict.
    if (medians >= floor && fastest >= floor && medians > noise) {
      return Mark.SLOWER;
    }
    if (-medians >= floor && -fastest >= floor && -medians > noise) {
      return Mark.FASTER;
    }
    return Mark.NONE;
  }

  private static List<Run> withoutTracing(List<Run> runs) {
    List<Run> out = new ArrayList<>(runs.size());
    for (Run run : runs) {
      out.add(new Run(run.label(), TracingTime.withoutTracing(run.tree())));
    }
    return out;
  }

  private static List<Run> label(String side, List<TraceTree> trees) {
    List<Run> runs = new ArrayList<>(trees.size());
    for (int i = 0; i < trees.size(); i++) {
      runs.add(new Run(side + (i + 1), trees.get(i)));
    }
    return runs;
  }

  private static SideStats stats(String path, List<Map<String, long[]>> perRun) {
    int n = perRun.size();
    long[] counts = new long[n];
    long[] totals = new long[n];
    long[] selves = new long[n];
    for (int i = 0; i < n; i++) {
      long[] sums = perRun.get(i).get(path);
      if (sums != null) {
        counts[i] = sums[0];
        totals[i] = sums[1];
        selves[i] = sums[2];
      }
    }
    return new SideStats(Spread.of(counts), Spread.of(totals), Spread.of(selves));
  }

  /** Path → {count, total ns, self ns} for one run. */
  private static Map<String, long[]> sumByPath(TraceTree tree, boolean perVcpu) {
    Map<String, long[]> sums = new HashMap<>();
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      String prefix = perVcpu ? "vcpu " + vcpu.vcpu() : null;
      for (SpanNode root : vcpu.roots()) {
        addSubtree(sums, prefix, root);
      }
    }
    return sums;
  }

  private static void addSubtree(Map<String, long[]> sums, String parentPath, SpanNode node) {
    // Iterative on purpose: a recursive guest (fib) can nest deeper than a comfortable Java stack.
    record Item(String parentPath, SpanNode node, int depth) {}
    ArrayList<Item> stack = new ArrayList<>();
    stack.add(new Item(parentPath, node, 0));
    while (!stack.isEmpty()) {
      Item item = stack.removeLast();
      // Below MAX_FRAMES one path holds everything deeper: path text would grow with the square
      // of the depth.
      boolean cut = item.depth() == CallPaths.MAX_FRAMES;
      String frame = cut ? CallPaths.DEEPER_FRAME : frame(item.node().name());
      String path = item.parentPath() == null ? frame : item.parentPath() + ";" + frame;
      long[] s = sums.computeIfAbsent(path, k -> new long[3]);
      s[0] += cut ? item.node().subtreeSize() : 1;
      s[1] += item.node().durationNanos();
      s[2] += cut ? item.node().subtreeSelfNanos() : item.node().selfNanos();
      if (!cut) {
        for (SpanNode child : item.node().children()) {
          stack.add(new Item(path, child, item.depth() + 1));
        }
      }
    }
  }

  /** A span name as one path frame: ';' separates frames, so it cannot appear inside one. */
  static String frame(String name) {
    return name.replace(';', ':');
  }

  /**
   * How paths are built and when a difference is marked.
   *
   * @param perVcpu whether each path starts with its vCPU instead of merging the vCPUs
   * @param minRelativeDifference smallest marked difference as a fraction of A's median, e.g. 0.05
   * @param minAbsoluteDifferenceNanos smallest marked difference in nanoseconds
   * @param excludeTracing whether trace exits are taken out of the spans they interrupted first
   */
  public record Options(
      boolean perVcpu,
      double minRelativeDifference,
      long minAbsoluteDifferenceNanos,
      boolean excludeTracing) {
    /** Relative floor of {@link #defaults()}: 5 % of A's median. */
    public static final double DEFAULT_MIN_RELATIVE_DIFFERENCE = 0.05;

    /** Absolute floor of {@link #defaults()}: 1 µs. */
    public static final long DEFAULT_MIN_ABSOLUTE_DIFFERENCE_NANOS = 1_000;

    /** Checks the floors are not negative. */
    public Options {
      if (!(minRelativeDifference >= 0) || minAbsoluteDifferenceNanos < 0) {
        throw new IllegalArgumentException(
            "floors must be >= 0: minRelativeDifference="
                + minRelativeDifference
                + " minAbsoluteDifferenceNanos="
                + minAbsoluteDifferenceNanos);
      }
    }

    /** Trace exits included: the two-floor form tests and callers with no exits use. */
    public Options(boolean perVcpu, double minRelativeDifference, long minAbsoluteDifferenceNanos) {
      this(perVcpu, minRelativeDifference, minAbsoluteDifferenceNanos, false);
    }

    /** vCPUs merged, 5 % and 1 µs floors, trace exits excluded. */
    public static Options defaults() {
      return new Options(
          false, DEFAULT_MIN_RELATIVE_DIFFERENCE, DEFAULT_MIN_ABSOLUTE_DIFFERENCE_NANOS, true);
    }

    /** These options with paths per vCPU or merged. */
    public Options withPerVcpu(boolean perVcpu) {
      return new Options(
          perVcpu, minRelativeDifference, minAbsoluteDifferenceNanos, excludeTracing);
    }

    /** These options with trace exits excluded or kept. */
    public Options withExcludeTracing(boolean excludeTracing) {
      return new Options(
          perVcpu, minRelativeDifference, minAbsoluteDifferenceNanos, excludeTracing);
    }
  }

  /**
   * One run of a side.
   *
   * @param label how the run is named in output, e.g. its file name
   * @param tree the run's span trees
   */
  public record Run(String label, TraceTree tree) {
    /** Checks for nulls. */
    public Run {
      Objects.requireNonNull(label, "label");
      Objects.requireNonNull(tree, "tree");
    }

    /** The run's summary: host, backend, calibration. */
    public RunSummary summary() {
      return tree.summary();
    }
  }

  /**
   * One side's numbers for one path, each over that side's runs.
   *
   * @param count spans with this path per run
   * @param totalNanos their summed duration per run
   * @param selfNanos their summed self duration (duration minus children) per run
   */
  public record SideStats(Spread count, Spread totalNanos, Spread selfNanos) {}

  /**
   * One call path compared.
   *
   * @param path frames from the root, separated by {@code ;}
   * @param a side A's numbers
   * @param b side B's numbers
   * @param totalMark whether the total duration per run differs beyond the noise
   * @param selfMark whether the self duration per run differs beyond the noise
   */
  public record Row(String path, SideStats a, SideStats b, Mark totalMark, Mark selfMark) {
    /** |median total B − median total A|: how much this path changes a run's time. */
    public long impactNanos() {
      return Math.abs(b.totalNanos().median() - a.totalNanos().median());
    }

    /** The larger of the two sides' median totals. */
    public long largerMedianTotalNanos() {
      return Math.max(a.totalNanos().median(), b.totalNanos().median());
    }

    /** Median total of B over median total of A; NaN or infinite when A's is 0. */
    public double totalRatio() {
      return (double) b.totalNanos().median() / a.totalNanos().median();
    }

    /** Median self of B over median self of A; NaN or infinite when A's is 0. */
    public double selfRatio() {
      return (double) b.selfNanos().median() / a.selfNanos().median();
    }

    /** Whether the total or the self duration is marked. */
    public boolean marked() {
      return totalMark != Mark.NONE || selfMark != Mark.NONE;
    }

    /**
     * The path for people: runs of the same frame written once with a count, {@code
     * run;call;fib;fib;fib} as {@code run;call;fib×3}, so deep recursion stays readable.
     */
    public String displayPath() {
      return String.join(";", CallPaths.collapse(List.of(path.split(";", -1))));
    }

    /** The path's last frame: the span name. */
    public String leaf() {
      return path.substring(path.lastIndexOf(';') + 1);
    }

    /** Number of frames in the path. */
    public int depth() {
      return (int) path.chars().filter(c -> c == ';').count() + 1;
    }
  }
}
