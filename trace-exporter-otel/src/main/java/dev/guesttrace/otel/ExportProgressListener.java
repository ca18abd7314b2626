package dev.guesttrace.otel;

/**
 * Told after each batch an export has finished with (sent or failed), on the exporting thread. The
 * CLI prints it on stderr when stderr is a terminal.
 */
@FunctionalInterface
public interface ExportProgressListener {
  /** A listener that ignores progress. */
  ExportProgressListener NONE = (spansDone, spansTotal) -> {};

  /**
   * Called after each batch.
   *
   * @param spansDone spans sent or given up on so far
   * @param spansTotal spans in the whole trace
   */
  void onProgress(long spansDone, long spansTotal);
}
