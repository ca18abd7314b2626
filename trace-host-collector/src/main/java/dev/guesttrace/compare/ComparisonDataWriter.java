package dev.guesttrace.compare;

import dev.guesttrace.render.Json;
import dev.guesttrace.render.OutputFormat;
import dev.guesttrace.span.RunSummary;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code compare --format json|csv}: the comparison's rows for scripts and CI (schema {@value
 * #SCHEMA} in docs/formats.md), in the text table's order.
 */
public final class ComparisonDataWriter {
  /** Version of the layout, in docs/formats.md. */
  public static final String SCHEMA = "guesttrace.compare/1";

  private ComparisonDataWriter() {}

  /** Writes every row of {@code comparison} in {@code format} (JSON or CSV). */
  public static void write(Comparison comparison, OutputFormat format, PrintWriter out) {
    switch (format) {
      case JSON -> out.println(json(comparison));
      case CSV -> csv(comparison, out);
      case TEXT -> throw new IllegalArgumentException("format TEXT: use ComparisonTextRenderer");
    }
    out.flush();
  }

  private static String json(Comparison c) {
    List<String> rows = new ArrayList<>();
    for (Comparison.Row r : c.rows()) {
      rows.add(
          "\n"
              + new Json.Obj()
                  .field("path", r.path())
                  .raw("a", side(r.a()))
                  .raw("b", side(r.b()))
                  .field("total_ratio", r.totalRatio())
                  .field("self_ratio", r.selfRatio())
                  .field("total_mark", r.totalMark().name().toLowerCase(Locale.ROOT))
                  .field("self_mark", r.selfMark().name().toLowerCase(Locale.ROOT)));
    }
    Comparison.Options o = c.options();
    return new Json.Obj()
        .field("schema", SCHEMA)
        .raw("side_a", runs(c.sideA()))
        .raw("side_b", runs(c.sideB()))
        .raw(
            "options",
            new Json.Obj()
                .field("per_vcpu", o.perVcpu())
                .field("min_relative_difference", o.minRelativeDifference())
                .field("min_absolute_difference_ns", o.minAbsoluteDifferenceNanos())
                .toString())
        .raw("rows", Json.array(rows))
        .toString();
  }

  private static String side(Comparison.SideStats s) {
    return new Json.Obj()
        .raw("count", spread(s.count()))
        .raw("total_ns", spread(s.totalNanos()))
        .raw("self_ns", spread(s.selfNanos()))
        .toString();
  }

  private static String spread(Spread s) {
    return new Json.Obj()
        .field("median", s.median())
        .field("min", s.min())
        .field("max", s.max())
        .toString();
  }

  private static String runs(List<Comparison.Run> runs) {
    List<String> out = new ArrayList<>();
    for (Comparison.Run run : runs) {
      RunSummary s = run.summary();
      out.add(
          new Json.Obj()
              .field("label", run.label())
              .field("guest", s.guest())
              .field("backend", s.backend())
              .field("host", s.hostName())
              .field("cpu", s.cpuModel())
              .field("ticks_per_second", s.ticksPerSecond())
              .field("calibration_ppm", s.calibrationPpm())
              .toString());
    }
    return Json.array(out);
  }

  private static void csv(Comparison c, PrintWriter out) {
    out.println(
        "path,a_count,b_count,a_total_ns,b_total_ns,total_ratio,total_mark,a_self_ns,b_self_ns,"
            + "self_ratio,self_mark");
    for (Comparison.Row r : c.rows()) {
      out.println(
          Json.csv(r.path())
              + ','
              + r.a().count().median()
              + ','
              + r.b().count().median()
              + ','
              + r.a().totalNanos().median()
              + ','
              + r.b().totalNanos().median()
              + ','
              + ratio(r.totalRatio())
              + ','
              + r.totalMark().name().toLowerCase(Locale.ROOT)
              + ','
              + r.a().selfNanos().median()
              + ','
              + r.b().selfNanos().median()
              + ','
              + ratio(r.selfRatio())
              + ','
              + r.selfMark().name().toLowerCase(Locale.ROOT));
    }
  }

  private static String ratio(double r) {
    return Double.isNaN(r) || Double.isInfinite(r) ? "" : String.format(Locale.ROOT, "%.4f", r);
  }
}
