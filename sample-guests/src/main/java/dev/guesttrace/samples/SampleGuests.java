package dev.guesttrace.samples;

import dev.guesttrace.guest.GuestProgram;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The Java guests on the class path, found through {@link ServiceLoader} ({@code
 * META-INF/services/dev.guesttrace.guest.GuestProgram}): the numbered samples of this module and
 * any a user adds. Each lookup creates fresh instances.
 *
 * <pre>{@code
 * for (GuestProgram g : SampleGuests.all()) System.out.println(g.name() + "  " + g.summary());
 * GuestProgram hello = SampleGuests.find("hello").orElseThrow();
 * }</pre>
 */
public final class SampleGuests {
  private SampleGuests() {}

  /** Every guest, in the order of the service files (the samples: by number). */
  public static List<GuestProgram> all() {
    List<GuestProgram> guests = new ArrayList<>();
    for (GuestProgram guest : ServiceLoader.load(GuestProgram.class, loader())) {
      guests.add(guest);
    }
    return List.copyOf(guests);
  }

  /** The guest called {@code name}, if there is one. */
  public static Optional<GuestProgram> find(String name) {
    return all().stream().filter(g -> g.name().equals(name)).findFirst();
  }

  /** Names of every guest, in order, for "expected one of ..." messages. */
  public static List<String> names() {
    return all().stream().map(GuestProgram::name).toList();
  }

  private static ClassLoader loader() {
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    return context != null ? context : SampleGuests.class.getClassLoader();
  }
}
