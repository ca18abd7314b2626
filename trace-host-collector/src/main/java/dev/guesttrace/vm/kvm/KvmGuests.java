package dev.guesttrace.vm.kvm;

import dev.guesttrace.vm.GuestSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Finds the native sample guests the sample-guests build compiles with gcc: classpath resources
 * {@code guests/<name>.elf} (in the sample-guests jar). Each C guest has the name, guest functions
 * and default call of its Java twin ({@code hello}, {@code fib}, {@code alloc}, {@code multi-vcpu},
 * {@code abort}, {@code runaway}); {@code bench} is the measurement guest of {@code
 * KvmExitBenchmark}.
 */
public final class KvmGuests {
  /** Where the guests sit on the classpath. */
  public static final String RESOURCE_DIRECTORY = "guests/";

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,63}");

  private KvmGuests() {}

  /** The classpath resource name of guest {@code name}'s binary. */
  public static String resourceName(String name) {
    return RESOURCE_DIRECTORY + name + ".elf";
  }

  /**
   * The guest called {@code name}, copied from the classpath to a temporary file (deleted when the
   * JVM exits), or empty if there is no such guest (or gcc was missing when it was built).
   *
   * @throws UncheckedIOException if the guest exists but cannot be copied out
   */
  public static Optional<GuestSource.Elf> find(String name) {
    if (!NAME.matcher(name).matches()) {
      return Optional.empty();
    }
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    if (loader == null) {
      loader = KvmGuests.class.getClassLoader();
    }
    try (InputStream in = loader.getResourceAsStream(resourceName(name))) {
      if (in == null) {
        return Optional.empty();
      }
      Path file = Files.createTempFile("guesttrace-" + name + "-", ".elf");
      file.toFile().deleteOnExit();
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      return Optional.of(new GuestSource.Elf(name, file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy guest " + name + ": " + e.getMessage(), e);
    }
  }
}
