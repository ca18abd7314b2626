package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.AllocsRenderer;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace allocs FILE}: the guest's allocations replayed: by path, peak, leaks. */
@Command(
    name = "allocs",
    mixinStandardHelpOptions = true,
    description = {
      "The guest's alloc/free records replayed in time order: allocations and frees per call"
          + " path, peak live bytes and when, blocks never freed with the path that allocated"
          + " them, frees of addresses not live."
    })
final class AllocsCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Mixin FormatOption format;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    TraceData data;
    SpanTreeBuilder.Result built;
    AllocsRenderer.Report report;
    try (Progress p =
        progress.start(spec, "allocs", format.format == dev.guesttrace.render.OutputFormat.TEXT)) {
      data = TraceFiles.load(file, err, "allocs", p, readLimit);
      p.phase("building spans");
      built = SpanTreeBuilder.buildWithDetails(data, true);
      p.phase("replaying allocations");
      report = AllocsRenderer.compute(built.tree());
    }
    AllocsRenderer.render(report, format.format, out);
    RunCommand.reportLosses(data, built.diagnostics(), err, "allocs");
    return Errors.OK;
  }
}
