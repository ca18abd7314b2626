package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.OutputFormat;
import dev.guesttrace.render.TextTreeRenderer;
import dev.guesttrace.render.TreeDataWriter;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace tree FILE}: the span tree again, from the trace file alone. */
@Command(
    name = "tree",
    mixinStandardHelpOptions = true,
    description = {
      "Print the span tree of a trace file.",
      "Times count from the run's start, in one unit for the column. A failed run's outcome is"
          + " marked (!!) inside the span where it happened."
    })
final class TreeCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Mixin TreeOptions treeOptions;
  @Mixin FormatOption format;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Option(names = "--vcpu", paramLabel = "N", description = "Only vCPU N. Default: every vCPU.")
  Integer vcpu;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    TextTreeRenderer renderer = treeOptions.renderer(vcpu);
    TreeDataWriter.Selection selection = treeOptions.selection(vcpu);
    TraceData data;
    SpanTreeBuilder.Result built;
    try (Progress p = progress.start(spec, "tree", format.format == OutputFormat.TEXT)) {
      data = TraceFiles.load(file, err, "tree", p, readLimit);
      if (vcpu != null && (vcpu < 0 || vcpu >= data.vcpuCount())) {
        throw CliException.usage(
            "--vcpu: expected 0.." + (data.vcpuCount() - 1) + " for this trace, found " + vcpu);
      }
      p.phase("building spans");
      built = SpanTreeBuilder.buildWithDetails(data, true);
    }
    if (format.format == OutputFormat.TEXT) {
      renderer = TextTreeRenderer.failureOf(data).map(renderer::failure).orElse(renderer);
      renderer.render(built.tree(), out);
    } else {
      TreeDataWriter.write(built.tree(), selection, format.format, out);
    }
    RunCommand.reportLosses(data, built.diagnostics(), err, "tree");
    return Errors.OK;
  }
}
