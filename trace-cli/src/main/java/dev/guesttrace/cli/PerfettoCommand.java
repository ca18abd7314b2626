package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.perfetto.PerfettoJsonWriter;
import dev.guesttrace.perfetto.PerfettoProtoWriter;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.TraceTree;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code guesttrace perfetto FILE -o OUT}: Perfetto's protobuf trace ({@code .pftrace}) or Chrome
 * trace event JSON, chosen by the output's extension or {@code --format}.
 */
@Command(
    name = "perfetto",
    mixinStandardHelpOptions = true,
    description = {
      "Write the run for trace viewers: Perfetto's protobuf format (OUT.pftrace, for"
          + " ui.perfetto.dev) or Chrome trace event JSON (OUT.json, for speedscope and other"
          + " JSON-only viewers).",
      "The format comes from the extension (.pftrace, .perfetto-trace or .pb: protobuf;"
          + " anything else: JSON) unless --format says."
    })
final class PerfettoCommand implements Callable<Integer> {
  /** The two formats. */
  enum Format {
    json,
    proto
  }

  @Mixin CommonOptions common;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "A .gtrace file.")
  Path file;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "OUT",
      description = "Where to write: OUT.pftrace (protobuf) or OUT.json.")
  Path output;

  @Option(
      names = "--format",
      paramLabel = "json|proto",
      description = "Write this format whatever the extension (default: from OUT's extension).")
  Format format;

  @Option(
      names = "--span-args",
      description =
          "JSON: give guest spans their non-zero arguments (args.arg0, args.arg1). Off by"
              + " default: speedscope makes one frame per distinct name and args. (The protobuf"
              + " format always has them.)")
  boolean spanArgs;

  @Option(
      names = "--no-compress",
      description =
          "Protobuf: write plain packets instead of deflate-compressed groups (about 5x larger;"
              + " for tools that decode Perfetto's protos but do not inflate).")
  boolean noCompress;

  /** The format for {@code output}: {@code --format}, else by extension. */
  static Format formatOf(Path output, Format explicit) {
    if (explicit != null) {
      return explicit;
    }
    String name = String.valueOf(output.getFileName()).toLowerCase(Locale.ROOT);
    return name.endsWith(".pftrace") || name.endsWith(".perfetto-trace") || name.endsWith(".pb")
        ? Format.proto
        : Format.json;
  }

  @Override
  public Integer call() {
    Format chosen = formatOf(output, format);
    if (spanArgs && chosen != Format.json) {
      throw CliException.usage("--span-args is for JSON output; the protobuf format has them");
    }
    if (noCompress && chosen != Format.proto) {
      throw CliException.usage("--no-compress is for protobuf output (.pftrace or --format proto)");
    }
    TraceData data;
    try (Progress p = progress.start(spec, "perfetto", true)) {
      data = TraceFiles.load(file, spec.commandLine().getErr(), "perfetto", p, readLimit);
      p.phase("building spans");
      TraceTree tree = SpanTreeBuilder.buildWithDetails(data, true).tree();
      p.phase("writing " + Progress.name(output));
      try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(output), 1 << 16)) {
        if (chosen == Format.proto) {
          PerfettoProtoWriter.write(tree, out, new PerfettoProtoWriter.Options(!noCompress));
        } else {
          PerfettoJsonWriter.write(tree, out, new PerfettoJsonWriter.Options(spanArgs));
        }
      } catch (IOException e) {
        throw CliException.badData("cannot write " + output + ": " + Errors.cause(e), e);
      }
    }
    long bytes;
    try {
      bytes = Files.size(output);
    } catch (IOException e) {
      bytes = -1;
    }
    spec.commandLine()
        .getErr()
        .println(
            "guesttrace perfetto: wrote "
                + output
                + " ("
                + (chosen == Format.proto ? "Perfetto protobuf" : "JSON")
                + (bytes >= 0 ? ", " + bytes + " bytes" : "")
                + ")");
    RunCommand.reportLosses(data, spec.commandLine().getErr(), "perfetto");
    return Errors.OK;
  }
}
