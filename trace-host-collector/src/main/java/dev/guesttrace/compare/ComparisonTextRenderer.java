package dev.guesttrace.compare;

import dev.guesttrace.render.Printable;
import dev.guesttrace.span.RunSummary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes a {@link Comparison} as a text table: a header naming every run with its host, backend and
 * calibration, then one row per call path, largest impact first.
 *
 * <pre>{@code
 * calls A  calls B  total A  total B       B vs A     self A  self B  B vs A  path
 *       1        1   24.5ms   49.1ms  2.00x slower *  1.2us   1.2us    same    run
 * }</pre>
 */
public final class ComparisonTextRenderer {
  private ComparisonTextRenderer() {}

  /**
   * Writes every row of the comparison.
   *
   * @param comparison what to write
   * @param out where to write; {@link java.io.IOException}s are rethrown unchecked
   */
  public static void render(Comparison comparison, Appendable out) {
    render(comparison, out, Integer.MAX_VALUE);
  }

  /**
   * Writes the header and the first {@code maxRows} rows, then says how many were left out.
   *
   * @param comparison what to write
   * @param out where to write; {@link java.io.IOException}s are rethrown unchecked
   * @param maxRows most rows to write, at least 0
   */
  public static void render(Comparison comparison, Appendable out, int maxRows) {
    try {
      write(comparison, out, maxRows);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void write(Comparison comparison, Appendable out, int maxRows) throws IOException {
    List<Comparison.Run> a = comparison.sideA();
    List<Comparison.Run> b = comparison.sideB();
    out.append("compare: A = ")
        .append(runs(a.size()))
        .append(", B = ")
        .append(runs(b.size()))
        .append("; durations are calibrated nanoseconds (each run's TSC converted with its own")
        .append(" calibration)")
        .append(
            comparison.options().excludeTracing()
                ? ", trace exits excluded (--no-exclude-tracing keeps them)\n"
                : ", trace exits included\n");
    int labelWidth = 0;
    for (Comparison.Run run : concat(a, b)) {
      labelWidth = Math.max(labelWidth, run.label().length());
    }
    for (Comparison.Run run : a) {
      out.append("A  ").append(describe(run, labelWidth)).append('\n');
    }
    for (Comparison.Run run : b) {
      out.append("B  ").append(describe(run, labelWidth)).append('\n');
    }
    for (String note : notes(comparison)) {
      out.append("note: ").append(note).append('\n');
    }
    out.append('\n');

    boolean rangeA = a.size() > 1;
    boolean rangeB = b.size() > 1;
    List<String[]> cells = new ArrayList<>();
    cells.add(
        new String[] {
          // "B vs A  " so the header sits over the ratios, not over their mark slot.
          "calls A", "calls B", "total A", "total B", "B vs A  ", "self A", "self B", "B vs A  "
        });
    List<Comparison.Row> rows = comparison.rows();
    int shown = Math.min(Math.max(0, maxRows), rows.size());
    for (Comparison.Row row : rows.subList(0, shown)) {
      cells.add(
          new String[] {
            count(row.a().count(), rangeA),
            count(row.b().count(), rangeB),
            duration(row.a().totalNanos(), rangeA),
            duration(row.b().totalNanos(), rangeB),
            ratio(row.a().totalNanos().median(), row.b().totalNanos().median(), row.totalMark()),
            duration(row.a().selfNanos(), rangeA),
            duration(row.b().selfNanos(), rangeB),
            ratio(row.a().selfNanos().median(), row.b().selfNanos().median(), row.selfMark())
          });
    }
    int[] widths = new int[cells.getFirst().length];
    for (String[] line : cells) {
      for (int i = 0; i < line.length; i++) {
        widths[i] = Math.max(widths[i], line[i].length());
      }
    }
    for (int r = 0; r < cells.size(); r++) {
      String[] line = cells.get(r);
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < line.length; i++) {
        text.append(" ".repeat(widths[i] - line[i].length())).append(line[i]).append("  ");
      }
      text.append(r == 0 ? "path" : rows.get(r - 1).displayPath());
      out.append(text).append('\n');
    }
    if (shown < rows.size()) {
      out.append("... ").append(String.valueOf(rows.size() - shown)).append(" more paths\n");
    }
    out.append('\n');
    boolean collapsed = false;
    for (Comparison.Row row : rows.subList(0, shown)) {
      collapsed |= !row.displayPath().equals(row.path());
    }
    out.append("values: median per run")
        .append(rangeA || rangeB ? " [min..max over the side's runs]" : "")
        .append("; B vs A: the medians' ratio, read as B's; * = beyond the noise: B's median and")
        .append(" its fastest run both differ from A's by at least ")
        .append(percent(comparison.options().minRelativeDifference()))
        .append(" of A's median and ")
        .append(Durations.format(comparison.options().minAbsoluteDifferenceNanos()))
        .append(", and the medians by more than twice the runs' spread")
        .append(collapsed ? "; fib×3 = fib;fib;fib\n" : "\n");
    out.append(summary(comparison)).append('\n');
    // The marked paths again, on their own: sorted by total impact they can sit far down a table.
    List<String[]> marked = new ArrayList<>();
    int width = 0;
    for (Comparison.Row row : comparison.markedRows()) {
      List<String> parts = new ArrayList<>();
      if (row.totalMark() != Mark.NONE) {
        parts.add(
            "total " + markedRatio(row.a().totalNanos(), row.b().totalNanos(), row.totalMark()));
      }
      if (row.selfMark() != Mark.NONE) {
        parts.add("self " + markedRatio(row.a().selfNanos(), row.b().selfNanos(), row.selfMark()));
      }
      String what = String.join(", ", parts);
      width = Math.max(width, what.length());
      marked.add(new String[] {what, row.displayPath()});
    }
    for (String[] line : marked) {
      out.append("  ")
          .append(line[0])
          .append(" ".repeat(width - line[0].length() + 2))
          .append(line[1])
          .append('\n');
    }
  }

  private static String markedRatio(Spread a, Spread b, Mark mark) {
    return ratio(a.median(), b.median(), Mark.NONE).strip();
  }

  private static String summary(Comparison comparison) {
    int slower = 0;
    int faster = 0;
    for (Comparison.Row row : comparison.rows()) {
      Mark mark = row.totalMark() != Mark.NONE ? row.totalMark() : row.selfMark();
      if (mark == Mark.SLOWER) {
        slower++;
      } else if (mark == Mark.FASTER) {
        faster++;
      }
    }
    if (slower + faster == 0) {
      return "no path differs beyond the noise (" + comparison.rows().size() + " paths compared)";
    }
    return (slower + faster)
        + " of "
        + comparison.rows().size()
        + " paths marked: "
        + slower
        + " slower in B, "
        + faster
        + " faster in B";
  }

  /** Differences between the sides a reader must know before trusting the numbers. */
  static List<String> notes(Comparison comparison) {
    List<String> notes = new ArrayList<>();
    List<String> guests = new ArrayList<>();
    for (Comparison.Run run : concat(comparison.sideA(), comparison.sideB())) {
      if (!guests.contains(run.summary().guest())) {
        guests.add(run.summary().guest());
      }
    }
    if (guests.size() > 1) {
      notes.add("the runs are of different guests: " + String.join(", ", guests));
    }
    double[] rangeA = tscRange(comparison.sideA());
    double[] rangeB = tscRange(comparison.sideB());
    if (rangeA[1] < rangeB[0] * 0.99 || rangeB[1] < rangeA[0] * 0.99) {
      notes.add(
          "the sides ran at different TSC rates (A "
              + ghzRange(rangeA)
              + ", B "
              + ghzRange(rangeB)
              + "); calibrated durations compare directly");
    }
    if (comparison.options().perVcpu()) {
      notes.add("paths are per vCPU");
    }
    int a = comparison.sideA().size();
    int b = comparison.sideB().size();
    if (comparison.tooFewRunsToMark()) {
      notes.add(
          "with "
              + runs(a)
              + " against "
              + runs(b)
              + " nothing is marked: one run cannot tell a stall from a change; take 5 runs per"
              + " side");
    } else if (Math.min(a, b) < 5) {
      notes.add(
          String.format(
              Locale.ROOT,
              "with %s against %s the spread is poorly known (with 2 a single stall can hide a"
                  + " change, never make one): take 5 runs per side",
              runs(a),
              runs(b)));
    }
    return notes;
  }

  private static double[] tscRange(List<Comparison.Run> runs) {
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (Comparison.Run run : runs) {
      min = Math.min(min, run.summary().ticksPerSecond());
      max = Math.max(max, run.summary().ticksPerSecond());
    }
    return new double[] {min, max};
  }

  private static String ghzRange(double[] range) {
    String min = String.format(Locale.ROOT, "%.3f GHz", range[0] / 1e9);
    String max = String.format(Locale.ROOT, "%.3f GHz", range[1] / 1e9);
    return min.equals(max) ? min : min + ".." + max;
  }

  static String describe(Comparison.Run run, int labelWidth) {
    RunSummary s = run.summary();
    return String.format(
        Locale.ROOT,
        "%-"
            + Math.max(1, labelWidth)
            + "s  %s on %s, %s, %d vCPU%s, TSC %.6f GHz ±%.1f ppm%s,"
            + " %s",
        Printable.of(run.label()),
        Printable.of(s.guest()),
        Printable.of(s.hostName()),
        Printable.of(s.backend()),
        s.vcpuCount(),
        s.vcpuCount() == 1 ? "" : "s",
        s.ticksPerSecond() / 1e9,
        s.calibrationPpm(),
        s.invariantTsc() ? "" : " (TSC not invariant)",
        Printable.of(s.cpuModel()));
  }

  private static String runs(int n) {
    return n + (n == 1 ? " run" : " runs");
  }

  private static String percent(double fraction) {
    String text = String.format(Locale.ROOT, "%.1f", fraction * 100);
    return (text.endsWith(".0") ? text.substring(0, text.length() - 2) : text) + "%";
  }

  private static String count(Spread spread, boolean range) {
    if (!range || spread.min() == spread.max()) {
      return Long.toString(spread.median());
    }
    return spread.median() + " [" + spread.min() + ".." + spread.max() + "]";
  }

  private static String duration(Spread spread, boolean range) {
    String median = Durations.format(spread.median());
    if (!range || spread.min() == spread.max()) {
      return median;
    }
    return median + " " + Durations.range(spread.median(), spread.min(), spread.max());
  }

  /**
   * B against A the way a reader says it, three significant digits: {@code 1.37x slower}, {@code
   * 50.0x faster}, {@code same} when they round to one; then {@code " *"} when marked, else two
   * spaces to keep alignment.
   */
  static String ratio(long a, long b, Mark mark) {
    String text;
    if (a == 0 && b == 0) {
      text = "-";
    } else if (a == 0) {
      text = "new";
    } else if (b == 0) {
      text = "gone";
    } else if (b >= a) {
      text = times((double) b / a, " slower");
    } else {
      text = times((double) a / b, " faster");
    }
    return text + (mark == Mark.NONE ? "  " : " *");
  }

  private static String times(double factor, String direction) {
    String digits =
        factor < 9.995
            ? String.format(Locale.ROOT, "%.2f", factor)
            : factor < 99.95
                ? String.format(Locale.ROOT, "%.1f", factor)
                : String.format(Locale.ROOT, "%.0f", factor);
    return digits.equals("1.00") ? "same" : digits + "x" + direction;
  }

  private static List<Comparison.Run> concat(List<Comparison.Run> a, List<Comparison.Run> b) {
    List<Comparison.Run> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}
