package dev.guesttrace.cli;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileException;
import dev.guesttrace.file.TraceFileReader;
import java.io.IOException;
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
   * @throws CliException exit 1 if the file is missing or not a readable trace
   */
  static TraceData load(Path path, PrintWriter err, String verb) {
    return loadWithReport(path, err, verb).data();
  }

  /** {@link #load}, with what the read found about the file (for {@code info}). */
  static TraceFileReader.Result loadWithReport(Path path, PrintWriter err, String verb) {
    if (!Files.exists(path)) {
      throw CliException.badData("no such file: " + path);
    }
    Progress progress = Progress.start(err, verb, "reading " + path + " (" + size(path) + ")");
    try {
      return TraceFileReader.readWithReport(
          path,
          warning -> {
            err.println("guesttrace " + verb + ": warning: " + warning);
            err.flush();
          });
    } catch (NoSuchFileException e) {
      throw CliException.badData("no such file: " + path, e);
    } catch (TraceFileException e) {
      throw CliException.badData(path + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw CliException.badData("cannot read " + path + ": " + Errors.cause(e), e);
    } finally {
      progress.close();
    }
  }

  private static String size(Path path) {
    try {
      return Files.size(path) / (1024 * 1024) + " MiB";
    } catch (IOException e) {
      return "size unknown";
    }
  }
}
