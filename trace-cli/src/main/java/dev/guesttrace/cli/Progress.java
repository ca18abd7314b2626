package dev.guesttrace.cli;

import java.io.PrintWriter;

/**
 * A progress line on stderr for long work, only when stderr is a terminal: the {@code ./guesttrace}
 * launcher tests that ({@code [ -t 2 ]}, which Java cannot) and sets {@code
 * -Dguesttrace.progress=true}. Silent otherwise, so scripts and tests see no progress text. The
 * line appears after {@link #DELAY_MILLIS} (short work shows nothing), is rewritten in place every
 * second, and is erased when the work ends.
 */
final class Progress implements AutoCloseable {
  /** Work shorter than this shows no line at all. */
  static final long DELAY_MILLIS = 1000;

  private final Thread ticker;

  private Progress(Thread ticker) {
    this.ticker = ticker;
  }

  /** Whether this process shows progress (stderr is a terminal, as the launcher found). */
  static boolean enabled() {
    return Boolean.getBoolean("guesttrace.progress");
  }

  /**
   * Starts a progress line {@code guesttrace VERB: WHAT, N s}; close it when the work ends.
   *
   * @param err where to write (stderr)
   * @param verb the verb, e.g. {@code stats}
   * @param what the work, e.g. {@code reading big.gtrace (812 MB)}
   */
  static Progress start(PrintWriter err, String verb, String what) {
    if (!enabled()) {
      return new Progress(null);
    }
    long start = System.nanoTime();
    Thread t =
        Thread.ofPlatform()
            .daemon()
            .name("guesttrace-progress")
            .unstarted(
                () -> {
                  try {
                    Thread.sleep(DELAY_MILLIS);
                    while (true) {
                      long seconds = (System.nanoTime() - start) / 1_000_000_000L;
                      synchronized (err) {
                        err.print(
                            "\rguesttrace " + verb + ": " + what + ", " + seconds + " s\033[K");
                        err.flush();
                      }
                      Thread.sleep(1000);
                    }
                  } catch (InterruptedException e) {
                    synchronized (err) {
                      err.print("\r\033[K");
                      err.flush();
                    }
                  }
                });
    t.start();
    return new Progress(t);
  }

  @Override
  public void close() {
    if (ticker != null) {
      ticker.interrupt();
      try {
        ticker.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
