package dev.guesttrace.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The training run for the JDK's ahead-of-time cache ({@code -XX:AOTCacheOutput}): the commands a
 * user runs most, one after the other in one JVM, so that the classes they load and link, and the
 * methods they profile, go into the cache the {@code guesttrace} launcher starts with. {@code
 * bin/aot-train} runs it while {@code trace-cli} is packaged; docs/performance.md, "Start-up", has
 * what it saves.
 *
 * <p>Usage: {@code java -XX:AOTCacheOutput=CACHE -cp guesttrace.jar dev.guesttrace.cli.AotTraining
 * DIR}, with DIR an empty folder for the trace files it writes. Exits 0 when every command did, 1
 * (naming the command) otherwise.
 */
public final class AotTraining {
  private AotTraining() {}

  /** The commands, in order; {@code DIR} stands for the folder given. */
  static final List<String> COMMANDS =
      List.of(
          "run fib --quiet -o DIR/fib.gtrace",
          "run hello -o DIR/hello.gtrace",
          "run hello --quiet",
          "info DIR/fib.gtrace",
          "tree DIR/hello.gtrace",
          "stats DIR/fib.gtrace",
          "guests");

  /** Runs every command; see the class comment. */
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: AotTraining DIR");
      System.exit(2);
    }
    System.exit(train(Path.of(args[0]), new PrintWriter(System.err, true)));
  }

  /** Runs every command with its output discarded; returns 0, or 1 at the first that failed. */
  static int train(Path dir, PrintWriter err) throws Exception {
    Files.createDirectories(dir);
    for (String command : COMMANDS) {
      // Split before substituting, so a folder with spaces stays one argument.
      String[] args =
          java.util.Arrays.stream(command.split(" "))
              .map(a -> a.replace("DIR", dir.toString()))
              .toArray(String[]::new);
      StringWriter output = new StringWriter();
      int status = Guesttrace.execute(args, new PrintWriter(output), new PrintWriter(output));
      if (status != 0) {
        err.println("AOT training: 'guesttrace " + command + "' exited " + status + ": " + output);
        return 1;
      }
    }
    return 0;
  }
}
