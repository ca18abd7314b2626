package dev.guesttrace.compare;

import dev.guesttrace.render.Xml;
import dev.guesttrace.span.CallPaths;
import dev.guesttrace.span.RunSummary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Draws a {@link Comparison} as a self-contained SVG chart: one row per call path (the top rows by
 * impact, and every marked path), a bar for each side's median total per run (self time for a path
 * marked in its self time only) with a whisker for its min..max over the runs, the B/A ratio, and
 * rows beyond the noise highlighted. Each row is scaled to its own largest value, so small paths
 * stay readable; the numbers on the bars give the absolute times.
 */
public final class ComparisonSvgRenderer {
  /** Rows drawn when no count is given. */
  public static final int DEFAULT_MAX_ROWS = 20;

  static final String COLOR_A = "#3b75af";
  static final String COLOR_B = "#ef8636";
  static final String SLOWER_BACKGROUND = "#fbe0de";
  static final String FASTER_BACKGROUND = "#dff3e0";
  static final String SLOWER_TOTAL_BACKGROUND = "#fdf2f1";
  static final String FASTER_TOTAL_BACKGROUND = "#f1faf1";
  private static final String FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";
  private static final int WIDTH = 1200;
  private static final int MARGIN = 16;
  private static final int LABEL_WIDTH = 400;
  private static final int BAR_X = MARGIN + LABEL_WIDTH + 10;
  private static final int BAR_WIDTH = 480;
  private static final int RATIO_X = BAR_X + BAR_WIDTH + 95;
  private static final int ROW_HEIGHT = 44;

  private ComparisonSvgRenderer() {}

  /** Draws the top {@link #DEFAULT_MAX_ROWS} rows. */
  public static void render(Comparison comparison, Appendable out) {
    render(comparison, out, DEFAULT_MAX_ROWS);
  }

  /**
   * Draws the top {@code maxRows} rows by impact.
   *
   * @param comparison what to draw
   * @param out where the SVG document goes (UTF-8 text); {@link IOException}s are rethrown
   *     unchecked
   * @param maxRows most rows, at least 1
   */
  public static void render(Comparison comparison, Appendable out, int maxRows) {
    if (maxRows < 1) {
      throw new IllegalArgumentException("maxRows=" + maxRows + ": expected at least 1");
    }
    try {
      out.append(svg(comparison, maxRows));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String svg(Comparison comparison, int maxRows) {
    // The top rows by impact, and every marked row even if its impact is small.
    List<Comparison.Row> rows = new ArrayList<>();
    int extraMarked = 0;
    for (Comparison.Row row : comparison.rows()) {
      if (rows.size() < maxRows) {
        rows.add(row);
      } else if (row.marked()) {
        rows.add(row);
        extraMarked++;
      }
    }
    List<String> notes = ComparisonTextRenderer.notes(comparison);
    StringBuilder body = new StringBuilder();
    int y = MARGIN + 22;
    text(
        body, MARGIN, y, 20, "bold", "#222", "start", "guesttrace compare: where B differs from A");
    y += 26;
    text(body, MARGIN + 18, y, 13, "normal", "#222", "start", side("A", comparison.sideA()));
    rect(body, MARGIN, y - 11, 12, 12, COLOR_A, null);
    y += 20;
    text(body, MARGIN + 18, y, 13, "normal", "#222", "start", side("B", comparison.sideB()));
    rect(body, MARGIN, y - 11, 12, 12, COLOR_B, null);
    for (String note : notes) {
      y += 20;
      text(body, MARGIN, y, 13, "normal", "#8a4b00", "start", "note: " + note);
    }
    y += 20;
    text(
        body,
        MARGIN,
        y,
        12,
        "normal",
        "#555",
        "start",
        "Bars: median total time per run (self time where only that is marked); whiskers:"
            + " min..max over the runs; each row scaled to its own largest value.");
    y += 14;
    int shownPaths = rows.size();
    int allPaths = comparison.rows().size();
    text(
        body,
        MARGIN,
        y + 14,
        12,
        "normal",
        "#555",
        "start",
        (shownPaths < allPaths
                ? "Top "
                    + (shownPaths - extraMarked)
                    + " of "
                    + allPaths
                    + " call paths"
                    + (extraMarked > 0 ? " and " + extraMarked + " more marked" : "")
                : "All " + allPaths + " call paths")
            + " by impact (|B - A| of the median total per run).");
    text(body, RATIO_X, y + 14, 12, "bold", "#555", "start", "B vs A: total (self)");
    y += 24;

    for (int i = 0; i < rows.size(); i++) {
      row(body, rows.get(i), y, i);
      y += ROW_HEIGHT;
    }
    y += 6;
    legend(body, y);
    y += 24;

    StringBuilder svg = new StringBuilder(body.length() + 512);
    svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .append(WIDTH)
        .append("\" height=\"")
        .append(y)
        .append("\" viewBox=\"0 0 ")
        .append(WIDTH)
        .append(' ')
        .append(y)
        .append("\" font-family=\"")
        .append(FONT)
        .append("\">\n");
    svg.append("<title>guesttrace compare</title>\n");
    svg.append("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    svg.append(body);
    svg.append("</svg>\n");
    return svg.toString();
  }

  private static void row(StringBuilder out, Comparison.Row row, int y, int index) {
    // Self marks say where the time went; a total mark alone only says "somewhere below".
    String background =
        switch (row.selfMark()) {
          case SLOWER -> SLOWER_BACKGROUND;
          case FASTER -> FASTER_BACKGROUND;
          case NONE ->
              switch (row.totalMark()) {
                case SLOWER -> SLOWER_TOTAL_BACKGROUND;
                case FASTER -> FASTER_TOTAL_BACKGROUND;
                case NONE -> index % 2 == 0 ? "#f6f6f6" : "#ffffff";
              };
        };
    out.append("<g>\n<title>").append(Xml.escape(tooltip(row))).append("</title>\n");
    rect(out, MARGIN - 6, y, WIDTH - 2 * MARGIN + 12, ROW_HEIGHT - 2, background, null);

    List<String> frames = List.of(row.path().split(";", -1));
    String leaf = frames.getLast();
    String parent = String.join(";", collapse(frames.subList(0, frames.size() - 1)));
    text(out, MARGIN, y + 17, 14, "bold", "#222", "start", ellipsizeEnd(leaf, 50));
    if (!parent.isEmpty()) {
      text(out, MARGIN, y + 34, 11, "normal", "#666", "start", ellipsizeStart(parent, 68));
    }

    // Draw what the mark is about: a path marked in its own code only would otherwise show two
    // equal total bars next to a red "self" label.
    boolean drawSelf = row.totalMark() == Mark.NONE && row.selfMark() != Mark.NONE;
    Spread a = drawSelf ? row.a().selfNanos() : row.a().totalNanos();
    Spread b = drawSelf ? row.b().selfNanos() : row.b().totalNanos();
    String suffix = drawSelf ? " self" : "";
    double scale = BAR_WIDTH / (double) Math.max(1, Math.max(a.max(), b.max()));
    bar(out, a, scale, y + 5, COLOR_A, suffix);
    bar(out, b, scale, y + 23, COLOR_B, suffix);

    String totalRatio =
        ComparisonTextRenderer.ratio(
                row.a().totalNanos().median(), row.b().totalNanos().median(), Mark.NONE)
            .strip();
    String selfRatio =
        ComparisonTextRenderer.ratio(
                row.a().selfNanos().median(), row.b().selfNanos().median(), Mark.NONE)
            .strip();
    text(
        out,
        RATIO_X,
        y + 19,
        16,
        "bold",
        markColor(row.totalMark()),
        "start",
        totalRatio + markWord(row.totalMark()));
    text(
        out,
        RATIO_X,
        y + 36,
        11,
        row.selfMark() == Mark.NONE ? "normal" : "bold",
        markColor(row.selfMark()),
        "start",
        "self " + selfRatio + markWord(row.selfMark()));
    out.append("</g>\n");
  }

  private static void bar(
      StringBuilder out, Spread spread, double scale, int y, String color, String suffix) {
    int height = 14;
    double width = Math.max(1, spread.median() * scale);
    rect(out, BAR_X, y, width, height, color, null);
    double min = BAR_X + spread.min() * scale;
    double max = BAR_X + spread.max() * scale;
    double mid = y + height / 2.0;
    if (spread.max() > spread.min()) {
      line(out, min, mid, max, mid);
      line(out, min, y + 2, min, y + height - 2);
      line(out, max, y + 2, max, y + height - 2);
    }
    text(
        out,
        Math.max(max, BAR_X + width) + 6,
        y + 11.5,
        11,
        "normal",
        "#222",
        "start",
        Durations.format(spread.median()) + suffix);
  }

  private static void legend(StringBuilder out, int y) {
    int x = MARGIN;
    rect(out, x, y, 12, 12, COLOR_A, null);
    text(out, x + 16, y + 11, 12, "normal", "#222", "start", "A");
    x += 40;
    rect(out, x, y, 12, 12, COLOR_B, null);
    text(out, x + 16, y + 11, 12, "normal", "#222", "start", "B");
    x += 40;
    rect(out, x, y, 12, 12, SLOWER_BACKGROUND, "#c0392b");
    text(out, x + 16, y + 11, 12, "normal", "#222", "start", "B slower in its own code");
    x += 180;
    rect(out, x, y, 12, 12, SLOWER_TOTAL_BACKGROUND, "#c0392b");
    text(out, x + 16, y + 11, 12, "normal", "#222", "start", "only in total");
    x += 110;
    rect(out, x, y, 12, 12, FASTER_BACKGROUND, "#2e7d32");
    text(out, x + 16, y + 11, 12, "normal", "#222", "start", "B faster");
    x += 90;
    text(
        out,
        x,
        y + 11,
        12,
        "normal",
        "#555",
        "start",
        "Hover a row for its full path and numbers.");
  }

  private static String tooltip(Comparison.Row row) {
    return row.path()
        + "\ncalls per run: A "
        + row.a().count().median()
        + ", B "
        + row.b().count().median()
        + "\ntotal per run: A "
        + describe(row.a().totalNanos())
        + ", B "
        + describe(row.b().totalNanos())
        + ", B "
        + ComparisonTextRenderer.ratio(
                row.a().totalNanos().median(), row.b().totalNanos().median(), Mark.NONE)
            .strip()
        + markWord(row.totalMark())
        + "\nself per run: A "
        + describe(row.a().selfNanos())
        + ", B "
        + describe(row.b().selfNanos())
        + ", B "
        + ComparisonTextRenderer.ratio(
                row.a().selfNanos().median(), row.b().selfNanos().median(), Mark.NONE)
            .strip()
        + markWord(row.selfMark());
  }

  private static String describe(Spread spread) {
    return Durations.format(spread.median())
        + (spread.min() == spread.max()
            ? ""
            : " [" + Durations.format(spread.min()) + ".." + Durations.format(spread.max()) + "]");
  }

  private static String markWord(Mark mark) {
    return switch (mark) {
      case SLOWER, FASTER -> " (marked)";
      case NONE -> "";
    };
  }

  private static String markColor(Mark mark) {
    return switch (mark) {
      case SLOWER -> "#b3261e";
      case FASTER -> "#1b6e20";
      case NONE -> "#555";
    };
  }

  private static String side(String name, List<Comparison.Run> runs) {
    Set<String> hosts = new LinkedHashSet<>();
    Set<String> backends = new LinkedHashSet<>();
    Set<String> rates = new LinkedHashSet<>();
    for (Comparison.Run run : runs) {
      RunSummary s = run.summary();
      hosts.add(s.hostName());
      backends.add(s.backend());
      rates.add(String.format(Locale.ROOT, "%.3f GHz", s.ticksPerSecond() / 1e9));
    }
    return name
        + ": "
        + runs.size()
        + (runs.size() == 1 ? " run" : " runs")
        + " of "
        + runs.getFirst().summary().guest()
        + " on "
        + String.join(", ", hosts)
        + " ("
        + String.join(", ", backends)
        + "; TSC "
        + String.join(", ", rates)
        + ")";
  }

  /** Consecutive equal frames as one, {@code fib;fib;fib} as {@code fib×3}, for labels only. */
  static List<String> collapse(List<String> frames) {
    return CallPaths.collapse(frames);
  }

  static String ellipsizeEnd(String text, int maxChars) {
    return text.length() <= maxChars ? text : text.substring(0, maxChars - 1) + "…";
  }

  static String ellipsizeStart(String text, int maxChars) {
    return text.length() <= maxChars ? text : "…" + text.substring(text.length() - maxChars + 1);
  }

  private static void rect(
      StringBuilder out, double x, double y, double w, double h, String fill, String stroke) {
    out.append("<rect x=\"")
        .append(num(x))
        .append("\" y=\"")
        .append(num(y))
        .append("\" width=\"")
        .append(num(w))
        .append("\" height=\"")
        .append(num(h))
        .append("\" fill=\"")
        .append(fill)
        .append('"');
    if (stroke != null) {
      out.append(" stroke=\"").append(stroke).append('"');
    }
    out.append("/>\n");
  }

  private static void line(StringBuilder out, double x1, double y1, double x2, double y2) {
    out.append("<line x1=\"")
        .append(num(x1))
        .append("\" y1=\"")
        .append(num(y1))
        .append("\" x2=\"")
        .append(num(x2))
        .append("\" y2=\"")
        .append(num(y2))
        .append("\" stroke=\"#222\" stroke-width=\"1.2\"/>\n");
  }

  private static void text(
      StringBuilder out,
      double x,
      double y,
      int size,
      String weight,
      String color,
      String anchor,
      String text) {
    out.append("<text x=\"")
        .append(num(x))
        .append("\" y=\"")
        .append(num(y))
        .append("\" font-size=\"")
        .append(size)
        .append('"');
    if (!weight.equals("normal")) {
      out.append(" font-weight=\"").append(weight).append('"');
    }
    out.append(" fill=\"").append(color).append('"');
    if (!anchor.equals("start")) {
      out.append(" text-anchor=\"").append(anchor).append('"');
    }
    out.append('>').append(Xml.escape(text)).append("</text>\n");
  }

  private static String num(double v) {
    String s = String.format(Locale.ROOT, "%.1f", v);
    return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
  }
}
