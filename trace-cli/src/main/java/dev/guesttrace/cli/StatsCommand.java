package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.InfoRenderer;
import dev.guesttrace.render.StatsRenderer;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace stats FILE}: per-function statistics and the VM-exit profile. */
@Command(
    name = "stats",
    mixinStandardHelpOptions = true,
    description = "Per function: count, total, self, min/median/p99/max; then the VM exits.")
final class StatsCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    TraceData data = TraceFiles.load(file, err, "stats");
    StatsRenderer.render(SpanTreeBuilder.build(data), out);
    out.println();
    InfoRenderer.exits(data.exitProfile(), out);
    out.flush();
    RunCommand.reportLosses(data, err, "stats");
    return Errors.OK;
  }
}
