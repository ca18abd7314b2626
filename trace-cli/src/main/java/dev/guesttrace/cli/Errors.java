package dev.guesttrace.cli;

import dev.guesttrace.render.Printable;
import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * One-line errors for the user: {@code guesttrace tree: <what was expected, what was found>}; the
 * stack trace only with {@code --verbose}.
 */
final class Errors {
  /** Exit status: success. */
  static final int OK = 0;

  /** Exit status: bad data (an invalid trace, a faulting guest, a failed export). */
  static final int BAD_DATA = 1;

  /** Exit status: bad usage. */
  static final int USAGE = 2;

  private Errors() {}

  static int onUsageError(CommandLine.ParameterException e, String[] args) {
    CommandLine cmd = e.getCommandLine();
    PrintWriter err = cmd.getErr();
    String message =
        e instanceof CommandLine.UnmatchedArgumentException u ? unmatched(u) : e.getMessage();
    // The message quotes the arguments: escapes in them are shown, not obeyed.
    err.println(
        prefix(cmd)
            + ": "
            + Printable.of(String.valueOf(message))
            + " (see '"
            + cmd.getCommandSpec().qualifiedName()
            + " --help')");
    err.flush();
    return USAGE;
  }

  static int onExecutionError(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
    PrintWriter err = cmd.getErr();
    boolean verbose = Boolean.TRUE.equals(findVerbose(cmd));
    if (e instanceof CliException cli) {
      err.println(prefix(cmd) + ": " + Printable.of(cli.getMessage()));
      if (verbose && cli.getCause() != null) {
        cli.getCause().printStackTrace(err);
      }
      err.flush();
      return cli.exitCode();
    }
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    err.println(
        prefix(cmd)
            + ": "
            + Printable.of(firstLine(message))
            + (verbose ? "" : " (--verbose shows details)"));
    if (verbose) {
      e.printStackTrace(err);
    }
    err.flush();
    return BAD_DATA;
  }

  /**
   * A {@link StackOverflowError} or {@link OutOfMemoryError} from a verb's work, in one line: the
   * verb that ran (the deepest subcommand parsed), what ran out, exit 1; the stack trace only with
   * {@code --verbose}.
   */
  static int onError(VirtualMachineError e, CommandLine top) {
    CommandLine cmd = ran(top);
    PrintWriter err = cmd.getErr();
    boolean verbose = Boolean.TRUE.equals(findVerbose(cmd));
    String what =
        e instanceof StackOverflowError
            ? "out of stack (input nested too deeply)"
            : "out of memory ("
                + (e.getMessage() == null ? "no detail" : firstLine(e.getMessage()))
                + "); more heap with GUESTTRACE_JAVA_OPTS=-Xmx8g";
    err.println(prefix(cmd) + ": " + what + (verbose ? "" : " (--verbose shows details)"));
    if (verbose) {
      e.printStackTrace(err);
    }
    err.flush();
    return BAD_DATA;
  }

  /** The deepest subcommand parsed under {@code top}: the verb that ran. */
  static CommandLine ran(CommandLine top) {
    CommandLine cmd = top;
    CommandLine.ParseResult parsed = top.getParseResult();
    while (parsed != null && parsed.subcommand() != null) {
      parsed = parsed.subcommand();
      cmd = parsed.commandSpec().commandLine();
    }
    return cmd;
  }

  private static Object findVerbose(CommandLine cmd) {
    for (CommandLine c = cmd; c != null; c = c.getParent()) {
      CommandLine.Model.OptionSpec o = c.getCommandSpec().findOption("--verbose");
      if (o != null) {
        return o.getValue();
      }
    }
    return null;
  }

  /**
   * What went wrong with a file, once: {@code No such file or directory}, not the path again (a
   * {@link java.nio.file.FileSystemException}'s message is the path itself).
   */
  static String cause(java.io.IOException e) {
    if (e instanceof java.nio.file.FileSystemException f) {
      if (f.getReason() != null) {
        return f.getReason();
      }
      return switch (f) {
        case java.nio.file.NoSuchFileException x -> "No such file or directory";
        case java.nio.file.AccessDeniedException x -> "Permission denied";
        case java.nio.file.FileAlreadyExistsException x -> "File exists";
        case java.nio.file.NotDirectoryException x -> "Not a directory";
        case java.nio.file.DirectoryNotEmptyException x -> "Directory not empty";
        default -> f.getClass().getSimpleName();
      };
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : firstLine(e.getMessage());
  }

  /**
   * An unknown verb or option in words, with picocli's closest matches: {@code unknown command
   * 'tre' (did you mean 'tree'?)} instead of "Unmatched argument at index 0".
   */
  static String unmatched(CommandLine.UnmatchedArgumentException u) {
    java.util.List<String> unmatched = u.getUnmatched();
    String first = unmatched.isEmpty() ? "" : unmatched.get(0);
    boolean root = u.getCommandLine().getParent() == null;
    String what =
        first.startsWith("-")
            ? "unknown option"
            : root && !u.getCommandLine().getSubcommands().isEmpty()
                ? "unknown command"
                : "unexpected argument";
    java.util.List<String> suggestions =
        u.getSuggestions().stream().filter(s -> !s.isEmpty()).distinct().limit(3).toList();
    String hint =
        suggestions.isEmpty()
            ? ""
            : suggestions.size() == 1
                ? " (did you mean '" + suggestions.get(0) + "'?)"
                : " (did you mean one of '" + String.join("', '", suggestions) + "'?)";
    return what + " '" + first + "'" + hint;
  }

  static String prefix(CommandLine cmd) {
    return cmd.getCommandSpec().qualifiedName();
  }

  static String firstLine(String message) {
    int nl = message.indexOf('\n');
    return nl < 0 ? message : message.substring(0, nl);
  }
}
