package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.span.SpanTreeBuilder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace export FILE --otlp URL}: send a trace to Jaeger, Tempo or SkyWalking. */
@Command(
    name = "export",
    mixinStandardHelpOptions = true,
    description =
        "Send a trace file over OTLP (Jaeger, Grafana Tempo, SkyWalking). The file is never changed,"
            + " so a failed export can simply be run again.")
final class ExportCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Mixin OtlpOptions otlpOptions;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Option(
      names = "--otlp",
      paramLabel = "URL",
      description =
          "Receiver, e.g. http://localhost:4317 (gRPC) or http://localhost:4318 (http/protobuf);"
              + " default: OTEL_EXPORTER_OTLP_ENDPOINT.")
  String endpoint;

  @Override
  public Integer call() {
    TraceData data;
    try (Progress p = progress.start(spec, "export", true)) {
      data = TraceFiles.load(file, spec.commandLine().getErr(), "export", p, readLimit);
      p.phase("building spans");
      otlpOptions.export(
          SpanTreeBuilder.buildWithDetails(data, true).tree(),
          endpoint,
          spec.commandLine().getErr(),
          "export",
          p);
    }
    RunCommand.reportLosses(data, spec.commandLine().getErr(), "export");
    return Errors.OK;
  }
}
