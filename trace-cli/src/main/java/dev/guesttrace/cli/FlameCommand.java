package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.compare.TracingTime;
import dev.guesttrace.flame.FlameGraphSvg;
import dev.guesttrace.flame.FoldedStacks;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.TraceTree;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace flame FILE [--svg OUT.svg]}: folded stacks, or an SVG flame graph. */
@Command(
    name = "flame",
    mixinStandardHelpOptions = true,
    description =
        "Print folded stacks (self time in ns; flamegraph.pl and speedscope read them), or write an"
            + " SVG flame graph with --svg.")
final class FlameCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Option(names = "--svg", paramLabel = "OUT.svg", description = "Write an SVG flame graph.")
  Path svg;

  @Option(names = "--per-vcpu", description = "Keep vCPUs apart (a root frame per vCPU).")
  boolean perVcpu;

  @Option(
      names = "--exclude-tracing",
      description = "Take trace exits (the host's flushes) out of the spans they interrupted.")
  boolean excludeTracing;

  @Override
  public Integer call() {
    TraceData data;
    TraceTree tree;
    try (Progress p = progress.start(spec, "flame", svg != null)) {
      data = TraceFiles.load(file, spec.commandLine().getErr(), "flame", p, readLimit);
      p.phase("building spans");
      TraceTree built = SpanTreeBuilder.buildWithDetails(data, true).tree();
      tree = excludeTracing ? TracingTime.withoutTracing(built) : built;
    }
    try {
      if (svg != null) {
        try (Writer out = Files.newBufferedWriter(svg, StandardCharsets.UTF_8)) {
          FlameGraphSvg.write(tree, out, perVcpu);
        }
        spec.commandLine().getErr().println("guesttrace flame: wrote " + svg);
      } else {
        FoldedStacks.write(tree, spec.commandLine().getOut(), perVcpu);
        spec.commandLine().getOut().flush();
      }
    } catch (IOException e) {
      throw CliException.badData(
          "cannot write " + (svg == null ? "output" : svg) + ": " + Errors.cause(e), e);
    }
    RunCommand.reportLosses(data, spec.commandLine().getErr(), "flame");
    return Errors.OK;
  }
}
