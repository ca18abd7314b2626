package dev.guesttrace.cli;

import dev.guesttrace.guest.GuestProgram;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code guesttrace init c|java DIR}: writes a starter guest that builds with one command outside
 * this repository. {@code c}: the C guest SDK ({@code sdk/}), a Makefile and one {@code .c} file.
 * {@code java}: a Maven project whose guest library, {@code dev.guesttrace:trace-guest-abi}, comes
 * from a Maven repository in the project folder ({@code lib/repo}) holding this guesttrace's own
 * guest library, so {@code mvn package} needs nothing but Maven Central for its plugins.
 */
@Command(
    name = "init",
    mixinStandardHelpOptions = true,
    description = {
      "Write a starter guest into a new folder: c (make; run PATH.elf on KVM) or java (mvn package;"
          + " run NAME --guest-jar JAR).",
      "The guest is named after the folder."
    })
final class InitCommand implements Callable<Integer> {
  /** The C SDK's files, as trace-guest-abi packs them under {@link #SDK_RESOURCES}. */
  static final List<String> SDK_FILES =
      List.of("guesttrace.h", "gtguest.h", "start.S", "guest.ld", "guest.mk");

  /** Where the C SDK sits on the class path. */
  static final String SDK_RESOURCES = "dev/guesttrace/sdk/c/";

  /** The build's version when the library carries none (a development build's classes folder). */
  static final String FALLBACK_VERSION = "0.1.0-SNAPSHOT";

  private static final String TEMPLATES = "init/";

  @Mixin CommonOptions common;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "LANGUAGE", description = "c or java.")
  String language;

  @Parameters(
      index = "1",
      paramLabel = "DIR",
      description = "The folder to create (it must not exist, or be empty).")
  Path dir;

  @Override
  public Integer call() {
    if (!language.equals("c") && !language.equals("java")) {
      throw CliException.usage("expected c or java, found '" + language + "'");
    }
    String name = guestName(dir);
    try {
      if (Files.exists(dir)) {
        if (!Files.isDirectory(dir)) {
          throw CliException.usage(dir + " exists and is not a folder");
        }
        try (Stream<Path> entries = Files.list(dir)) {
          if (entries.findAny().isPresent()) {
            throw CliException.usage(dir + " is not empty: init writes only into a new folder");
          }
        }
      }
      Files.createDirectories(dir);
      List<Path> written = language.equals("c") ? writeC(name) : writeJava(name);
      PrintWriter out = spec.commandLine().getOut();
      out.println("guesttrace init: wrote " + written.size() + " files into " + dir);
      out.println("next, in " + dir + ":");
      String guesttrace = launcher(System.getenv("PATH"), launcherBesideJar());
      if (language.equals("c")) {
        out.println("  make");
        out.println("  " + guesttrace + " run " + name + ".elf --call 'Work(3)'");
      } else {
        out.println("  " + mavenCommand(defaultJavaMajor(System.getenv("PATH"))));
        out.println(
            "  "
                + guesttrace
                + " run "
                + name
                + " --guest-jar target/"
                + name
                + "-1.0.jar --call 'Work(3)'");
      }
      out.flush();
      return Errors.OK;
    } catch (IOException e) {
      throw CliException.badData("cannot write " + dir + ": " + Errors.cause(e), e);
    } catch (UncheckedIOException e) {
      throw CliException.badData("cannot write " + dir + ": " + Errors.cause(e.getCause()), e);
    }
  }

  /**
   * How the next steps name the launcher: {@code guesttrace} where one is on {@code path} (README's
   * {@code export PATH}), else the full path of the launcher this jar belongs to, so that a reader
   * who ran {@code ./guesttrace init} from the checkout can paste the step in the new folder.
   */
  static String launcher(String path, Path besideJar) {
    if (path != null) {
      for (String entry : path.split(java.io.File.pathSeparator)) {
        if (!entry.isEmpty() && Files.isExecutable(Path.of(entry, "guesttrace"))) {
          return "guesttrace";
        }
      }
    }
    if (besideJar == null) {
      return "guesttrace";
    }
    String full = besideJar.toString();
    return full.matches("[A-Za-z0-9_./+-]+") ? full : "'" + full.replace("'", "'\\''") + "'";
  }

  /** The launcher of this checkout ({@code trace-cli/target/guesttrace.jar}'s), or null. */
  private static Path launcherBesideJar() {
    try {
      Path jar =
          Path.of(InitCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      Path root = jar.toAbsolutePath().getParent();
      for (int up = 0; up < 2 && root != null; up++) {
        root = root.getParent();
      }
      Path launcher = root == null ? null : root.resolve("guesttrace");
      return launcher != null && Files.isExecutable(launcher) && Files.isRegularFile(launcher)
          ? launcher
          : null;
    } catch (URISyntaxException | RuntimeException e) {
      return null;
    }
  }

  /** A JDK's release file line naming its version: {@code JAVA_VERSION="17.0.15"}. */
  private static final Pattern JAVA_VERSION =
      Pattern.compile("^JAVA_VERSION=\"(?:1\\.)?([0-9]{1,4})");

  /**
   * The build command for the Java starter: {@code mvn -q package} where the default {@code java}
   * is a JDK 25 or newer; else, or when it cannot tell, with {@code JAVA_HOME} set to the JDK 25
   * this command runs on (Maven on an older JDK fails with "release version 25 not supported").
   */
  static String mavenCommand(OptionalInt defaultJavaMajor) {
    if (defaultJavaMajor.isPresent() && defaultJavaMajor.getAsInt() >= 25) {
      return "mvn -q package";
    }
    String home = System.getProperty("java.home");
    String quoted =
        home.matches("[A-Za-z0-9_./+-]+") ? home : "'" + home.replace("'", "'\\''") + "'";
    return "JAVA_HOME="
        + quoted
        + " mvn -q package   (Maven needs a JDK 25; the default java is "
        + (defaultJavaMajor.isPresent() ? String.valueOf(defaultJavaMajor.getAsInt()) : "unknown")
        + ")";
  }

  /**
   * The feature version of the first {@code java} on {@code path}, from its JDK's {@code release}
   * file (no JVM started), or empty if there is none or it cannot tell.
   */
  static OptionalInt defaultJavaMajor(String path) {
    if (path == null) {
      return OptionalInt.empty();
    }
    for (String entry : path.split(java.io.File.pathSeparator)) {
      try {
        Path java = Path.of(entry.isEmpty() ? "." : entry, "java");
        if (!Files.isExecutable(java)) {
          continue;
        }
        Path bin = java.toRealPath().getParent();
        Path release =
            bin == null || bin.getParent() == null ? null : bin.getParent().resolve("release");
        if (release == null || !Files.isRegularFile(release) || Files.size(release) > 64 * 1024) {
          return OptionalInt.empty();
        }
        for (String line : Files.readAllLines(release, StandardCharsets.UTF_8)) {
          Matcher m = JAVA_VERSION.matcher(line);
          if (m.find()) {
            return OptionalInt.of(Integer.parseInt(m.group(1)));
          }
        }
        return OptionalInt.empty();
      } catch (IOException | java.nio.file.InvalidPathException | java.io.UncheckedIOException e) {
        return OptionalInt.empty();
      }
    }
    return OptionalInt.empty();
  }

  /**
   * The guest's name from the folder's: lower case letters, digits and '-', starting with a letter
   * (a file name, a Maven artifactId and a C-friendly word at once).
   */
  static String guestName(Path dir) {
    Path file = dir.toAbsolutePath().normalize().getFileName();
    String raw = file == null ? "" : file.toString().toLowerCase(Locale.ROOT);
    StringBuilder name = new StringBuilder();
    for (char c : raw.toCharArray()) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        name.append(c);
      } else if (!name.isEmpty() && name.charAt(name.length() - 1) != '-') {
        name.append('-');
      }
    }
    while (!name.isEmpty() && name.charAt(name.length() - 1) == '-') {
      name.setLength(name.length() - 1);
    }
    if (name.isEmpty() || !Character.isLetter(name.charAt(0)) || name.length() > 64) {
      return "guest";
    }
    return name.toString();
  }

  private List<Path> writeC(String name) throws IOException {
    List<Path> written = new ArrayList<>();
    Path sdk = Files.createDirectories(dir.resolve("sdk"));
    for (String file : SDK_FILES) {
      written.add(write(sdk.resolve(file), resource(SDK_RESOURCES + file)));
    }
    written.add(write(dir.resolve("Makefile"), template("c-Makefile", name)));
    written.add(write(dir.resolve(name + ".c"), template("c-guest.c", name)));
    written.add(write(dir.resolve("README.md"), template("c-README.md", name)));
    return written;
  }

  private List<Path> writeJava(String name) throws IOException {
    List<Path> written = new ArrayList<>();
    String className = className(name);
    SortedMap<String, byte[]> classes = libraryClasses();
    String version = publishedVersion(classes);
    written.add(write(dir.resolve("pom.xml"), template("java-pom.xml", name, version)));
    written.add(write(dir.resolve("README.md"), template("java-README.md", name, version)));
    written.add(
        write(
            dir.resolve("src/main/java/example/" + className + ".java"),
            template("java-Guest.java", name, version)));
    written.add(
        write(
            dir.resolve("src/main/resources/" + GuestJars.SERVICE_FILE),
            ("example." + className + "\n").getBytes(StandardCharsets.UTF_8)));
    Path repo =
        Files.createDirectories(dir.resolve("lib/repo/dev/guesttrace/trace-guest-abi/" + version));
    Path jar = repo.resolve("trace-guest-abi-" + version + ".jar");
    writeLibraryJar(jar, version, classes);
    written.add(jar);
    written.add(
        write(
            repo.resolve("trace-guest-abi-" + version + ".pom"),
            libraryPom(version).getBytes(StandardCharsets.UTF_8)));
    return written;
  }

  /** {@code my-guest} to {@code MyGuest}: the starter class's name. */
  static String className(String name) {
    StringBuilder b = new StringBuilder();
    boolean upper = true;
    for (char c : name.toCharArray()) {
      if (c == '-') {
        upper = true;
      } else {
        b.append(upper ? Character.toUpperCase(c) : c);
        upper = false;
      }
    }
    String s = b.toString();
    return s.contains("Guest") ? s : s + "Guest";
  }

  private static String libraryPom(String version) {
    return """
        <?xml version="1.0" encoding="UTF-8"?>
        <!-- The guesttrace guest library, written by `guesttrace init java`: no dependencies. -->
        <project xmlns="http://maven.apache.org/POM/4.0.0">
          <modelVersion>4.0.0</modelVersion>
          <groupId>dev.guesttrace</groupId>
          <artifactId>trace-guest-abi</artifactId>
          <version>%s</version>
          <packaging>jar</packaging>
        </project>
        """
        .formatted(version);
  }

  /** The version of the guest library this guesttrace carries, as its build named it. */
  static String buildVersion() {
    try (InputStream in =
        InitCommand.class
            .getClassLoader()
            .getResourceAsStream("META-INF/maven/dev.guesttrace/trace-guest-abi/pom.properties")) {
      if (in != null) {
        Properties p = new Properties();
        p.load(in);
        String v = p.getProperty("version");
        if (v != null && v.matches("[0-9A-Za-z.\\-]{1,64}")) {
          return v;
        }
      }
    } catch (IOException e) {
      // Fall through: the build's version is the best guess.
    }
    return FALLBACK_VERSION;
  }

  /**
   * The version the library is published under in {@code lib/repo}: the build's version, but for a
   * development build ({@code -SNAPSHOT}) one that names the classes' content ({@code
   * 0.1.0-dev.1a2b3c4d}). Maven keeps what it took from a repository in the local one and, for a
   * snapshot without metadata, never looks again: a new guesttrace with new guest classes must not
   * build against yesterday's copy. A release version names its content already.
   */
  static String publishedVersion(SortedMap<String, byte[]> classes) {
    String version = buildVersion();
    if (!version.endsWith("-SNAPSHOT")) {
      return version;
    }
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Map.Entry<String, byte[]> e : classes.entrySet()) {
        sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
        sha.update(e.getValue());
      }
      String hash = HexFormat.of().formatHex(sha.digest(), 0, 4);
      return version.substring(0, version.length() - "-SNAPSHOT".length()) + "-dev." + hash;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /**
   * The guest library's classes (packages {@code dev.guesttrace.abi} and {@code
   * dev.guesttrace.guest}) by entry name, taken from wherever this guesttrace loads them: the
   * runnable jar, or trace-guest-abi's classes folder in a development build.
   */
  static SortedMap<String, byte[]> libraryClasses() throws IOException {
    Path source;
    try {
      source =
          Path.of(GuestProgram.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException | RuntimeException e) {
      throw new IOException("cannot find the guest library's classes: " + e.getMessage(), e);
    }
    SortedMap<String, byte[]> classes = new TreeMap<>();
    if (Files.isDirectory(source)) {
      try (Stream<Path> files = Files.walk(source)) {
        for (Path f : files.filter(Files::isRegularFile).toList()) {
          String entry = source.relativize(f).toString().replace('\\', '/');
          if (isLibraryEntry(entry)) {
            classes.put(entry, Files.readAllBytes(f));
          }
        }
      }
    } else {
      try (JarFile in = new JarFile(source.toFile())) {
        for (JarEntry e : in.stream().toList()) {
          if (!e.isDirectory() && isLibraryEntry(e.getName())) {
            try (InputStream bytes = in.getInputStream(e)) {
              classes.put(e.getName(), bytes.readAllBytes());
            }
          }
        }
      }
    }
    if (classes.isEmpty()) {
      throw new IOException("no guest library classes found in " + source);
    }
    return classes;
  }

  /** Writes {@code classes} as the library jar. */
  static void writeLibraryJar(Path jar, String version, SortedMap<String, byte[]> classes)
      throws IOException {
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    manifest.getMainAttributes().put(Attributes.Name.IMPLEMENTATION_TITLE, "trace-guest-abi");
    manifest.getMainAttributes().put(Attributes.Name.IMPLEMENTATION_VERSION, version);
    try (OutputStream file = Files.newOutputStream(jar);
        JarOutputStream out = new JarOutputStream(file, manifest)) {
      for (Map.Entry<String, byte[]> e : classes.entrySet()) {
        out.putNextEntry(new JarEntry(e.getKey()));
        out.write(e.getValue());
        out.closeEntry();
      }
    }
  }

  private static boolean isLibraryEntry(String entry) {
    return entry.endsWith(".class")
        && (entry.startsWith("dev/guesttrace/abi/") || entry.startsWith("dev/guesttrace/guest/"));
  }

  private static byte[] template(String template, String name) {
    return template(template, name, FALLBACK_VERSION);
  }

  private static byte[] template(String template, String name, String version) {
    String text =
        new String(resource(TEMPLATES + template, InitCommand.class), StandardCharsets.UTF_8);
    return text.replace("@NAME@", name)
        .replace("@CLASS@", className(name))
        .replace("@VERSION@", version)
        .getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] resource(String path) {
    try (InputStream in = InitCommand.class.getClassLoader().getResourceAsStream(path)) {
      if (in == null) {
        throw new UncheckedIOException(new IOException("missing from this build: " + path));
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static byte[] resource(String relative, Class<?> near) {
    try (InputStream in = near.getResourceAsStream(relative)) {
      if (in == null) {
        throw new UncheckedIOException(new IOException("missing from this build: " + relative));
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path write(Path file, byte[] bytes) throws IOException {
    Files.createDirectories(file.getParent());
    Files.write(file, bytes);
    return file;
  }
}
