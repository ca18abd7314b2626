package dev.guesttrace.cli;

import picocli.CommandLine.Option;

/** Options every verb takes. */
final class CommonOptions {
  @Option(
      names = "--verbose",
      description = "Print stack traces with errors, and more detail as the command runs.")
  boolean verbose;
}
