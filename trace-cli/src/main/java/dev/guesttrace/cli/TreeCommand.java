package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.TextTreeRenderer;
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
    description = "Print the span tree of a trace file.")
final class TreeCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Option(names = "--compact", description = "One line per span.")
  boolean compact;

  @Option(names = "--vcpu", paramLabel = "N", description = "Only vCPU N.")
  Integer vcpu;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    TraceData data = TraceFiles.load(file, err, "tree");
    if (vcpu != null && (vcpu < 0 || vcpu >= data.vcpuCount())) {
      throw CliException.usage(
          "--vcpu: expected 0.." + (data.vcpuCount() - 1) + " for this trace, found " + vcpu);
    }
    TextTreeRenderer renderer = TextTreeRenderer.full().compact(compact);
    if (vcpu != null) {
      renderer = renderer.onlyVcpu(vcpu);
    }
    SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(data);
    renderer.render(built.tree(), out);
    RunCommand.reportLosses(data, built.diagnostics(), err, "tree");
    return Errors.OK;
  }
}
