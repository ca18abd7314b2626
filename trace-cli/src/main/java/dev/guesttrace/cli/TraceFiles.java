package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileException;
import dev.guesttrace.file.TraceFileReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading trace files for the verbs that take one, with one-line errors and warnings. */
final class TraceFiles {
  private TraceFiles() {}

  /**
   * Reads {@code path}; a cut-off file is read to its last complete batch with a warning on {@code
   * err}.
   *
   * @throws CliException exit 1 if the file is missing, not a readable trace, or holds more records
   *     than {@code limit}
   */
  static TraceData load(
      Path path, PrintWriter err, String verb, Progress progress, ReadLimitOption limit) {
    return loadWithReport(path, err, verb, progress, limit).data();
  }

  /**
   * {@link #load}, with what the read found about the file (for {@code info}); {@code progress}
   * shows the bytes read, the rate and the share of the file.
   */
  static TraceFileReader.Result loadWithReport(
      Path path, PrintWriter err, String verb, Progress progress, ReadLimitOption limit) {
    TraceFileReader.Limits limits = limit.limits();
    if (!Files.exists(path)) {
      throw CliException.badData("no such file: " + path);
    }
    try (InputStream in = new Counting(Files.newInputStream(path), progress)) {
      progress.phase("reading " + Progress.name(path), Progress.Unit.BYTES, size(path));
      return TraceFileReader.read(
          in, warning -> progress.println("guesttrace " + verb + ": warning: " + warning), limits);
    } catch (NoSuchFileException e) {
      throw CliException.badData("no such file: " + path, e);
    } catch (TraceFileReader.TooManyRecordsException e) {
      throw CliException.badData(
          path
              + ": holds more than "
              + e.limit()
              + " records, this reader's limit: --max-records N reads more (about "
              + ReadLimitOption.HEAP_BYTES_PER_RECORD
              + " B of heap per record)",
          e);
    } catch (TraceFileException e) {
      throw CliException.badData(path + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw CliException.badData("cannot read " + path + ": " + Errors.cause(e), e);
    }
  }

  private static long size(Path path) {
    try {
      return Files.size(path);
    } catch (IOException e) {
      return 0; // not known: the line shows bytes without a share
    }
  }

  /** Tells the progress line how many bytes were read (a volatile write per buffer read). */
  private static final class Counting extends FilterInputStream {
    private final Progress progress;
    private long bytes;

    Counting(InputStream in, Progress progress) {
      super(in);
      this.progress = progress;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        progress.done(++bytes);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        bytes += n;
        progress.done(bytes);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = super.skip(n);
      bytes += Math.max(0, skipped);
      progress.done(bytes);
      return skipped;
    }
  }
}
