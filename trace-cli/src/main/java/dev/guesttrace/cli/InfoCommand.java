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
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Override
  public Integer call() {
    TraceFileReader.Result read =
        TraceFiles.loadWithReport(file, spec.commandLine().getErr(), "info");
    TraceData data = read.data();
    SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(data);
    TracingTime.Overhead tracing = TracingTime.overhead(built.tree());
    if (format.format == OutputFormat.TEXT) {
      InfoRenderer.render(
          data,
          built.calibration(),
          built.diagnostics(),
          read.report().notes(),
          read.report().recordsLostToDamage(),
          spec.commandLine().getOut());
      InfoRenderer.tracing(tracing, spec.commandLine().getOut());
    } else {
      InfoDataWriter.write(
          data,
          built.calibration(),
          built.diagnostics(),
          read.report().notes(),
          tracing,
          format.format,
          spec.commandLine().getOut());
    }
    return Errors.OK;
  }
}
