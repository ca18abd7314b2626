package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.InfoRenderer;
import dev.guesttrace.render.OutputFormat;
import dev.guesttrace.render.StatsRenderer;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace stats FILE}: per-function statistics and the VM-exit profile. */
@Command(
    name = "stats",
    mixinStandardHelpOptions = true,
    description = {
      "Per function (or call path): count, total, %% of run, self, min/median/p99/max; then the"
          + " VM exits.",
      "Total counts a recursive call once, so no function exceeds the run. Median and p99 are"
          + " exact up to 1024 calls a row, beyond from HdrHistogram (3 significant digits)."
    })
final class StatsCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Mixin FormatOption format;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Option(
      names = "--sort",
      paramLabel = "KEY",
      defaultValue = "total",
      description = "total, self, count, min, median, p99, max or name (largest first).")
  String sort;

  @Option(
      names = "--top",
      paramLabel = "N",
      defaultValue = "50",
      description = "Show the first N rows, 0 for all.")
  int top;

  @Option(
      names = "--by",
      paramLabel = "WHAT",
      defaultValue = "function",
      description = "function or path (one row per call path).")
  String by;

  @Option(names = "--vcpu", paramLabel = "N", description = "Only vCPU N. Default: every vCPU.")
  Integer vcpu;

  @Option(
      names = "--exclude-tracing",
      description =
          "Subtract trace exits (flushes, registration) from the spans they interrupted and leave"
              + " them out of the rows.")
  boolean excludeTracing;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    StatsRenderer.Options options = options();
    TraceData data;
    SpanTreeBuilder.Result built;
    StatsRenderer.Report report;
    try (Progress p = progress.start(spec, "stats", format.format == OutputFormat.TEXT)) {
      data = TraceFiles.load(file, err, "stats", p, readLimit);
      if (vcpu != null && (vcpu < 0 || vcpu >= data.vcpuCount())) {
        throw CliException.usage(
            "--vcpu: expected 0.." + (data.vcpuCount() - 1) + " for this trace, found " + vcpu);
      }
      p.phase("building spans");
      built = SpanTreeBuilder.buildWithDetails(data, true);
      p.phase("computing statistics");
      report = StatsRenderer.compute(built.tree(), options);
    }
    StatsRenderer.render(report, options, format.format, out);
    if (format.format == OutputFormat.TEXT) {
      out.println();
      InfoRenderer.exits(data.exitProfile(), out);
      out.flush();
    }
    RunCommand.reportLosses(data, built.diagnostics(), err, "stats");
    return Errors.OK;
  }

  private StatsRenderer.Options options() {
    StatsRenderer.Sort s =
        parse(
            StatsRenderer.Sort.class,
            sort,
            "--sort",
            "total, self, count, min, median, p99," + " max or name");
    StatsRenderer.By b = parse(StatsRenderer.By.class, by, "--by", "function or path");
    if (top < 0) {
      throw CliException.usage("--top: expected 0 (all) or more, found " + top);
    }
    return new StatsRenderer.Options(
        b, s, top, vcpu == null ? OptionalInt.empty() : OptionalInt.of(vcpu), excludeTracing);
  }

  static <E extends Enum<E>> E parse(Class<E> type, String value, String option, String expected) {
    try {
      return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw CliException.usage(option + ": expected " + expected + ", found '" + value + "'");
    }
  }
}
