package dev.guesttrace.cli;

import dev.guesttrace.render.OutputFormat;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code --format text|json|csv} for the verbs that read a trace (docs/formats.md). */
final class FormatOption {
  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      converter = Converter.class,
      description = "text, json or csv (schemas in docs/formats.md).")
  OutputFormat format = OutputFormat.TEXT;

  /** Parses the format name with a one-line error. */
  static final class Converter implements CommandLine.ITypeConverter<OutputFormat> {
    @Override
    public OutputFormat convert(String value) {
      try {
        return OutputFormat.parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
