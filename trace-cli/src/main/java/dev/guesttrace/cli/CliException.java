package dev.guesttrace.cli;

/** An error the user sees as one line, with the exit status it maps to. */
final class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;

  CliException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  CliException(int exitCode, String message, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  static CliException badData(String message) {
    return new CliException(Errors.BAD_DATA, message);
  }

  static CliException badData(String message, Throwable cause) {
    return new CliException(Errors.BAD_DATA, message, cause);
  }

  static CliException usage(String message) {
    return new CliException(Errors.USAGE, message);
  }

  int exitCode() {
    return exitCode;
  }
}
