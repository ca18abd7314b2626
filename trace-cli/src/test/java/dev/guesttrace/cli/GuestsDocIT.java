package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.vm.kvm.KvmBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/guests.md cannot rot: every command in its {@code console} blocks runs here, in a temporary
 * folder outside the source tree, as a user would type it ({@code guesttrace} is the launcher on
 * the {@code PATH}, with the machine's default {@code java} and no {@code JAVA_HOME}, as {@link
 * DocCommandsIT} runs it, in the folder the commands {@code cd} into), and every {@code text} block
 * after a command is compared with what the command printed, times, durations and heap addresses
 * left out. Runs in {@code verify} (failsafe), after the jar the launcher runs is built.
 *
 * <p>{@code mvn -q package} runs Maven as written, on a fresh local repository whose plugins come
 * from the shared one ({@link #maven}): the guest library never reaches the shared one, and no
 * network is needed. The doc says so.
 */
class GuestsDocIT {
  static final Path DOC = Path.of("../docs/guests.md");

  @TempDir Path tmp;

  /** One command of the doc and the output pasted after it, if any. */
  record Step(String command, List<String> expected) {}

  /** The steps of the section headed {@code ## title}. */
  static List<Step> steps(String title) throws IOException {
    List<String> lines = Files.readAllLines(DOC);
    int at = lines.indexOf("## " + title);
    assertThat(at).as("section '%s' in %s", title, DOC).isNotNegative();
    List<Step> steps = new ArrayList<>();
    String block = null;
    List<String> text = new ArrayList<>();
    for (int i = at + 1; i < lines.size() && !lines.get(i).startsWith("## "); i++) {
      String line = lines.get(i);
      if (block == null) {
        if (line.startsWith("```")) {
          block = line.substring(3);
          text = new ArrayList<>();
        }
        continue;
      }
      if (line.equals("```")) {
        if (block.equals("text")) {
          assertThat(steps).as("a text block follows a command").isNotEmpty();
          Step last = steps.removeLast();
          steps.add(new Step(last.command(), text));
        }
        block = null;
      } else if (block.equals("console")) {
        assertThat(line).as("console lines are commands").startsWith("$ ");
        steps.add(new Step(line.substring(2), null));
      } else {
        text.add(line);
      }
    }
    return steps;
  }

  @Test
  void cGuestSection_runsAsWritten() throws Exception {
    assumeTrue(
        InitTest.onPath("make") && InitTest.onPath("gcc"), "skipped: no make or gcc for a C guest");
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    List<Step> steps = steps("A C guest on KVM");
    assertThat(steps).extracting(Step::command).contains("make");
    run(steps);
  }

  @Test
  void javaGuestSection_runsAsWritten() throws Exception {
    List<Step> steps = steps("A Java guest");
    assertThat(steps).extracting(Step::command).contains("mvn -q package");
    run(steps);
  }

  private void run(List<Step> steps) throws Exception {
    Path dir = tmp;
    for (Step step : steps) {
      List<String> words = words(step.command());
      String output;
      switch (words.getFirst()) {
        case "cd" -> {
          dir = dir.resolve(words.get(1));
          continue;
        }
        case "make" -> output = process(dir, words);
        case "mvn" -> {
          assertThat(words).isEqualTo(List.of("mvn", "-q", "package"));
          output = maven(dir);
        }
        case "guesttrace" -> {
          String[] r = DocCommandsIT.run(dir, step.command());
          assertThat(r[0]).as("%s in %s: %s%s", step.command(), dir, r[1], r[2]).isEqualTo("0");
          output = r[1];
        }
        default -> {
          fail("docs/guests.md runs a command this test does not know: " + step.command());
          return;
        }
      }
      if (step.expected() != null) {
        assertThat(normalized(output.lines().toList()))
            .as("output of '%s'", step.command())
            .isEqualTo(normalized(step.expected()));
      }
    }
  }

  /** The plugins the starter's pom pins, as the shared local repository must hold them. */
  static final List<String> STARTER_PLUGINS =
      List.of(
          "maven-resources-plugin/3.3.1",
          "maven-compiler-plugin/3.16.0",
          "maven-surefire-plugin/3.6.1",
          "maven-jar-plugin/3.4.2");

  /**
   * {@code mvn -q package} in {@code dir} as the doc says it: Maven on a JDK 25 ({@code JAVA_HOME}
   * set to the one this test runs on, as the doc tells a reader whose default java is older). Its
   * local repository is a fresh one in the test's folder, so the guest library from {@code
   * lib/repo} never reaches the shared one, and its plugins come from the shared local repository
   * (where this build's own plugins of the same versions are) through a {@code file://} mirror: no
   * network. Where Maven or those plugins are missing, builds with javac against {@code lib/repo}'s
   * jar instead ({@link InitTest#buildWithJavac}) and says so.
   */
  private String maven(Path dir) throws Exception {
    Path shared = Path.of(System.getProperty("user.home"), ".m2", "repository");
    String missing =
        !InitTest.onPath("mvn")
            ? "no mvn on the PATH"
            : STARTER_PLUGINS.stream()
                .filter(
                    p -> !Files.isDirectory(shared.resolve("org/apache/maven/plugins").resolve(p)))
                .findFirst()
                .map(p -> "the shared local repository " + shared + " has no " + p)
                .orElse(null);
    if (missing != null) {
      System.out.println("GuestsDocIT: mvn -q package built with javac instead: " + missing);
      String version = InitCommand.publishedVersion(InitCommand.libraryClasses());
      InitTest.buildWithJavac(
          dir,
          dir.resolve(
              "lib/repo/dev/guesttrace/trace-guest-abi/%s/trace-guest-abi-%s.jar"
                  .formatted(version, version)));
      return "";
    }
    Path settings = tmp.resolve("maven-settings.xml");
    Files.writeString(settings, mirrorSettings(shared));
    ProcessBuilder pb =
        new ProcessBuilder(
            "mvn",
            "-q",
            "-s",
            settings.toString(),
            "-Dmaven.repo.local=" + tmp.resolve("m2"),
            "package");
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    String out = process(dir, pb);
    assertThat(dir.resolve("target/" + InitCommand.guestName(dir) + "-1.0.jar")).isRegularFile();
    return out;
  }

  /**
   * Maven settings that take every repository but a starter's own {@code lib/repo} ({@code
   * guesttrace-guest-library}) from {@code repository}, a local repository used as a remote one.
   */
  static String mirrorSettings(Path repository) {
    return """
        <settings>
          <mirrors>
            <mirror>
              <id>shared-local-repository</id>
              <mirrorOf>*,!guesttrace-guest-library</mirrorOf>
              <url>%s</url>
            </mirror>
          </mirrors>
        </settings>
        """
        .formatted(repository.toUri());
  }

  /** Runs {@code command} in {@code dir}; it must exit 0. Returns its standard output. */
  private static String process(Path dir, List<String> command) throws Exception {
    return process(dir, new ProcessBuilder(command));
  }

  /** Runs {@code pb} in {@code dir}; it must exit 0. Returns its standard output. */
  private static String process(Path dir, ProcessBuilder pb) throws Exception {
    List<String> command = pb.command();
    Path err = Files.createTempFile("guests-doc", ".err");
    try {
      Process p = pb.directory(dir.toFile()).redirectError(err.toFile()).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
      assertThat(p.exitValue())
          .as("%s in %s: %s%s", command, dir, out, Files.readString(err))
          .isZero();
      return out;
    } finally {
      Files.deleteIfExists(err);
    }
  }

  /** Tree lines without the time column, durations and heap addresses. */
  static List<String> normalized(List<String> lines) {
    List<String> out = new ArrayList<>();
    for (String line : lines) {
      String l = line.startsWith("[") ? line.substring(line.indexOf(']') + 2) : line;
      if (l.stripLeading().startsWith("< ")) {
        l = l.substring(0, l.lastIndexOf(' '));
      }
      out.add(l.replaceAll("0x[0-9a-f]+", "0x@").stripTrailing());
    }
    return out;
  }

  /** A command line split as a POSIX shell would split these: spaces, '...' and "..." quoting. */
  static List<String> words(String line) {
    List<String> words = new ArrayList<>();
    StringBuilder word = null;
    char quote = 0;
    for (char c : line.toCharArray()) {
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          word.append(c);
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
        word = word == null ? new StringBuilder() : word;
      } else if (c == ' ') {
        if (word != null) {
          words.add(word.toString());
          word = null;
        }
      } else {
        word = word == null ? new StringBuilder() : word;
        word.append(c);
      }
    }
    assertThat((int) quote).as("quotes closed in: %s", line).isZero();
    if (word != null) {
      words.add(word.toString());
    }
    return words;
  }
}
