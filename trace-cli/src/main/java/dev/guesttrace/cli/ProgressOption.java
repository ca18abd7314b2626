package dev.guesttrace.cli;

import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** {@code --progress auto|always|never} for the verbs that can run long. */
final class ProgressOption {
  @Option(
      names = "--progress",
      paramLabel = "WHEN",
      defaultValue = "auto",
      converter = Converter.class,
      description =
          "A progress line on stderr for long work: auto (only when stderr is a terminal and the"
              + " output is text for a person), always or never.")
  Progress.When when = Progress.When.AUTO;

  /**
   * Starts the verb's progress line (silent unless {@link Progress#enabled}).
   *
   * @param forPerson false for {@code --quiet} or {@code --format json|csv}: {@code auto} is silent
   */
  Progress start(CommandSpec spec, String verb, boolean forPerson) {
    return Progress.start(spec.commandLine().getErr(), verb, when, forPerson);
  }

  /** Parses the word with a one-line error. */
  static final class Converter implements CommandLine.ITypeConverter<Progress.When> {
    @Override
    public Progress.When convert(String value) {
      try {
        return Progress.When.valueOf(value.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(
            "expected auto, always or never, found '" + value + "'");
      }
    }
  }
}
