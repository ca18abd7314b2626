package dev.guesttrace.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The commands of README.md and docs/*.md: every line of a fenced block (untagged, {@code console},
 * {@code sh} or {@code bash}) that starts with a program a reader would type ({@code ./guesttrace},
 * {@code guesttrace VERB}, {@code ./build}, {@code bin/java}, {@code java}, {@code make}, {@code
 * cd}, {@code curl}, ...), with its {@code \} continuations and, for a {@code for} loop, the lines
 * up to its {@code done}. In a {@code console} block only {@code $ } lines are commands. The other
 * lines are output. Each command is run ({@link DocCommandsIT}) or skipped by one of {@link
 * #SKIPS}, which says why.
 */
final class DocCommands {
  private DocCommands() {}

  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  /** One command as written, and where. */
  record Command(String doc, int line, String text) {
    @Override
    public String toString() {
      return doc + ":" + line + ": " + text;
    }
  }

  /**
   * Why a command is not run. A rule that matches no command fails {@link DocCommandsTest}: the
   * list stays as short as the docs allow.
   *
   * @param pattern found anywhere in the command
   * @param reason what the command needs that a CI machine lacks, or where it is run instead
   */
  record Skip(Pattern pattern, String reason) {
    Skip(String regex, String reason) {
      this(Pattern.compile(regex), reason);
    }

    boolean matches(Command c) {
      return pattern.matcher(c.text()).find();
    }
  }

  /** Every reason a doc command is not run here, first match wins. */
  static final List<Skip> SKIPS =
      List.of(
          new Skip(
              "^guesttrace \\w+ [A-Z]\\S* \\[",
              "a synopsis: brackets for optional parts, not a command"),
          new Skip(
              "--otlp|^\\./guesttrace export ",
              "needs an OTLP receiver (ExportCliTest and SkyWalkingExportTest run real ones)"),
          new Skip("^docker ", "needs Docker and a Jaeger image"),
          new Skip("^curl ", "talks to a running SkyWalking OAP or Firecracker"),
          new Skip(
              "^\\./build |^\\(cd /tmp && exec|^cd trace-exporter-otel|^CP=|^SW=|^P=|^RUNS=|^bench/",
              "a build, a benchmark or a server set-up (minutes each; ./build verify is CI itself,"
                  + " benchmarks are measured by hand: docs/performance.md)"),
          new Skip(
              "^bin/java .*benchmarks\\.jar|^\\.\\./bin/java |^gcc |^sudo ",
              "a benchmark or a native measurement (minutes; docs/performance.md)"),
          new Skip(
              "^/usr/bin/time |GUESTTRACE_JAVA_OPTS=",
              "a memory measurement of a 1.5 GB run (docs/performance.md)"),
          new Skip(
              "hostile-never-halts|/tmp/full/",
              "needs a full file system (docs/robustness.md mounts a tiny tmpfs)"),
          new Skip(
              "--backend kvm --tsc-ghz",
              "its outcome depends on the host's KVM TSC scaling (the doc shows a host without)"),
          new Skip("guest\\.core|vm\\.mem", "needs a core dump or a Firecracker memory snapshot"),
          new Skip(
              "^guesttrace |^\\$ guesttrace|^cd work|^make$|^mvn -q package",
              "docs/guests.md's walk-through: GuestsDocIT runs it and compares the output"));

  /**
   * A command the docs run knowing it fails, and its exit status; every other command exits 0.
   *
   * @param pattern found anywhere in the command
   * @param status its exit status
   * @param reason why it fails
   */
  record Failing(Pattern pattern, int status, String reason) {
    Failing(String regex, int status, String reason) {
      this(Pattern.compile(regex), status, reason);
    }
  }

  /** The commands that fail on purpose. */
  static final List<Failing> FAILING =
      List.of(
          new Failing(
              "run runaway ",
              1,
              "runaway never halts: stopped at its --timeout, the run failed (the file is whole)"));

  /** The exit status {@code c} must end with. */
  static int expectedStatus(Command c) {
    for (Failing f : FAILING) {
      if (f.pattern().matcher(c.text()).find()) {
        return f.status();
      }
    }
    return 0;
  }

  /** The documents: README.md, then docs/*.md by name. */
  static List<Path> docs() throws IOException {
    List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
    try (Stream<Path> files = Files.list(ROOT.resolve("docs"))) {
      files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
    }
    return docs;
  }

  /** Programs a command line starts with. */
  private static final Pattern COMMAND =
      Pattern.compile(
          "^(\\./guesttrace( |$)|guesttrace [a-z]+( |$)|\\./build |bin/java |\\.\\./bin/java |java"
              + " |make( |$)|mvn |cd |curl |docker |for |\\(cd |gcc |sudo |/usr/bin/time"
              + " |[A-Z][A-Z_]*=\\S* ?|source |bench/)");

  /** The commands of one document, in order. */
  static List<Command> commands(Path doc) throws IOException {
    List<Command> out = new ArrayList<>();
    String name = doc.getFileName().toString();
    List<String> lines = Files.readAllLines(doc);
    String block = null;
    StringBuilder pending = null;
    int pendingLine = 0;
    boolean loop = false;
    for (int i = 0; i < lines.size(); i++) {
      String raw = lines.get(i);
      if (raw.startsWith("```")) {
        block = block == null ? raw.substring(3).strip() : null;
        continue;
      }
      if (block == null || !List.of("", "console", "sh", "bash", "shell").contains(block)) {
        continue;
      }
      if (pending != null) {
        String more = raw.replaceFirst("\\s+#.*$", "").strip();
        pending.append(loop ? "\n" : " ").append(more);
        loop = loop && !more.equals("done") && !more.startsWith("done ");
      } else {
        boolean prompt = raw.startsWith("$ ");
        String line = prompt ? raw.substring(2) : raw;
        if ((block.equals("console") && !prompt) || !COMMAND.matcher(line).find()) {
          continue;
        }
        pending = new StringBuilder(line.replaceFirst("\\s+#.*$", ""));
        pendingLine = i + 1;
        loop = line.startsWith("for ");
      }
      if (pending.toString().endsWith("\\")) {
        pending.setLength(pending.length() - 1);
        continue;
      }
      if (!loop) {
        out.add(new Command(name, pendingLine, pending.toString().strip()));
        pending = null;
      }
    }
    return out;
  }

  /** The rule that skips {@code c}, or null if it is run. */
  static Skip skip(Command c) {
    for (Skip s : SKIPS) {
      if (s.matches(c)) {
        return s;
      }
    }
    return null;
  }
}
