package dev.guesttrace.render;

import dev.guesttrace.span.CallPaths;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import org.HdrHistogram.Histogram;

/**
 * Statistics per function (or per call path) over the spans of a trace: count, inclusive total,
 * self, the distribution of one call (min, median, p99, max) and shares of the run.
 *
 * <p>Inclusive time is recursion-aware: by function, a span adds to its function's total only when
 * no enclosing span has the same name, so {@code fib} calling {@code fib} counts its time once and
 * a function's total never exceeds the run. By call path, every path is its own row and nesting
 * cannot double count.
 *
 * <p>Trace exits (host spans of kind {@link SpanKind#HOST_EXIT}: registration, flushes) are the
 * cost of tracing itself. They are summed into one tracing-overhead figure; with {@link
 * Options#excludeTracing()} they are also subtracted from every span they interrupted and left out
 * of the rows.
 *
 * <p>The walk is iterative (a guest can nest a million spans) and the number of rows is bounded by
 * {@link #MAX_ROWS}: spans past the bound are counted in one {@code (other)} row, said in the
 * output. Median and p99 are exact up to {@link #EXACT_CALLS} calls in a row, beyond that they come
 * from an {@link Histogram HdrHistogram} with {@link #SIGNIFICANT_DIGITS} significant digits;
 * count, total, self, min and max are always exact.
 */
public final class StatsRenderer {
  /** Significant decimal digits of the latency histograms: median and p99 within 0.1 %. */
  public static final int SIGNIFICANT_DIGITS = 3;

  /** Most distinct functions or paths kept apart; the rest share the {@code (other)} row. */
  public static final int MAX_ROWS = 4096;

  /**
   * Calls per row whose median and p99 are exact (nearest rank); a row with more records them in an
   * HdrHistogram.
   */
  public static final int EXACT_CALLS = 1024;

  /** Name of the row that collects spans past {@link #MAX_ROWS}. */
  public static final String OTHER = "(other)";

  /** Version of the JSON and CSV layout, in docs/formats.md. */
  public static final String SCHEMA = "guesttrace.stats/1";

  private StatsRenderer() {}

  /** What a row groups. */
  public enum By {
    /** One row per span name, recursion counted once. */
    FUNCTION,
    /** One row per call path from the root, {@code a;b;c}. */
    PATH
  }

  /** The order of the rows, largest first (name: alphabetical). */
  public enum Sort {
    TOTAL,
    SELF,
    COUNT,
    MIN,
    MEDIAN,
    P99,
    MAX,
    NAME
  }

  /**
   * How to compute and show the statistics.
   *
   * @param by rows per function or per call path
   * @param sort row order
   * @param top most rows to write, 0 for all
   * @param vcpu only this vCPU's spans, or all
   * @param excludeTracing subtract trace exits from the spans they interrupted and drop their rows
   */
  public record Options(By by, Sort sort, int top, OptionalInt vcpu, boolean excludeTracing) {
    /** Checks the values. */
    public Options {
      Objects.requireNonNull(by, "by");
      Objects.requireNonNull(sort, "sort");
      Objects.requireNonNull(vcpu, "vcpu");
      if (top < 0) {
        throw new IllegalArgumentException("top must be >= 0: " + top);
      }
    }

    /** By function, sorted by total, every row, every vCPU, tracing included. */
    public static Options defaults() {
      return new Options(By.FUNCTION, Sort.TOTAL, 0, OptionalInt.empty(), false);
    }
  }

  /**
   * Statistics of one function or call path. Durations in nanoseconds.
   *
   * @param name the span name ({@code [host] } prefix for host spans), or the call path with names
   *     joined by {@code ;} and consecutive repeats written {@code name×N}
   * @param count calls
   * @param totalNanos inclusive time, each recursive call counted once (outermost)
   * @param selfNanos time in the span itself, outside its child spans
   * @param minNanos shortest call (exact)
   * @param medianNanos median call (nearest rank, or HdrHistogram past {@link #EXACT_CALLS})
   * @param p99Nanos 99th percentile call (likewise)
   * @param maxNanos longest call (exact)
   */
  public record Row(
      String name,
      long count,
      long totalNanos,
      long selfNanos,
      long minNanos,
      long medianNanos,
      long p99Nanos,
      long maxNanos) {}

  /**
   * The computed statistics.
   *
   * @param rows every row, in the order of the options
   * @param runNanos what "% of run" divides by: the run's extent, summed over the vCPUs shown
   * @param vcpus vCPUs the rows cover
   * @param spans spans counted (trace exits excluded when the options exclude them)
   * @param tracingExits trace-exit spans (topmost: one nested in another counts once)
   * @param tracingNanos their total duration
   * @param tracingInGuestNanos the part of it spent inside guest spans
   * @param overflowSpans spans past {@link #MAX_ROWS} distinct rows, counted in {@link #OTHER}
   */
  public record Report(
      List<Row> rows,
      long runNanos,
      int vcpus,
      long spans,
      long tracingExits,
      long tracingNanos,
      long tracingInGuestNanos,
      long overflowSpans) {
    /** Copies the list. */
    public Report {
      rows = List.copyOf(rows);
    }

    /** {@code nanos} as a percentage of the run, 0 for an empty run. */
    public double percentOfRun(long nanos) {
      return runNanos <= 0 ? 0 : 100.0 * nanos / runNanos;
    }
  }

  /** Statistics by function over every vCPU, sorted by total. */
  public static List<Row> compute(TraceTree tree) {
    return compute(tree, Options.defaults()).rows();
  }

  /** Computes the statistics. */
  public static Report compute(TraceTree tree, Options options) {
    return new Walk(options).run(tree);
  }

  /** Writes the report in {@code format}. */
  public static void render(Report report, Options options, OutputFormat format, PrintWriter out) {
    switch (format) {
      case TEXT -> text(report, options, out);
      case JSON -> json(report, options, out);
      case CSV -> csv(report, out);
    }
    out.flush();
  }

  /** Writes the statistics by function as a text table. */
  public static void render(TraceTree tree, PrintWriter out) {
    Options options = Options.defaults();
    render(compute(tree, options), options, OutputFormat.TEXT, out);
  }

  private static List<Row> shown(Report report, Options options) {
    List<Row> rows = report.rows();
    return options.top() > 0 && rows.size() > options.top() ? rows.subList(0, options.top()) : rows;
  }

  private static void text(Report report, Options options, PrintWriter out) {
    List<Row> rows = shown(report, options);
    String what = options.by() == By.PATH ? "call path" : "function";
    out.printf(
        "run %s%s%s, %d spans; by %s, sorted by %s%n",
        Durations.duration(report.runNanos()),
        report.vcpus() == 1 ? " on 1 vCPU" : " of vCPU time on " + report.vcpus() + " vCPUs",
        options.vcpu().isPresent() ? " (vCPU " + options.vcpu().getAsInt() + ")" : "",
        report.spans(),
        what,
        options.sort().name().toLowerCase(Locale.ROOT));
    int width = what.length();
    for (Row r : rows) {
      width = Math.max(width, r.name().length());
    }
    String head = "%-" + width + "s %8s %10s %6s %10s %6s %10s %10s %10s %10s%n";
    out.printf(head, what, "count", "total", "%run", "self", "%run", "min", "median", "p99", "max");
    for (Row r : rows) {
      out.printf(
          head,
          r.name(),
          r.count(),
          Durations.duration(r.totalNanos()),
          percent(report.percentOfRun(r.totalNanos())),
          Durations.duration(r.selfNanos()),
          percent(report.percentOfRun(r.selfNanos())),
          Durations.duration(r.minNanos()),
          Durations.duration(r.medianNanos()),
          Durations.duration(r.p99Nanos()),
          Durations.duration(r.maxNanos()));
    }
    if (rows.size() < report.rows().size()) {
      out.printf("... %d more rows (--top 0 shows all)%n", report.rows().size() - rows.size());
    }
    if (report.overflowSpans() > 0) {
      out.printf(
          "%s: %d spans past %d distinct %ss, counted together%n",
          OTHER, report.overflowSpans(), MAX_ROWS, what);
    }
    out.printf(
        "tracing overhead: %d trace exit%s, %s (%s of run), %s inside guest spans%s%n",
        report.tracingExits(),
        report.tracingExits() == 1 ? "" : "s",
        Durations.duration(report.tracingNanos()),
        percent(report.percentOfRun(report.tracingNanos())).strip(),
        Durations.duration(report.tracingInGuestNanos()),
        options.excludeTracing()
            ? "; subtracted from the spans they interrupted"
            : " (--exclude-tracing subtracts them)");
    out.printf(
        "total counts a recursive call once; median, p99 exact up to %d calls, beyond from"
            + " HdrHistogram (%d significant digits)%n",
        EXACT_CALLS, SIGNIFICANT_DIGITS);
  }

  private static String percent(double p) {
    return String.format(Locale.ROOT, "%.1f%%", p);
  }

  private static void json(Report report, Options options, PrintWriter out) {
    StringBuilder b = new StringBuilder(256 + 160 * report.rows().size());
    b.append("{\"schema\":").append(Json.string(SCHEMA));
    b.append(",\"by\":").append(Json.string(options.by().name().toLowerCase(Locale.ROOT)));
    b.append(",\"sort\":").append(Json.string(options.sort().name().toLowerCase(Locale.ROOT)));
    b.append(",\"vcpu\":")
        .append(options.vcpu().isPresent() ? String.valueOf(options.vcpu().getAsInt()) : "null");
    b.append(",\"exclude_tracing\":").append(options.excludeTracing());
    b.append(",\"run_ns\":").append(report.runNanos());
    b.append(",\"vcpus\":").append(report.vcpus());
    b.append(",\"spans\":").append(report.spans());
    b.append(",\"percentiles\":{\"exact_up_to_calls\":")
        .append(EXACT_CALLS)
        .append(",\"beyond\":\"HdrHistogram\",\"significant_digits\":")
        .append(SIGNIFICANT_DIGITS)
        .append('}');
    b.append(",\"tracing\":{\"exits\":")
        .append(report.tracingExits())
        .append(",\"total_ns\":")
        .append(report.tracingNanos())
        .append(",\"in_guest_ns\":")
        .append(report.tracingInGuestNanos())
        .append('}');
    b.append(",\"overflow_spans\":").append(report.overflowSpans());
    List<Row> rows = shown(report, options);
    b.append(",\"rows_omitted\":").append(report.rows().size() - rows.size());
    b.append(",\"rows\":[");
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      if (i > 0) {
        b.append(',');
      }
      b.append("\n{\"name\":").append(Json.string(r.name()));
      b.append(",\"count\":").append(r.count());
      b.append(",\"total_ns\":").append(r.totalNanos());
      b.append(",\"self_ns\":").append(r.selfNanos());
      b.append(",\"min_ns\":").append(r.minNanos());
      b.append(",\"median_ns\":").append(r.medianNanos());
      b.append(",\"p99_ns\":").append(r.p99Nanos());
      b.append(",\"max_ns\":").append(r.maxNanos());
      b.append('}');
    }
    b.append("]}");
    out.println(b);
  }

  private static void csv(Report report, PrintWriter out) {
    out.println("name,count,total_ns,self_ns,min_ns,median_ns,p99_ns,max_ns,total_pct,self_pct");
    for (Row r : report.rows()) {
      out.println(
          Json.csv(r.name())
              + ','
              + r.count()
              + ','
              + r.totalNanos()
              + ','
              + r.selfNanos()
              + ','
              + r.minNanos()
              + ','
              + r.medianNanos()
              + ','
              + r.p99Nanos()
              + ','
              + r.maxNanos()
              + ','
              + String.format(Locale.ROOT, "%.3f", report.percentOfRun(r.totalNanos()))
              + ','
              + String.format(Locale.ROOT, "%.3f", report.percentOfRun(r.selfNanos())));
    }
  }

  /** One computation: keys (functions or paths), their accumulators, and the iterative walk. */
  private static final class Walk {
    final Options options;
    final Map<String, Integer> nameIds = new HashMap<>();
    final List<String> names = new ArrayList<>();
    // By path: (parent key, name id) -> key. By function: name id -> key, parent unused.
    final Map<Long, Integer> keyIds = new HashMap<>();
    final List<Accumulator> keys = new ArrayList<>();
    int otherKey = -1;
    int[] active = new int[64];
    long spans;
    long overflowSpans;
    long tracingExits;
    long tracingNanos;
    long tracingInGuestNanos;

    Walk(Options options) {
      this.options = options;
    }

    Report run(TraceTree tree) {
      long runNanos = 0;
      int vcpus = 0;
      for (TraceTree.VcpuTree v : tree.vcpus()) {
        if (options.vcpu().isPresent() && v.vcpu() != options.vcpu().getAsInt()) {
          continue;
        }
        vcpus++;
        runNanos += RunWindow.vcpuDurationNanos(tree, v.vcpu());
        for (SpanNode root : v.roots()) {
          walk(root);
        }
      }
      List<Row> rows = new ArrayList<>(keys.size());
      for (Accumulator a : keys) {
        if (a.count > 0) {
          rows.add(a.finish(label(a)));
        }
      }
      rows.sort(order(options.sort()));
      return new Report(
          rows,
          runNanos,
          vcpus,
          spans,
          tracingExits,
          tracingNanos,
          tracingInGuestNanos,
          overflowSpans);
    }

    private static Comparator<Row> order(Sort sort) {
      Comparator<Row> byName = Comparator.comparing(Row::name);
      return switch (sort) {
        case TOTAL -> Comparator.comparingLong(Row::totalNanos).reversed().thenComparing(byName);
        case SELF -> Comparator.comparingLong(Row::selfNanos).reversed().thenComparing(byName);
        case COUNT -> Comparator.comparingLong(Row::count).reversed().thenComparing(byName);
        case MIN -> Comparator.comparingLong(Row::minNanos).reversed().thenComparing(byName);
        case MEDIAN -> Comparator.comparingLong(Row::medianNanos).reversed().thenComparing(byName);
        case P99 -> Comparator.comparingLong(Row::p99Nanos).reversed().thenComparing(byName);
        case MAX -> Comparator.comparingLong(Row::maxNanos).reversed().thenComparing(byName);
        case NAME -> byName;
      };
    }

    /** A span on the walk's explicit stack. */
    private static final class Frame {
      final SpanNode node;
      final int key;
      final boolean outermost;
      final boolean excluded;
      int next;
      long childNanos;
      long exitNanos;

      Frame(SpanNode node, int key, boolean outermost, boolean excluded) {
        this.node = node;
        this.key = key;
        this.outermost = outermost;
        this.excluded = excluded;
      }
    }

    private void walk(SpanNode root) {
      ArrayDeque<Frame> stack = new ArrayDeque<>();
      int guestDepth = 0;
      int exitDepth = 0;
      stack.push(enter(root, -1, exitDepth));
      if (root.kind() == SpanKind.GUEST) {
        guestDepth++;
      }
      if (root.kind() == SpanKind.HOST_EXIT) {
        exitDepth++;
      }
      while (!stack.isEmpty()) {
        Frame f = stack.peek();
        List<SpanNode> children = f.node.children();
        if (f.next < children.size()) {
          SpanNode child = children.get(f.next++);
          stack.push(enter(child, f.key, exitDepth));
          if (child.kind() == SpanKind.GUEST) {
            guestDepth++;
          }
          if (child.kind() == SpanKind.HOST_EXIT) {
            if (exitDepth == 0) {
              tracingExits++;
              tracingNanos += Math.max(0, child.durationNanos());
              if (guestDepth > 0) {
                tracingInGuestNanos += Math.max(0, child.durationNanos());
              }
            }
            exitDepth++;
          }
          continue;
        }
        stack.pop();
        SpanNode node = f.node;
        if (node.kind() == SpanKind.GUEST) {
          guestDepth--;
        }
        boolean isExit = node.kind() == SpanKind.HOST_EXIT;
        if (isExit) {
          exitDepth--;
        }
        long duration = Math.max(0, node.durationNanos());
        long adjusted = options.excludeTracing() ? Math.max(0, duration - f.exitNanos) : duration;
        long self = Math.max(0, adjusted - f.childNanos);
        if (!f.excluded) {
          Accumulator a = keys.get(f.key);
          a.add(adjusted, self, f.outermost);
          active[f.key]--;
        }
        Frame parent = stack.peek();
        if (parent != null) {
          // A trace exit is a child like any other unless tracing is excluded: then it is not
          // part of the parent's time at all, so it must not also come off the parent's self.
          if (isExit) {
            parent.exitNanos += duration;
            if (!options.excludeTracing()) {
              parent.childNanos += duration;
            }
          } else {
            parent.childNanos += adjusted;
            parent.exitNanos += f.exitNanos;
          }
        }
      }
    }

    private Frame enter(SpanNode node, int parentKey, int exitDepth) {
      boolean excluded =
          options.excludeTracing() && (node.kind() == SpanKind.HOST_EXIT || exitDepth > 0);
      if (excluded) {
        return new Frame(node, parentKey, false, true);
      }
      spans++;
      int key = key(node, parentKey);
      if (key >= active.length) {
        active = Arrays.copyOf(active, Math.max(key + 1, active.length * 2));
      }
      boolean outermost = active[key] == 0;
      active[key]++;
      return new Frame(node, key, outermost, false);
    }

    private int key(SpanNode node, int parentKey) {
      if (options.by() == By.PATH && parentKey == otherKey && otherKey >= 0) {
        // A path below one past the bound is past it too.
        overflowSpans++;
        return otherKey;
      }
      String label = TextTreeRenderer.label(node);
      Integer nameId = nameIds.get(label);
      if (nameId == null) {
        if (keys.size() >= MAX_ROWS) {
          overflowSpans++;
          return other();
        }
        nameId = names.size();
        nameIds.put(label, nameId);
        names.add(label);
      }
      long packed =
          options.by() == By.PATH ? ((long) (parentKey + 1) << 32) | nameId : (long) nameId;
      Integer key = keyIds.get(packed);
      if (key == null) {
        if (keys.size() >= MAX_ROWS) {
          overflowSpans++;
          return other();
        }
        key = keys.size();
        keyIds.put(packed, key);
        keys.add(new Accumulator(nameId, options.by() == By.PATH ? parentKey : -1));
      }
      return key;
    }

    private int other() {
      if (otherKey < 0) {
        otherKey = keys.size();
        keys.add(new Accumulator(-1, -1));
      }
      return otherKey;
    }

    /** The row's name: the function, or the path with consecutive repeats as {@code name×N}. */
    private String label(Accumulator a) {
      if (a.nameId < 0) {
        return OTHER;
      }
      if (a.parentKey < 0) {
        return names.get(a.nameId);
      }
      List<String> path = new ArrayList<>();
      for (Accumulator k = a; k != null; k = k.parentKey < 0 ? null : keys.get(k.parentKey)) {
        path.add(names.get(k.nameId));
      }
      Collections.reverse(path);
      return String.join(";", CallPaths.collapse(path));
    }
  }

  private static final class Accumulator {
    final int nameId;
    final int parentKey;
    // Exact values until EXACT_CALLS; past that an HdrHistogram, whose counts array (about 100 KB
    // at 3 digits for millisecond spans) is then worth its size.
    long[] exact = new long[8];
    Histogram histogram;
    long count;
    long totalNanos;
    long selfNanos;
    long minNanos = Long.MAX_VALUE;
    long maxNanos;

    Accumulator(int nameId, int parentKey) {
      this.nameId = nameId;
      this.parentKey = parentKey;
    }

    void add(long durationNanos, long selfNanos, boolean outermost) {
      if (histogram == null && count == EXACT_CALLS) {
        histogram = new Histogram(SIGNIFICANT_DIGITS);
        for (int i = 0; i < count; i++) {
          histogram.recordValue(exact[i]);
        }
        exact = null;
      }
      if (histogram != null) {
        histogram.recordValue(durationNanos);
      } else {
        if (count == exact.length) {
          exact = Arrays.copyOf(exact, exact.length * 2);
        }
        exact[(int) count] = durationNanos;
      }
      count++;
      if (outermost) {
        totalNanos += durationNanos;
      }
      this.selfNanos += selfNanos;
      minNanos = Math.min(minNanos, durationNanos);
      maxNanos = Math.max(maxNanos, durationNanos);
    }

    Row finish(String name) {
      long median;
      long p99;
      if (histogram != null) {
        // HdrHistogram reports a bucket's representative value; keep it inside the exact range.
        median = clamp(histogram.getValueAtPercentile(50));
        p99 = clamp(histogram.getValueAtPercentile(99));
      } else {
        long[] sorted = Arrays.copyOf(exact, (int) count);
        Arrays.sort(sorted);
        median = rank(sorted, 0.5);
        p99 = rank(sorted, 0.99);
      }
      return new Row(name, count, totalNanos, selfNanos, minNanos, median, p99, maxNanos);
    }

    private long clamp(long value) {
      return Math.max(minNanos, Math.min(maxNanos, value));
    }

    /** Nearest rank: the smallest value with at least {@code q} of the values at or below it. */
    private static long rank(long[] sorted, double q) {
      int index = (int) Math.ceil(q * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
  }
}
