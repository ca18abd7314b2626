package dev.guesttrace.file;

/** A trace file that cannot be read: the message is one line saying what was expected and found. */
public class TraceFileException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Creates the exception. */
  public TraceFileException(String message) {
    super(message);
  }

  /** Creates the exception with a cause kept for {@code --verbose}. */
  public TraceFileException(String message, Throwable cause) {
    super(message, cause);
  }
}
