package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.compare.TracingTime;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.render.InfoDataWriter;
import dev.guesttrace.render.InfoRenderer;
import dev.guesttrace.render.OutputFormat;
import dev.guesttrace.span.SpanTreeBuilder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace info FILE}: the run, the host, the calibration, losses and diagnostics. */
@Command(
    name = "info",
    mixinStandardHelpOptions = true,
    description =
        "Host, backend, calibration and its error, records, losses, diagnostics, VM exits,"
            + " tracing overhead.")
final class InfoCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Mixin FormatOption format;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Override
  public Integer call() {
    TraceFileReader.Result read;
    SpanTreeBuilder.Result built;
    TracingTime.Overhead tracing;
    try (Progress p = progress.start(spec, "info", format.format == OutputFormat.TEXT)) {
      read = TraceFiles.loadWithReport(file, spec.commandLine().getErr(), "info", p, readLimit);
      p.phase("building spans");
      built = SpanTreeBuilder.buildWithDetails(read.data(), true);
      tracing = TracingTime.overhead(built.tree());
    }
    TraceData data = read.data();
    if (format.format == OutputFormat.TEXT) {
      InfoRenderer.render(
          data,
          built.calibration(),
          built.diagnostics(),
          read.report(),
          spec.commandLine().getOut());
      InfoRenderer.tracing(tracing, spec.commandLine().getOut());
    } else {
      InfoDataWriter.write(
          data,
          built.calibration(),
          built.diagnostics(),
          read.report(),
          tracing,
          format.format,
          spec.commandLine().getOut());
    }
    return Errors.OK;
  }
}
