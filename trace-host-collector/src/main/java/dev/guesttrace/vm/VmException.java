package dev.guesttrace.vm;

/** A VM could not be created or run; the message is one line for the user. */
public class VmException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Creates the exception. */
  public VmException(String message) {
    super(message);
  }

  /** Creates the exception with a cause kept for {@code --verbose}. */
  public VmException(String message, Throwable cause) {
    super(message, cause);
  }
}
