package dev.guesttrace.cli;

import dev.guesttrace.guest.GuestProgram;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Java guests from the user's jars ({@code --guest-jar}): a class loader over the jars, whose
 * parent is the CLI's (so {@link GuestProgram} and the guest runtime are the CLI's own), and the
 * {@link GuestProgram}s the jars register in {@code
 * META-INF/services/dev.guesttrace.guest.GuestProgram}. Providers that come from the CLI itself
 * (the samples) are not the jar's and are left out.
 *
 * <p>Everything here is user input: a missing file, a file that is not a jar, a jar with no guest,
 * a provider that cannot be loaded or constructed, each becomes one line and exit 2.
 */
final class GuestJars implements AutoCloseable {
  /** The service file a guest jar lists its guests in. */
  static final String SERVICE_FILE = "META-INF/services/" + GuestProgram.class.getName();

  private final List<Path> jars;
  private final URLClassLoader loader;
  private final List<GuestProgram> guests;

  private GuestJars(List<Path> jars, URLClassLoader loader, List<GuestProgram> guests) {
    this.jars = jars;
    this.loader = loader;
    this.guests = guests;
  }

  /** No jars, no guests. */
  static GuestJars none() {
    return new GuestJars(List.of(), null, List.of());
  }

  /**
   * Opens the jars {@code options} names: each option one jar or a {@code :}-separated list.
   *
   * @throws CliException (usage) naming the jar and what is wrong with it
   */
  static GuestJars open(List<String> options) {
    List<Path> jars = new ArrayList<>();
    for (String option : options) {
      for (String part : option.split(File.pathSeparator, -1)) {
        if (part.isEmpty()) {
          throw CliException.usage("--guest-jar: empty path in '" + option + "'");
        }
        jars.add(checked(Path.of(part)));
      }
    }
    URL[] urls = new URL[jars.size()];
    for (int i = 0; i < urls.length; i++) {
      try {
        urls[i] = jars.get(i).toAbsolutePath().toUri().toURL();
      } catch (MalformedURLException e) {
        throw CliException.usage("--guest-jar: cannot use " + jars.get(i) + ": " + e.getMessage());
      }
    }
    URLClassLoader loader =
        new URLClassLoader("guest-jars", urls, GuestJars.class.getClassLoader());
    List<GuestProgram> guests = new ArrayList<>();
    try {
      for (ServiceLoader.Provider<GuestProgram> provider :
          ServiceLoader.load(GuestProgram.class, loader).stream().toList()) {
        if (provider.type().getClassLoader() != loader) {
          continue; // one of the CLI's own samples, seen through the parent
        }
        guests.add(provider.get());
      }
      for (GuestProgram g : guests) {
        String name = g.name();
        if (name == null || name.isBlank()) {
          throw new ServiceConfigurationError(g.getClass().getName() + ".name() returned no name");
        }
        // A name is typed on command lines and printed: no spaces, no control characters.
        if (!name.codePoints()
            .allMatch(c -> c > ' ' && !Character.isISOControl(c) && !Character.isWhitespace(c))) {
          throw new ServiceConfigurationError(
              g.getClass().getName()
                  + ".name() returned a name with spaces or control characters: '"
                  + dev.guesttrace.render.Printable.of(name)
                  + "'");
        }
      }
    } catch (ServiceConfigurationError | LinkageError | RuntimeException e) {
      close(loader);
      throw CliException.usage(
          "--guest-jar "
              + String.join(File.pathSeparator, options)
              + ": cannot load a guest: "
              + oneLine(e));
    }
    if (guests.isEmpty()) {
      close(loader);
      throw CliException.usage(
          "--guest-jar "
              + String.join(File.pathSeparator, options)
              + ": no guest: expected a "
              + SERVICE_FILE
              + " naming classes that implement GuestProgram (see docs/guests.md)");
    }
    guests.sort(Comparator.comparing(GuestProgram::name));
    return new GuestJars(List.copyOf(jars), loader, List.copyOf(guests));
  }

  private static Path checked(Path jar) {
    if (!Files.isRegularFile(jar)) {
      throw CliException.usage("--guest-jar: no such file: " + jar);
    }
    byte[] magic = new byte[4];
    try (InputStream in = Files.newInputStream(jar)) {
      if (in.readNBytes(magic, 0, 4) != 4
          || magic[0] != 'P'
          || magic[1] != 'K'
          || magic[2] != 3
          || magic[3] != 4) {
        throw CliException.usage("--guest-jar: not a jar (zip) file: " + jar);
      }
    } catch (IOException e) {
      throw CliException.usage("--guest-jar: cannot read " + jar + ": " + Errors.cause(e));
    }
    return jar;
  }

  /** The jars' guests, by name. */
  List<GuestProgram> guests() {
    return guests;
  }

  /** The guest called {@code name}, if a jar has it. */
  Optional<GuestProgram> find(String name) {
    return guests.stream().filter(g -> g.name().equals(name)).findFirst();
  }

  /** The jars, as given. */
  List<Path> jars() {
    return jars;
  }

  @Override
  public void close() {
    close(loader);
  }

  private static void close(URLClassLoader loader) {
    if (loader == null) {
      return;
    }
    try {
      loader.close();
    } catch (IOException ignored) {
      // Closing only releases open jar files; nothing to report to the user.
    }
  }

  private static String oneLine(Throwable e) {
    Throwable cause = e;
    // ServiceLoader wraps the interesting failure (class not found, constructor threw).
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    String message = cause == e ? e.getMessage() : e.getMessage() + ": " + cause;
    message = String.valueOf(message);
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
