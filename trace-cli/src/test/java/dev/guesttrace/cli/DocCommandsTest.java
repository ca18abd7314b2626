package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ./guesttrace} command in the code blocks of README.md and docs/*.md, run as written
 * (in-process, in a fresh folder per document, in document order so that a command finds the files
 * the ones above it wrote), except those this test cannot run here, each skipped for a reason it
 * prints: an OTLP backend, KVM or a built guest project, a run that lasts until its timeout, shell
 * syntax (globs, placeholders), or an input file made by a command it does not run. A pipe or a
 * redirection runs the guesttrace part. {@code ./build} and {@code bin/java} lines (builds,
 * benchmarks) are not run: {@code ./build verify} is CI itself.
 */
class DocCommandsTest {
  static final Path ROOT = Path.of("..");

  record Command(String doc, String line, List<String> args) {}

  @TempDir Path tmp;

  @Test
  void docCommands_runAsWritten() throws IOException {
    List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
    try (Stream<Path> files = Files.list(ROOT.resolve("docs"))) {
      files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
    }
    int ran = 0;
    List<String> skipped = new ArrayList<>();
    for (Path doc : docs) {
      Path dir = Files.createDirectories(tmp.resolve(doc.getFileName().toString()));
      for (String line : commands(doc)) {
        String command = line.replaceAll("\\s+#.*$", "").strip();
        for (String part : command.split(" && |; ")) {
          String why = skipReason(part);
          List<String> args = why == null ? args(part, dir) : List.of();
          if (why == null) {
            why = missingInput(args, dir);
          }
          if (why != null) {
            skipped.add(doc.getFileName() + ": " + part + "  [" + why + "]");
            continue;
          }
          CliTest.Outcome o = CliTest.run(args.toArray(String[]::new));
          assertThat(o.status())
              .as("%s: %s%nstderr: %s", doc.getFileName(), part, o.err())
              .isZero();
          ran++;
        }
      }
    }
    System.out.println("DocCommandsTest: ran " + ran + ", skipped " + skipped.size() + ":");
    skipped.forEach(s -> System.out.println("  " + s));
    assertThat(ran).as("commands run").isGreaterThanOrEqualTo(15);
  }

  /** The {@code ./guesttrace} lines of a document's code blocks, continuations joined. */
  static List<String> commands(Path doc) throws IOException {
    List<String> out = new ArrayList<>();
    boolean inBlock = false;
    StringBuilder pending = null;
    for (String raw : Files.readAllLines(doc)) {
      if (raw.startsWith("```")) {
        inBlock = !inBlock;
        continue;
      }
      if (!inBlock) {
        continue;
      }
      String line = raw.startsWith("$ ") ? raw.substring(2) : raw;
      if (pending != null) {
        pending.append(' ').append(line.strip());
      } else if (line.startsWith("./guesttrace")) {
        pending = new StringBuilder(line);
      } else {
        continue;
      }
      if (pending.toString().endsWith("\\")) {
        pending.setLength(pending.length() - 1);
      } else {
        out.add(pending.toString());
        pending = null;
      }
    }
    return out;
  }

  /** Why a command cannot run here, or null. */
  static String skipReason(String command) {
    if (!command.startsWith("./guesttrace")) {
      return "not a guesttrace command";
    }
    if (command.contains("--otlp") || command.startsWith("./guesttrace export")) {
      return "needs an OTLP backend (the exporter's tests run one)";
    }
    if (command.contains("--backend kvm")
        || command.contains(".elf")
        || command.contains(" init ")
        || command.contains("--guest-jar")) {
      return "needs /dev/kvm, gcc or a built guest project (InitTest, GuestsDocTest)";
    }
    if (command.contains("runaway") || command.contains("never-halts")) {
      return "runs until its timeout (CliTest runs runaway for 300 ms)";
    }
    if (command.matches(".*[?*$].*") || command.contains("MODE")) {
      return "shell syntax: a glob or a placeholder";
    }
    return null;
  }

  /** The arguments after {@code ./guesttrace}, relative files in {@code dir}; pipes cut off. */
  static List<String> args(String command, Path dir) {
    String c = command.replaceFirst("\\s*[|>].*$", "");
    List<String> args = new ArrayList<>();
    for (String token : c.substring("./guesttrace".length()).strip().split("\\s+")) {
      if (token.isEmpty()) {
        continue;
      }
      String t = token.replaceAll("^'(.*)'$", "$1");
      boolean file =
          !t.startsWith("-") && t.matches("[\\w./-]*\\.(gtrace|json|svg|pftrace|mem|folded)");
      args.add(file && !t.startsWith("/") ? dir.resolve(t).toString() : t);
    }
    return args;
  }

  /** An input file (a .gtrace or .mem not after -o) that no earlier command wrote, or null. */
  static String missingInput(List<String> args, Path dir) {
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      boolean output = i > 0 && (args.get(i - 1).equals("-o") || args.get(i - 1).startsWith("--"));
      if (!output && (a.endsWith(".gtrace") || a.endsWith(".mem")) && !Files.exists(Path.of(a))) {
        return "needs " + Path.of(a).getFileName() + ", made by a command this test does not run";
      }
    }
    return null;
  }
}
