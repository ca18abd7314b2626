package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.perfetto.PerfettoJsonWriter;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace perfetto FILE -o OUT.json}: Chrome trace JSON for ui.perfetto.dev. */
@Command(
    name = "perfetto",
    mixinStandardHelpOptions = true,
    description = "Write Chrome trace event JSON that ui.perfetto.dev and chrome://tracing open.")
final class PerfettoCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "OUT.json",
      description = "Where to write the JSON.")
  Path output;

  @Option(
      names = "--span-args",
      description =
          "Give guest spans their non-zero arguments (args.arg0, args.arg1). Off by default:"
              + " speedscope makes one frame per distinct name and args.")
  boolean spanArgs;

  @Override
  public Integer call() {
    TraceData data = TraceFiles.load(file, spec.commandLine().getErr(), "perfetto");
    try (OutputStream out = Files.newOutputStream(output)) {
      PerfettoJsonWriter.write(
          SpanTreeBuilder.build(data), out, new PerfettoJsonWriter.Options(spanArgs));
    } catch (IOException e) {
      throw CliException.badData("cannot write " + output + ": " + e.getMessage(), e);
    }
    spec.commandLine().getErr().println("guesttrace perfetto: wrote " + output);
    RunCommand.reportLosses(data, spec.commandLine().getErr(), "perfetto");
    return Errors.OK;
  }
}
