package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.compare.Comparison;
import dev.guesttrace.compare.ComparisonSvgRenderer;
import dev.guesttrace.compare.ComparisonTextRenderer;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code guesttrace compare A.gtrace... --vs B.gtrace...}: where B differs from A, beyond noise.
 */
@Command(
    name = "compare",
    mixinStandardHelpOptions = true,
    description =
        "Compare runs by call path: medians and spread per side, the ratio B/A, and a mark only"
            + " where the difference exceeds the run-to-run spread.")
final class CompareCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Mixin FormatOption format;
  @Mixin ProgressOption progress;
  @Mixin ReadLimitOption readLimit;
  @Spec CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "A.gtrace", description = "Side A: one or more runs.")
  List<Path> sideA = new ArrayList<>();

  @Option(
      names = "--vs",
      arity = "1..*",
      required = true,
      paramLabel = "B.gtrace",
      description = "Side B: one or more runs.")
  List<Path> sideB = new ArrayList<>();

  @Option(names = "--per-vcpu", description = "Keep vCPUs apart instead of merging them.")
  boolean perVcpu;

  @Option(names = "--svg", paramLabel = "OUT.svg", description = "Also draw the comparison.")
  Path svg;

  @Option(
      names = "--exclude-tracing",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description =
          "Take trace exits (the host's flushes) out of the spans they interrupted (default;"
              + " --no-exclude-tracing keeps them).")
  boolean excludeTracing;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    Comparison comparison;
    try (Progress p =
        progress.start(spec, "compare", format.format == dev.guesttrace.render.OutputFormat.TEXT)) {
      List<Comparison.Run> a = runs(sideA, err, p);
      List<Comparison.Run> b = runs(sideB, err, p);
      p.phase("comparing");
      comparison =
          Comparison.ofRuns(
              a,
              b,
              Comparison.Options.defaults()
                  .withPerVcpu(perVcpu)
                  .withExcludeTracing(excludeTracing));
    }
    PrintWriter out = spec.commandLine().getOut();
    try {
      if (format.format == dev.guesttrace.render.OutputFormat.TEXT) {
        ComparisonTextRenderer.render(comparison, out);
        out.flush();
      } else {
        dev.guesttrace.compare.ComparisonDataWriter.write(comparison, format.format, out);
      }
      if (svg != null) {
        try (Writer w = Files.newBufferedWriter(svg, StandardCharsets.UTF_8)) {
          ComparisonSvgRenderer.render(comparison, w);
        }
        err.println("guesttrace compare: wrote " + svg);
      }
    } catch (IOException e) {
      throw CliException.badData("cannot write " + svg + ": " + Errors.cause(e), e);
    } catch (java.io.UncheckedIOException e) {
      // The SVG renderer writes through a Writer and wraps what it throws.
      throw CliException.badData("cannot write " + svg + ": " + Errors.cause(e.getCause()), e);
    }
    return Errors.OK;
  }

  private List<Comparison.Run> runs(List<Path> files, PrintWriter err, Progress p) {
    List<Comparison.Run> runs = new ArrayList<>();
    for (Path f : files) {
      TraceData data = TraceFiles.load(f, err, "compare", p, readLimit);
      p.phase("building spans of " + Progress.name(f));
      runs.add(
          new Comparison.Run(
              f.getFileName().toString(), SpanTreeBuilder.buildWithDetails(data, true).tree()));
    }
    return runs;
  }
}
