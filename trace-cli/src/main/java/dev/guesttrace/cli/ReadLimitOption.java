package dev.guesttrace.cli;

import dev.guesttrace.file.TraceFileReader;
import picocli.CommandLine.Option;

/**
 * {@code --max-records N} for the verbs that read a trace file: the views hold every record in
 * memory, so a file with more than N is refused in one line (naming this option) rather than
 * exhausting the heap. {@code run -o FILE --quiet} streams files of any size, so a user must be
 * able to raise it.
 */
final class ReadLimitOption {
  /**
   * Heap a view needs per record, about: {@code info} read a 10.2 M-record file (fib, a span per
   * two records) at {@code -Xmx450m}; it needed {@code -Xmx1250m} before the span tree was
   * compacted and the records freed as the tree takes them (docs/performance.md, "Reading big
   * files"). A message costs its text on top.
   */
  static final int HEAP_BYTES_PER_RECORD = 50;

  @Option(
      names = "--max-records",
      paramLabel = "N",
      defaultValue = "" + TraceFileReader.DEFAULT_MAX_RECORDS,
      description =
          "Refuse a file with more than N records (each needs about "
              + HEAP_BYTES_PER_RECORD
              + " B of heap; more heap with GUESTTRACE_JAVA_OPTS=-Xmx...).")
  long maxRecords = TraceFileReader.DEFAULT_MAX_RECORDS;

  /**
   * The reader's limits with this record limit.
   *
   * @throws CliException exit 2 if N is not positive
   */
  TraceFileReader.Limits limits() {
    if (maxRecords < 1) {
      throw CliException.usage("--max-records: expected 1 or more, found " + maxRecords);
    }
    return TraceFileReader.Limits.DEFAULT.withMaxRecords(maxRecords);
  }
}
