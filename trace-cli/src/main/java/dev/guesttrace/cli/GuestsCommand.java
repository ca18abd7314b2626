package dev.guesttrace.cli;

import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.render.Printable;
import dev.guesttrace.vm.kvm.KvmGuests;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code guesttrace guests}: the sample guests, one line each. */
@Command(
    name = "guests",
    mixinStandardHelpOptions = true,
    description = "List the guests 'guesttrace run' can run.")
final class GuestsCommand implements Callable<Integer> {
  /** Names of the robustness guests, listed apart from the teaching samples. */
  static final String HOSTILE_PREFIX = "hostile-";

  @Mixin CommonOptions common;
  @Spec CommandSpec spec;

  @Option(
      names = "--guest-jar",
      paramLabel = "JAR",
      description =
          "List the Java guests this jar registers instead of the samples (repeatable, or"
              + " ':'-separated).")
  List<String> guestJars = new ArrayList<>();

  @Override
  public Integer call() {
    if (!guestJars.isEmpty()) {
      try (GuestJars jars = GuestJars.open(guestJars)) {
        List<GuestProgram> guests = jars.guests();
        int width = guests.stream().mapToInt(g -> g.name().length()).max().orElse(4);
        for (GuestProgram g : guests) {
          spec.commandLine()
              .getOut()
              .printf("%-" + width + "s  %s%n", g.name(), Printable.of(summary(g)));
          // A jar's guest is Java: it runs on the emulated backend (KVM runs native ELF guests).
          spec.commandLine()
              .getOut()
              .printf("%sC twin for --backend kvm: no (a Java guest)%n", " ".repeat(width + 2));
          for (String arg : args(g)) {
            spec.commandLine()
                .getOut()
                .printf("%s--arg %s%n", " ".repeat(width + 2), Printable.of(arg));
          }
        }
        spec.commandLine().getOut().flush();
      }
      return Errors.OK;
    }
    List<GuestProgram> guests = Guests.all();
    // Each group (teaching samples, hostile guests) aligns its own summaries.
    int sampleWidth =
        guests.stream()
            .filter(g -> !g.name().startsWith(HOSTILE_PREFIX))
            .mapToInt(g -> g.name().length())
            .max()
            .orElse(4);
    int hostileWidth =
        guests.stream()
            .filter(g -> g.name().startsWith(HOSTILE_PREFIX))
            .mapToInt(g -> g.name().length())
            .max()
            .orElse(4);
    boolean hostileHeader = false;
    for (GuestProgram g : guests) {
      if (g.name().startsWith(HOSTILE_PREFIX) && !hostileHeader) {
        spec.commandLine()
            .getOut()
            .printf(
                "%nhostile guests (emulated backend only; the host must survive them; docs/robustness.md):%n");
        hostileHeader = true;
      }
      int width = g.name().startsWith(HOSTILE_PREFIX) ? hostileWidth : sampleWidth;
      spec.commandLine().getOut().printf("%-" + width + "s  %s%n", g.name(), g.summary());
      if (!g.name().startsWith(HOSTILE_PREFIX)) {
        String pad = " ".repeat(width + 2);
        spec.commandLine()
            .getOut()
            .printf(
                "%s%s%n",
                pad,
                hasKvmTwin(g.name())
                    ? "C twin for --backend kvm: yes"
                    : "C twin for --backend kvm: no");
        for (String arg : g.args()) {
          spec.commandLine().getOut().printf("%s--arg %s%n", pad, arg);
        }
      } else {
        for (String arg : g.args()) {
          spec.commandLine().getOut().printf("%s--arg %s%n", " ".repeat(width + 2), arg);
        }
      }
    }
    spec.commandLine().getOut().flush();
    return Errors.OK;
  }

  /** Whether the samples' jar carries the guest's native build (gcc was there at build time). */
  static boolean hasKvmTwin(String name) {
    ClassLoader loader = GuestsCommand.class.getClassLoader();
    return loader.getResource(KvmGuests.resourceName(name)) != null;
  }

  /** A user guest's summary; its code may throw, which must not end the listing. */
  private static String summary(GuestProgram g) {
    try {
      return String.valueOf(g.summary());
    } catch (RuntimeException e) {
      return "(summary() failed: " + e.getClass().getSimpleName() + ")";
    }
  }

  /** A user guest's {@code --arg}s, at most 32; its code may throw, which lists none. */
  private static List<String> args(GuestProgram g) {
    try {
      List<String> args = g.args();
      return args == null ? List.of() : args.stream().limit(32).map(String::valueOf).toList();
    } catch (RuntimeException e) {
      return List.of();
    }
  }

  /** Guest lookup through {@link ServiceLoader}. */
  static final class Guests {
    private Guests() {}

    static java.util.Optional<GuestProgram> find(String name) {
      return all().stream().filter(g -> g.name().equals(name)).findFirst();
    }

    static List<String> names() {
      return all().stream().map(GuestProgram::name).toList();
    }

    static List<GuestProgram> all() {
      return ServiceLoader.load(GuestProgram.class).stream()
          .map(ServiceLoader.Provider::get)
          .sorted(Comparator.comparing((GuestProgram g) -> g.getClass().getSimpleName()))
          .toList();
    }
  }
}
