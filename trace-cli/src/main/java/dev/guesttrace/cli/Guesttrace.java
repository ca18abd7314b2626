package dev.guesttrace.cli;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code guesttrace} command: one picocli class per verb, exit 0 ok, 1 bad data, 2 bad usage.
 */
@Command(
    name = "guesttrace",
    mixinStandardHelpOptions = true,
    versionProvider = Guesttrace.Version.class,
    description = "Guest-performance tracing for micro-VMs: run a guest, see where its time goes.")
public final class Guesttrace implements Callable<Integer> {
  /**
   * The verbs, in the order usage lists them. Registered in {@link #execute}, not in
   * {@code @Command}: picocli builds a verb's whole model (reflection over every option) when it is
   * registered, and a command line needs only its own verb's.
   */
  static final List<Class<?>> SUBCOMMANDS =
      List.of(
          RunCommand.class,
          TreeCommand.class,
          StatsCommand.class,
          AllocsCommand.class,
          InfoCommand.class,
          ExportCommand.class,
          PerfettoCommand.class,
          FlameCommand.class,
          CompareCommand.class,
          RecoverCommand.class,
          GuestsCommand.class,
          InitCommand.class,
          CompletionCommand.class,
          CommandLine.HelpCommand.class);

  /** Real invocations, printed when the command runs with no arguments (as the jfr tool does). */
  static final String EXAMPLES =
      """
      Usage: guesttrace <command> [options]   (guesttrace help <command> for details)

      Examples:
        guesttrace guests                               list the sample guests
        guesttrace run hello                            run a guest, print its span tree
        guesttrace run fib --arg n=18 -o fib.gtrace     run and keep the trace file
        guesttrace run multi-vcpu --compact             four vCPUs, one line per span
        guesttrace run hello --mode flight --quiet -o h.gtrace
        guesttrace run hello --tsc-ghz 1.7 --tsc-offset 1000000000
        guesttrace tree fib.gtrace --compact            print the tree again from the file
        guesttrace tree fib.gtrace --max-depth 8 --min-duration 100us   a big tree, summarized
        guesttrace tree fib.gtrace --filter 'dispatch'  matching spans with their ancestors
        guesttrace stats fib.gtrace                     per-function count, total, self, p99
        guesttrace stats fib.gtrace --by path --exclude-tracing --top 10
        guesttrace stats fib.gtrace --format json       for scripts (docs/formats.md)
        guesttrace run alloc --arg leak=3 -o alloc.gtrace; guesttrace allocs alloc.gtrace
        guesttrace info fib.gtrace                      host, calibration, losses, VM exits
        guesttrace export fib.gtrace --otlp http://localhost:4317
        guesttrace perfetto fib.gtrace -o fib.json      open in ui.perfetto.dev
        guesttrace flame fib.gtrace --svg fib.svg       flame graph (folded stacks without --svg)
        guesttrace run fib -o a1.gtrace; guesttrace run fib --arg slow=fib -o b1.gtrace
        guesttrace compare a1.gtrace --vs b1.gtrace --svg cmp.svg
        guesttrace run hello --backend kvm              the C twin under real KVM
        guesttrace init c work && make -C work          a starter C guest and the C SDK
        guesttrace run work/work.elf --call 'Work(3)'   your own native guest, on KVM
        guesttrace init java wj && (cd wj && mvn -q package)    a Java guest, mvn on JDK 25
        guesttrace run wj --guest-jar wj/target/wj-1.0.jar      your own Java guest, from its jar
        guesttrace guests --guest-jar wj/target/wj-1.0.jar      the guests a jar registers
        guesttrace run fib --mode flight --quiet --dump-memory fib.mem
        guesttrace recover fib.mem -o fib-recovered.gtrace   trace rings from a memory dump
        source <(guesttrace completion)                 bash/zsh completion of verbs and options
      """;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().print(EXAMPLES);
    spec.commandLine().getOut().flush();
    return 0;
  }

  /** Runs the command line and exits with its status. */
  public static void main(String[] args) {
    CheckedOutput stdout = new CheckedOutput(new FileOutputStream(FileDescriptor.out));
    PrintWriter out =
        new PrintWriter(
            new OutputStreamWriter(new BufferedOutputStream(stdout, 8192), System.out.charset()),
            true);
    System.exit(execute(args, out, new PrintWriter(System.err, true), stdout::error));
  }

  /** Runs the command line with the given output streams and returns the exit status. */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    return execute(args, out, err, () -> null);
  }

  /**
   * Runs the command line; if standard output could not be written (a full disk, {@code >
   * /dev/full}), says so in one line and exits 1: output that was lost is not a success.
   *
   * @param outError the first error writing {@code out}, if its stream recorded one
   */
  static int execute(
      String[] args, PrintWriter out, PrintWriter err, Supplier<IOException> outError) {
    CommandLine cli = commandLine(args);
    cli.setOut(out);
    cli.setErr(err);
    cli.setParameterExceptionHandler(Errors::onUsageError);
    cli.setExecutionExceptionHandler(Errors::onExecutionError);
    int status;
    try {
      status = cli.execute(args);
    } catch (StackOverflowError | OutOfMemoryError e) {
      // picocli hands only Exceptions to the handler; these come from the work on hostile input.
      status = Errors.onError(e, cli);
    }
    out.flush();
    IOException e = outError.get();
    if (e == null && !out.checkError()) {
      return status;
    }
    String cause = e == null ? "write error" : Errors.cause(e);
    if (cause.equals("Broken pipe")) {
      return status; // the reader went away (| head): what it wanted, it got
    }
    err.println(Errors.prefix(Errors.ran(cli)) + ": cannot write standard output: " + cause);
    err.flush();
    return status == Errors.OK ? Errors.BAD_DATA : status;
  }

  /** Standard output that remembers its first error (a PrintWriter only keeps a flag). */
  static final class CheckedOutput extends FilterOutputStream {
    private volatile IOException error;

    CheckedOutput(OutputStream out) {
      super(out);
    }

    @Override
    public void write(int b) throws IOException {
      try {
        out.write(b);
      } catch (IOException e) {
        remember(e);
        throw e;
      }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        out.write(b, off, len);
      } catch (IOException e) {
        remember(e);
        throw e;
      }
    }

    @Override
    public void flush() throws IOException {
      try {
        out.flush();
      } catch (IOException e) {
        remember(e);
        throw e;
      }
    }

    private void remember(IOException e) {
      if (error == null) {
        error = e;
      }
    }

    IOException error() {
      return error;
    }
  }

  /**
   * The command line for {@code args}: a known verb other than help registers only itself (a tenth
   * of a second less start-up, see {@link #SUBCOMMANDS}); anything else (no verb, help, a typo
   * picocli suggests a verb for) registers them all.
   */
  static CommandLine commandLine(String... args) {
    CommandLine cli = new CommandLine(new Guesttrace());
    Class<?> verb = args.length == 0 ? null : verbNamed(args[0]);
    if (verb != null && verb != CommandLine.HelpCommand.class) {
      cli.addSubcommand(verb);
    } else {
      SUBCOMMANDS.forEach(cli::addSubcommand);
    }
    // Every option's default in --help, from its defaultValue, so help and behaviour agree.
    showDefaults(cli.getCommandSpec());
    for (CommandLine sub : cli.getSubcommands().values()) {
      showDefaults(sub.getCommandSpec());
    }
    return cli;
  }

  /**
   * Shows each option's default in the help, except where there is none to show: a repeatable
   * option's empty list or map ("Default: []" says nothing).
   */
  private static void showDefaults(CommandLine.Model.CommandSpec spec) {
    spec.usageMessage().showDefaultValues(true);
    for (CommandLine.Model.OptionSpec o : List.copyOf(spec.options())) {
      if (o.defaultValue() == null && emptyContainer(o.initialValue())) {
        spec.remove(o);
        spec.addOption(o.toBuilder().showDefaultValue(CommandLine.Help.Visibility.NEVER).build());
      }
    }
    for (CommandLine.Model.PositionalParamSpec p : List.copyOf(spec.positionalParameters())) {
      if (p.defaultValue() == null && emptyContainer(p.initialValue())) {
        spec.remove(p);
        spec.addPositional(
            p.toBuilder().showDefaultValue(CommandLine.Help.Visibility.NEVER).build());
      }
    }
  }

  private static boolean emptyContainer(Object value) {
    return (value instanceof java.util.Collection<?> c && c.isEmpty())
        || (value instanceof java.util.Map<?, ?> m && m.isEmpty());
  }

  /** The verb whose {@code @Command} name is {@code name}, or null. */
  private static Class<?> verbNamed(String name) {
    for (Class<?> c : SUBCOMMANDS) {
      if (c.getAnnotation(Command.class).name().equals(name)) {
        return c;
      }
    }
    return null;
  }

  /**
   * The version and the commit the build was made from ({@code guesttrace-build.properties},
   * written at build time by trace-cli's pom).
   */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      java.util.Properties build = new java.util.Properties();
      try (java.io.InputStream in =
          Guesttrace.class.getResourceAsStream("/guesttrace-build.properties")) {
        if (in != null) {
          build.load(in);
        }
      } catch (java.io.IOException e) {
        // Unreadable: the version lines say "unknown" below.
      }
      return new String[] {
        "guesttrace "
            + build.getProperty("version", "unknown")
            + " (commit "
            + build.getProperty("commit", "unknown")
            + ")",
        "trace ABI " + dev.guesttrace.abi.AbiVersion.CURRENT,
        "JVM " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
      };
    }
  }
}
