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
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    TraceData data = TraceFiles.load(file, err, "allocs");
    SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(data);
    AllocsRenderer.render(AllocsRenderer.compute(built.tree()), format.format, out);
    RunCommand.reportLosses(data, built.diagnostics(), err, "allocs");
    return Errors.OK;
  }
}
