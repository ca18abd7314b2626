package dev.guesttrace.recover;

import java.io.IOException;

/**
 * A dump that cannot be read at all (missing, empty, an ELF header that is not a core's): one line
 * saying what was expected and what was found. Problems inside a readable dump are counted
 * diagnostics instead.
 */
public final class DumpException extends IOException {
  private static final long serialVersionUID = 1L;

  /** An error with a one-line message. */
  public DumpException(String message) {
    super(message);
  }

  /** An error with a one-line message and its cause. */
  public DumpException(String message, Throwable cause) {
    super(message, cause);
  }
}
