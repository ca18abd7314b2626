package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.vm.kvm.KvmBackend;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command of README.md and docs/*.md ({@link DocCommands}) run as a reader would: by {@code
 * bash}, in a fresh folder per document (in document order, so a command finds the files the ones
 * above it wrote) that holds {@code ./guesttrace} (a link to the launcher), {@code bin/} and the
 * modules of {@link #LINKED_MODULES}, with the repository's folder on the {@code PATH} (README.md's
 * {@code export PATH="$PWD:$PATH"}) and no {@code JAVA_HOME}: the {@code java} on that {@code PATH}
 * is the machine's default, 17 on the build machine, so the launcher has to find a JDK 25 by
 * itself. Paths under {@code /tmp/} are moved into the document's folder. Each command must exit 0.
 * Those {@link DocCommands#SKIPS} names are not run, nor, where there is no usable {@code /dev/kvm}
 * or no gcc, those that need them; the test prints every command it ran or skipped, and why.
 *
 * <p>Runs in {@code verify} (failsafe), after the jar is built: the launcher then runs it as is.
 */
class DocCommandsIT {
  @TempDir Path tmp;

  /**
   * What commands read from the checkout besides the launcher, linked into each document's folder
   * as {@code bin/} is (those that exist): docs/embedding.md runs its example VMM from its source
   * in trace-host-collector against trace-cli's jar; README.md builds the Java starter with {@code
   * ./build -f} (Maven, or the wrapper). Commands only read them (a command that wrote into them
   * would write into the checkout).
   */
  static final List<String> LINKED_MODULES =
      List.of("trace-cli", "trace-host-collector", "build", "mvnw", ".mvn");

  /**
   * The environment of a reader's shell: the launcher on the PATH, the default java, no JDK set.
   */
  static ProcessBuilder shell(Path dir, String command, Map<String, String> env) {
    ProcessBuilder pb = new ProcessBuilder("bash", "-c", command).directory(dir.toFile());
    pb.environment().remove("JAVA_HOME");
    pb.environment().put("PATH", DocCommands.ROOT + ":/usr/local/bin:/usr/bin:/bin");
    pb.environment().putAll(env);
    return pb;
  }

  /**
   * The environment of a doc command that builds a guest project with Maven ({@code ./build -f
   * .../pom.xml}, README.md's Java route): Maven's home folder ({@code user.home}) is a fresh one
   * in the test's folder, whose settings mirror every repository but the project's own {@code
   * lib/repo} to the shared local repository ({@code file://}): the plugins come from there, with
   * no network, and the guest library never reaches it. Empty (the command is skipped) where that
   * repository lacks the starter's plugins ({@link GuestsDocIT#STARTER_PLUGINS}).
   */
  private Optional<Map<String, String>> isolatedMaven() throws Exception {
    Path shared = Path.of(System.getProperty("user.home"), ".m2", "repository");
    if (!GuestsDocIT.STARTER_PLUGINS.stream()
        .allMatch(p -> Files.isDirectory(shared.resolve("org/apache/maven/plugins").resolve(p)))) {
      return Optional.empty();
    }
    Path home = tmp.resolve("maven-home");
    Files.createDirectories(home.resolve(".m2"));
    Files.writeString(home.resolve(".m2/settings.xml"), GuestsDocIT.mirrorSettings(shared));
    return Optional.of(Map.of("MAVEN_OPTS", "-Duser.home=" + home));
  }

  /** Runs {@code command} in {@code dir}; returns exit status, stdout and stderr. */
  static String[] run(Path dir, String command) throws Exception {
    return run(dir, command, Map.of());
  }

  /** As {@link #run(Path, String)}, with {@code env} added to the shell's environment. */
  static String[] run(Path dir, String command, Map<String, String> env) throws Exception {
    Path out = Files.createTempFile("doc-command", ".out");
    Path err = Files.createTempFile("doc-command", ".err");
    try {
      Process p =
          shell(dir, command, env).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      p.getOutputStream().close();
      if (!p.waitFor(300, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new String[] {"timeout", Files.readString(out), Files.readString(err)};
      }
      return new String[] {
        String.valueOf(p.exitValue()),
        Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8)
      };
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  @Test
  void everyDocCommand_runsAsWritten_launcherOnThePath_defaultJavaOlderThan25() throws Exception {
    assertThat(DocCommands.ROOT.resolve("trace-cli/target/guesttrace.jar")).exists();
    String[] java = run(tmp, "java -version 2>&1 | head -n 1; command -v java");
    System.out.println("DocCommandsIT: the PATH's java: " + java[1].strip().replace('\n', ' '));

    String kvm = new KvmBackend().unavailableReason().orElse(null);
    boolean gcc = InitTest.onPath("gcc") && InitTest.onPath("make");
    List<String> report = new ArrayList<>();
    var maven = isolatedMaven();
    int ran = 0;
    for (Path doc : DocCommands.docs()) {
      Path dir = Files.createDirectories(tmp.resolve(doc.getFileName().toString()));
      Files.createDirectories(dir.resolve("tmp"));
      Files.createSymbolicLink(dir.resolve("guesttrace"), DocCommands.ROOT.resolve("guesttrace"));
      Files.createSymbolicLink(dir.resolve("bin"), DocCommands.ROOT.resolve("bin"));
      for (String module : LINKED_MODULES) {
        if (Files.exists(DocCommands.ROOT.resolve(module))) {
          Files.createSymbolicLink(dir.resolve(module), DocCommands.ROOT.resolve(module));
        }
      }
      for (DocCommands.Command c : DocCommands.commands(doc)) {
        DocCommands.Skip skip = DocCommands.skip(c);
        boolean needsKvm = c.text().contains(".elf") || c.text().contains("--backend kvm");
        boolean needsGcc = c.text().contains("init c ") || c.text().contains("make");
        String why =
            skip != null
                ? skip.reason()
                : needsKvm && kvm != null
                    ? "here: " + kvm
                    : (needsKvm || needsGcc) && !gcc ? "here: no gcc or make" : null;
        if (why != null) {
          report.add("skipped " + c + "  [" + why + "]");
          continue;
        }
        Map<String, String> env = Map.of();
        if (c.text().contains("pom.xml") || c.text().contains("--guest-jar /tmp/")) {
          if (maven.isEmpty()) {
            report.add(
                "skipped "
                    + c
                    + "  [here: the shared local repository lacks the starter's plugins]");
            continue;
          }
          env = maven.get();
        }
        String command = c.text().replace("/tmp/", dir.resolve("tmp") + "/");
        long start = System.nanoTime();
        String[] r = run(dir, command, env);
        report.add("ran     %s  (%.1f s)".formatted(c, (System.nanoTime() - start) / 1e9));
        assertThat(r[0])
            .as("%s%nstdout: %s%nstderr: %s", c, tail(r[1]), tail(r[2]))
            .isEqualTo(String.valueOf(DocCommands.expectedStatus(c)));
        ran++;
      }
    }
    System.out.println("DocCommandsIT: ran " + ran + " commands:");
    report.forEach(s -> System.out.println("  " + s));
    assertThat(ran).as("commands run").isGreaterThanOrEqualTo(30);
  }

  private static String tail(String s) {
    return s.length() <= 4000 ? s : "..." + s.substring(s.length() - 4000);
  }
}
