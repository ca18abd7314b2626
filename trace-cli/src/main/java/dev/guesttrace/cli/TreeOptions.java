package dev.guesttrace.cli;

import dev.guesttrace.render.TextTreeRenderer;
import dev.guesttrace.render.TreeDataWriter;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** How a span tree is shown: shared by {@code tree} and {@code run}. */
final class TreeOptions {
  @Option(names = "--compact", description = "One line per span, no events.")
  boolean compact;

  @Option(
      names = "--max-depth",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "Show N levels of spans (top-level spans are level 1); hidden ones are summarized on one"
              + " line. 0: all.")
  int maxDepth;

  @Option(
      names = "--min-duration",
      paramLabel = "D",
      converter = Nanos.class,
      defaultValue = "0",
      description =
          "Hide spans shorter than D (e.g. 500ns, 20us, 1.5ms, 2s), summarized on one line per"
              + " parent.")
  long minDurationNanos;

  @Option(
      names = "--filter",
      paramLabel = "REGEX",
      description =
          "Only spans whose name matches REGEX (host spans as '[host] name'), with their"
              + " ancestors (default: every span).")
  String filter;

  @Option(
      names = "--fold",
      paramLabel = "N",
      defaultValue = "" + TextTreeRenderer.DEFAULT_FOLD,
      description =
          "Write N or more identical consecutive sibling subtrees as one line (count, total,"
              + " min/median/max). 0: never.")
  int fold;

  @Option(
      names = "--unit",
      paramLabel = "UNIT",
      defaultValue = "auto",
      description = "Unit of the time column: auto (from the run's length), ns, us, ms or s.")
  String unit;

  @Option(
      names = "--max-lines",
      paramLabel = "N",
      defaultValue = "" + TextTreeRenderer.DEFAULT_MAX_LINES,
      description = "Stop after N lines with a note. 0: no limit.")
  long maxLines;

  /**
   * Checks every value now ({@code run} calls it before the guest starts).
   *
   * @throws CliException exit 2 naming the option and what was found
   */
  void validate() {
    check();
    unit();
    pattern();
  }

  /** The text renderer these options describe. */
  TextTreeRenderer renderer(Integer vcpu) {
    check();
    TextTreeRenderer r =
        TextTreeRenderer.full()
            .compact(compact)
            .maxDepth(maxDepth)
            .minDuration(minDurationNanos)
            .fold(fold)
            .unit(unit())
            .maxLines(maxLines);
    if (vcpu != null) {
      r = r.onlyVcpu(vcpu);
    }
    Pattern p = pattern();
    return p == null ? r : r.filter(p);
  }

  /** The selection the JSON and CSV forms use. */
  TreeDataWriter.Selection selection(Integer vcpu) {
    check();
    return new TreeDataWriter.Selection(
        vcpu == null ? OptionalInt.empty() : OptionalInt.of(vcpu),
        maxDepth,
        minDurationNanos,
        pattern());
  }

  private void check() {
    if (maxDepth < 0) {
      throw CliException.usage("--max-depth: expected 0 (all) or more, found " + maxDepth);
    }
    if (fold < 0 || fold == 1) {
      throw CliException.usage("--fold: expected 0 (never) or 2 or more, found " + fold);
    }
    if (maxLines < 0) {
      throw CliException.usage("--max-lines: expected 0 (no limit) or more, found " + maxLines);
    }
  }

  private TextTreeRenderer.Unit unit() {
    try {
      return TextTreeRenderer.Unit.parse(unit);
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--unit: " + e.getMessage());
    }
  }

  private Pattern pattern() {
    if (filter == null) {
      return null;
    }
    try {
      return Pattern.compile(filter);
    } catch (PatternSyntaxException e) {
      throw CliException.usage(
          "--filter: not a regular expression: " + Errors.firstLine(e.getMessage()));
    }
  }

  /** Parses a duration to nanoseconds: {@code 500ns}, {@code 20us}, {@code 1.5ms}, {@code 2s}. */
  static final class Nanos implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      long scale;
      String number;
      if (v.endsWith("ns")) {
        scale = 1;
        number = v.substring(0, v.length() - 2);
      } else if (v.endsWith("us") || v.endsWith("µs")) {
        scale = 1_000;
        number = v.substring(0, v.length() - 2);
      } else if (v.endsWith("ms")) {
        scale = 1_000_000;
        number = v.substring(0, v.length() - 2);
      } else if (v.endsWith("s")) {
        scale = 1_000_000_000;
        number = v.substring(0, v.length() - 1);
      } else if (v.equals("0")) {
        return 0L;
      } else {
        throw new CommandLine.TypeConversionException(
            "expected a duration such as 500ns, 20us, 1.5ms or 2s, found '" + value + "'");
      }
      try {
        double d = Double.parseDouble(number) * scale;
        if (!(d >= 0) || d > Long.MAX_VALUE / 2.0) {
          throw new NumberFormatException();
        }
        return Math.round(d);
      } catch (NumberFormatException e) {
        throw new CommandLine.TypeConversionException(
            "expected a duration such as 500ns, 20us, 1.5ms or 2s, found '" + value + "'");
      }
    }
  }
}
