package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds a guest jar in a test, as a user's build would: compiles Java sources against the guest
 * library (on the test's class path) with the system compiler and packs the classes plus resources
 * (e.g. the {@code META-INF/services} file) into a jar.
 */
final class TestGuestJar {
  private TestGuestJar() {}

  /**
   * Compiles {@code sources} (path relative to the source root, e.g. {@code demo/MyGuest.java}, to
   * its text) and writes {@code dir/name.jar} with the classes and {@code resources}.
   */
  static Path build(
      Path dir, String name, Map<String, String> sources, Map<String, String> resources)
      throws IOException {
    Path src = Files.createDirectories(dir.resolve(name + "-src"));
    Path classes = Files.createDirectories(dir.resolve(name + "-classes"));
    List<String> args =
        new ArrayList<>(
            List.of(
                "-d",
                classes.toString(),
                "-classpath",
                System.getProperty("java.class.path"),
                "-proc:none",
                "-Xlint:all",
                "-Werror"));
    for (Map.Entry<String, String> source : sources.entrySet()) {
      Path file = src.resolve(source.getKey());
      Files.createDirectories(file.getParent());
      Files.writeString(file, source.getValue());
      args.add(file.toString());
    }
    if (!sources.isEmpty()) {
      JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
      ByteArrayOutputStream errors = new ByteArrayOutputStream();
      int status =
          javac.run(null, OutputStream.nullOutputStream(), errors, args.toArray(String[]::new));
      assertThat(status).as("javac: %s", errors.toString(StandardCharsets.UTF_8)).isZero();
    }
    Path jar = dir.resolve(name + ".jar");
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
      try (Stream<Path> files = Files.walk(classes)) {
        for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
          out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
          out.write(Files.readAllBytes(f));
          out.closeEntry();
        }
      }
      for (Map.Entry<String, String> resource : resources.entrySet()) {
        out.putNextEntry(new JarEntry(resource.getKey()));
        out.write(resource.getValue().getBytes(StandardCharsets.UTF_8));
        out.closeEntry();
      }
    }
    return jar;
  }
}
