package dev.guesttrace.cli;

import static dev.guesttrace.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.cli.CliTest.Outcome;
import dev.guesttrace.vm.kvm.KvmBackend;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code guesttrace init}: a starter guest, written into a folder outside the source tree, builds
 * with only what init wrote and runs with {@code guesttrace run}.
 *
 * <p>The Java starter is compiled here with javac against the guest library jar init wrote (the
 * only class path), not with {@code mvn package}: a Maven build in a test would write the library
 * into the shared local repository. {@link GuestsDocIT} runs the Maven route, on a local repository
 * of its own.
 */
class InitTest {
  @TempDir Path tmp;

  /** The guest's own lines of a call: from its span {@code work} to its end, times cut off. */
  static List<String> workLines(String out) {
    List<String> lines =
        out.lines()
            .map(l -> l.substring(l.indexOf(']') + 2).stripTrailing())
            .map(l -> l.startsWith("<", l.length() - l.stripLeading().length()) ? cutTime(l) : l)
            .toList();
    int from = lines.indexOf("          > work");
    int to = lines.indexOf("          < work");
    assertThat(from).as("work span in %s", out).isNotNegative();
    assertThat(to).isGreaterThan(from);
    return lines.subList(from, to + 1);
  }

  private static String cutTime(String line) {
    int space = line.lastIndexOf(' ');
    return line.substring(0, space);
  }

  static final List<String> WORK_3 =
      List.of(
          "          > work",
          "            > step",
          "              alloc 0x@ 4096 B",
          "              items = 1",
          "              free 0x@ 4096 B",
          "            < step",
          "            > step",
          "              alloc 0x@ 4096 B",
          "              items = 2",
          "              free 0x@ 4096 B",
          "            < step",
          "            > step",
          "              alloc 0x@ 4096 B",
          "              items = 3",
          "              free 0x@ 4096 B",
          "            < step",
          "            work done",
          "          < work");

  /** The lines with heap addresses (which differ by backend and layout) replaced by {@code @}. */
  static List<String> withoutAddresses(List<String> lines) {
    return lines.stream().map(l -> l.replaceAll("0x[0-9a-f]+", "0x@")).toList();
  }

  @Test
  void initC_buildsWithMakeAndRunsOnKvm() throws Exception {
    Path dir = tmp.resolve("my-guest");
    Outcome init = run("init", "c", dir.toString());
    assertThat(init.err()).isEmpty();
    assertThat(init.status()).isZero();
    assertThat(init.out())
        .isEqualTo(
            "guesttrace init: wrote 8 files into "
                + dir
                + "\nnext, in "
                + dir
                + ":\n  make\n  "
                + InitCommand.launcher(
                    System.getenv("PATH"), DocCommands.ROOT.resolve("guesttrace"))
                + " run my-guest.elf --call 'Work(3)'\n");
    try (Stream<Path> files = Files.walk(dir)) {
      assertThat(files.filter(Files::isRegularFile).map(f -> dir.relativize(f).toString()).sorted())
          .containsExactly(
              "Makefile",
              "README.md",
              "my-guest.c",
              "sdk/gtguest.h",
              "sdk/guest.ld",
              "sdk/guest.mk",
              "sdk/guesttrace.h",
              "sdk/start.S");
    }
    assumeTrue(onPath("make") && onPath("gcc"), "skipped: no make or gcc to build a C guest");
    Process make =
        new ProcessBuilder("make", "-s").directory(dir.toFile()).redirectErrorStream(true).start();
    String log = new String(make.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(make.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(make.exitValue()).as("make: %s", log).isZero();
    assertThat(dir.resolve("my-guest.elf")).isRegularFile();

    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    Outcome o = run("run", dir.resolve("my-guest.elf").toString(), "--call", "Work(3)");
    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.out()).startsWith("[").contains("> [host] run my-guest\n");
    assertThat(withoutAddresses(workLines(o.out()))).isEqualTo(WORK_3);
    // The log line: on stderr as it runs, and in the tree where the guest logged it.
    assertThat(o.err()).startsWith("guest log [info] vCPU 0: my-guest booted\n");
    assertThat(o.out()).contains("]       [info] my-guest booted\n");
    assertWrongArgumentsFailInOneLine(dir.resolve("my-guest.elf").toString());
  }

  /** The starter's Work refuses what is not one integer 0..1000: the run fails, saying so. */
  private static void assertWrongArgumentsFailInOneLine(String guest, String... jar) {
    for (String call : List.of("Work(\"3\")", "Work(1, 2)", "Work(5000)")) {
      List<String> args = new ArrayList<>(List.of("run", guest, "--call", call, "--quiet"));
      args.addAll(List.of(jar));
      Outcome o = run(args.toArray(String[]::new));
      assertThat(o.status()).as(call).isEqualTo(1);
      assertThat(o.err())
          .as(call)
          .isEqualTo(
              "guesttrace run: guest call Work returned error: Work expects one integer, 0..1000"
                  + " steps\n");
    }
  }

  @Test
  void initJava_compilesAgainstTheLibraryItWroteAndRunsOnEmulated() throws Exception {
    Path dir = tmp.resolve("MyGuest");
    Outcome init = run("init", "java", dir.toString());
    assertThat(init.err()).isEmpty();
    assertThat(init.status()).isZero();
    String version = InitCommand.publishedVersion(InitCommand.libraryClasses());
    Path library =
        dir.resolve(
            "lib/repo/dev/guesttrace/trace-guest-abi/"
                + version
                + "/trace-guest-abi-"
                + version
                + ".jar");
    try (Stream<Path> files = Files.walk(dir)) {
      assertThat(files.filter(Files::isRegularFile).map(f -> dir.relativize(f).toString()).sorted())
          .containsExactly(
              "README.md",
              dir.relativize(library).toString(),
              dir.relativize(library).toString().replace(".jar", ".pom"),
              "pom.xml",
              "src/main/java/example/MyguestGuest.java",
              "src/main/resources/META-INF/services/dev.guesttrace.guest.GuestProgram");
    }
    assertThat(Files.readString(dir.resolve("pom.xml")))
        .contains("<artifactId>myguest</artifactId>", "<version>" + version + "</version>");

    Path jar = buildWithJavac(dir, library);
    Outcome listed = run("guests", "--guest-jar", jar.toString());
    assertThat(listed.out())
        .isEqualTo(
            """
            myguest  a starter guest: Work(steps) sums squares in traced steps
                     C twin for --backend kvm: no (a Java guest)
            """);

    Outcome o = run("run", "myguest", "--guest-jar", jar.toString(), "--call", "Work(3)");
    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.out()).contains("> [host] run myguest\n");
    assertThat(withoutAddresses(workLines(o.out()))).isEqualTo(WORK_3);
    assertThat(o.err()).startsWith("guest log [info] vCPU 0: myguest booted\n");
    assertThat(o.out()).contains("]       [info] myguest booted\n");
    assertWrongArgumentsFailInOneLine("myguest", "--guest-jar", jar.toString());
  }

  static final String HOST_CALL_ERROR_C =
      """
      #include "gtguest.h"

      void guest_main(struct gt_runtime *rt) { (void)rt; }

      /* Calls a host function that does not exist and prints what came back: status and text. */
      void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
        (void)call;
        static char line[400];
        struct gt_value arg = gt_long(1);
        struct gt_value answer;
        int status = gt_call_host(rt, "NoSuchHostFunction", &arg, 1, &answer);
        size_t n = 0;
        line[n++] = (char)('0' + status);
        line[n++] = ' ';
        for (uint32_t i = 0; i < answer.length && n < sizeof line - 1; i++) {
          line[n++] = (char)answer.data[i];
        }
        struct gt_value text = gt_string_n(line, n);
        gt_call_host(rt, "HostPrint", &text, 1, result);
      }
      """;

  @Test
  void hostCallError_onKvm_reachesTheCGuestAsAStatusNotAResult() throws Exception {
    Path dir = tmp.resolve("caller");
    assertThat(run("init", "c", dir.toString()).status()).isZero();
    Files.writeString(dir.resolve("caller.c"), HOST_CALL_ERROR_C);
    assumeTrue(onPath("make") && onPath("gcc"), "skipped: no make or gcc to build a C guest");
    Process make =
        new ProcessBuilder("make", "-s").directory(dir.toFile()).redirectErrorStream(true).start();
    String log = new String(make.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(make.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(make.exitValue()).as("make: %s", log).isZero();
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    Outcome o = run("run", dir.resolve("caller.elf").toString(), "--call", "Go()", "--quiet");
    assertThat(o.status()).as(o.err()).isZero();
    Outcome shown = run("run", dir.resolve("caller.elf").toString(), "--call", "Go()");
    assertThat(shown.err().lines().findFirst())
        .contains("guest: 1 error: unknown host function: NoSuchHostFunction");
  }

  /**
   * Builds the C starter in {@code dir} with its SDK header's {@code from} replaced by {@code to}.
   */
  private static void makeWithHeaderEdit(Path dir, String from, String to) throws Exception {
    assertThat(run("init", "c", dir.toString()).status()).isZero();
    Path header = dir.resolve("sdk/guesttrace.h");
    String text = Files.readString(header);
    assertThat(text).contains(from);
    Files.writeString(header, text.replace(from, to));
    Process make =
        new ProcessBuilder("make", "-s").directory(dir.toFile()).redirectErrorStream(true).start();
    String log = new String(make.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(make.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(make.exitValue()).as("make: %s", log).isZero();
  }

  @Test
  void cGuestOfAnotherAbiVersion_onKvm_saysWhichInOneLine() throws Exception {
    assumeTrue(onPath("make") && onPath("gcc"), "skipped: no make or gcc to build a C guest");
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    // An SDK of another major version: the guest refuses the boot info (it faults on purpose,
    // since it cannot trust the call buffers), and the host names the cause from its registers.
    Path major = tmp.resolve("major");
    makeWithHeaderEdit(major, "#define GT_ABI_MAJOR 1\n", "#define GT_ABI_MAJOR 2\n");
    Outcome refused = run("run", major.resolve("major.elf").toString(), "--quiet");
    assertThat(refused.status()).isEqualTo(1);
    assertThat(refused.err())
        .isEqualTo(
            "guesttrace run: guest fault on vCPU 0 during boot: the guest refused the boot info:"
                + " trace ABI not compatible: host=1.0.0 guest=2.0.0 (build the guest with this"
                + " guesttrace's C SDK: 'guesttrace init c' writes it)\n");
    // A newer minor version: the host refuses the trace region, the guest says so with the
    // status and runs untraced.
    Path minor = tmp.resolve("minor");
    makeWithHeaderEdit(minor, "#define GT_ABI_MINOR 0\n", "#define GT_ABI_MINOR 9\n");
    Outcome untraced = run("run", minor.resolve("minor.elf").toString(), "--call", "Work(1)");
    assertThat(untraced.status()).as(untraced.err()).isZero();
    assertThat(untraced.err())
        .contains(
            "guest log [warn] vCPU 0: trace region refused by the host (REGISTER status 5):"
                + " tracing off on this vCPU\n");
  }

  @Test
  void javaNextStep_setsJavaHomeWhereTheDefaultJavaIsOlderThan25() throws IOException {
    Path jdk17 = fakeJdk("jdk17", "17.0.15");
    Path jdk25 = fakeJdk("jdk25", "25.0.3");
    Path jdk8 = fakeJdk("jdk8", "1.8.0_392");
    Path none = Files.createDirectories(tmp.resolve("empty"));
    assertThat(InitCommand.defaultJavaMajor(none + ":" + jdk17 + "/bin:" + jdk25 + "/bin"))
        .hasValue(17);
    assertThat(InitCommand.defaultJavaMajor(jdk25 + "/bin:" + jdk17 + "/bin")).hasValue(25);
    assertThat(InitCommand.defaultJavaMajor(jdk8 + "/bin")).hasValue(8);
    assertThat(InitCommand.defaultJavaMajor(none.toString())).isEmpty();

    assertThat(InitCommand.mavenCommand(java.util.OptionalInt.of(25))).isEqualTo("mvn -q package");
    assertThat(InitCommand.mavenCommand(java.util.OptionalInt.of(17)))
        .isEqualTo(
            "JAVA_HOME="
                + System.getProperty("java.home")
                + " mvn -q package   (Maven needs a JDK 25; the default java is 17)");
    assertThat(InitCommand.mavenCommand(java.util.OptionalInt.empty()))
        .startsWith("JAVA_HOME=")
        .endsWith("the default java is unknown)");
  }

  @Test
  void nextSteps_nameTheLauncherAsTheReaderCanTypeIt() throws IOException {
    Path onPath = Files.createDirectories(tmp.resolve("on-path"));
    Path launcher = Files.writeString(onPath.resolve("guesttrace"), "#!/bin/sh\n");
    assertThat(launcher.toFile().setExecutable(true)).isTrue();
    Path elsewhere = Path.of("/opt/gt/guesttrace");
    assertThat(InitCommand.launcher("/nowhere:" + onPath, elsewhere)).isEqualTo("guesttrace");
    assertThat(InitCommand.launcher("/nowhere", elsewhere)).isEqualTo("/opt/gt/guesttrace");
    assertThat(InitCommand.launcher(null, Path.of("/my gt/guesttrace")))
        .isEqualTo("'/my gt/guesttrace'");
    assertThat(InitCommand.launcher("/nowhere", null)).isEqualTo("guesttrace");
  }

  /** A folder that looks like a JDK to {@link InitCommand#defaultJavaMajor}: bin/java, release. */
  private Path fakeJdk(String name, String version) throws IOException {
    Path home = Files.createDirectories(tmp.resolve(name));
    Path java = Files.createDirectories(home.resolve("bin")).resolve("java");
    Files.writeString(java, "#!/bin/sh\n");
    assertThat(java.toFile().setExecutable(true)).isTrue();
    Files.writeString(
        home.resolve("release"), "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"" + version + "\"\n");
    return home;
  }

  @Test
  void guestsDocSnippets_areTheStartersOwnLines_inOrder() throws IOException {
    // docs/guests.md quotes the starters' guest code; a template change must show there too.
    String doc = Files.readString(GuestsDocIT.DOC);
    for (String[] pair :
        List.of(
            new String[] {"c", "init/c-guest.c"}, new String[] {"java", "init/java-Guest.java"})) {
      int open = doc.indexOf("```" + pair[0] + "\n");
      assertThat(open).as("a %s block in %s", pair[0], GuestsDocIT.DOC).isNotNegative();
      int from = open + pair[0].length() + 4;
      List<String> quoted =
          doc.substring(from, doc.indexOf("```", from))
              .lines()
              .map(l -> l.replaceFirst("\\s*//.*$", "").strip())
              .filter(l -> !l.isEmpty())
              .toList();
      List<String> template;
      try (var in = InitCommand.class.getResourceAsStream(pair[1])) {
        assertThat(in).as(pair[1]).isNotNull();
        template =
            new String(in.readAllBytes(), StandardCharsets.UTF_8)
                .lines()
                .map(String::strip)
                .toList();
      }
      assertThat(quoted).as("guests.md's %s block", pair[0]).hasSizeGreaterThan(5);
      assertThat(template).as(pair[1]).containsSubsequence(quoted);
    }
  }

  @Test
  void init_intoAFolderThatHasFiles_isRefused() throws IOException {
    Files.writeString(tmp.resolve("keep.txt"), "mine");
    Outcome o = run("init", "c", tmp.toString());
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace init: " + tmp + " is not empty: init writes only into a new folder\n");
    assertThat(run("init", "rust", tmp.resolve("x").toString()).err())
        .isEqualTo("guesttrace init: expected c or java, found 'rust'\n");
  }

  @Test
  void sdkFiles_areExactlyTheSdkFolder() throws IOException {
    Path sdk = Path.of("../trace-guest-abi/src/main/c");
    try (Stream<Path> files = Files.list(sdk)) {
      assertThat(files.map(f -> f.getFileName().toString()))
          .containsExactlyInAnyOrderElementsOf(InitCommand.SDK_FILES);
    }
  }

  @Test
  void guestName_comesFromTheFolder() {
    assertThat(InitCommand.guestName(Path.of("/x/My Guest_2"))).isEqualTo("my-guest-2");
    assertThat(InitCommand.guestName(Path.of("/x/2fast"))).isEqualTo("guest");
    assertThat(InitCommand.className("my-guest-2")).isEqualTo("MyGuest2");
  }

  /** As `mvn package` would: compile against the library only, jar classes and resources. */
  static Path buildWithJavac(Path dir, Path library) throws IOException {
    Path classes = Files.createDirectories(dir.resolve("target/classes"));
    List<String> args =
        new ArrayList<>(
            List.of("--release", "25", "-d", classes.toString(), "-classpath", library.toString()));
    try (Stream<Path> sources = Files.walk(dir.resolve("src/main/java"))) {
      sources.filter(f -> f.toString().endsWith(".java")).forEach(f -> args.add(f.toString()));
    }
    ByteArrayOutputStream errors = new ByteArrayOutputStream();
    int status =
        ToolProvider.getSystemJavaCompiler()
            .run(null, OutputStream.nullOutputStream(), errors, args.toArray(String[]::new));
    assertThat(status).as("javac: %s", errors.toString(StandardCharsets.UTF_8)).isZero();
    Path jar = dir.resolve("target/" + InitCommand.guestName(dir) + "-1.0.jar");
    Path resources = dir.resolve("src/main/resources");
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
      for (Path root : List.of(classes, resources)) {
        try (Stream<Path> files = Files.walk(root)) {
          for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
            out.putNextEntry(new JarEntry(root.relativize(f).toString().replace('\\', '/')));
            out.write(Files.readAllBytes(f));
            out.closeEntry();
          }
        }
      }
    }
    return jar;
  }

  static boolean onPath(String command) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(java.io.File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, command))) {
        return true;
      }
    }
    return false;
  }
}
