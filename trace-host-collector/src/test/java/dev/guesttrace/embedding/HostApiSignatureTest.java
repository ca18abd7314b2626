package dev.guesttrace.embedding;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.host.GuestTracer;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The public host API ({@code dev.guesttrace.host}) against its committed signature file: a change
 * to the API fails this test until the file is regenerated, so it shows in review. Regenerate with
 * {@code -Dguesttrace.api.update=true} (docs/embedding.md).
 */
class HostApiSignatureTest {
  static final Path API_FILE = Path.of("src/test/resources/api/dev.guesttrace.host.api");

  @Test
  void publicHostApi_matchesTheCommittedSignatures() throws Exception {
    String actual = String.join("\n", signatures()) + "\n";
    if (Boolean.getBoolean("guesttrace.api.update")) {
      Files.writeString(API_FILE, actual);
    }
    assertThat(actual)
        .as(
            "public API of dev.guesttrace.host changed; if intended, rerun with"
                + " -Dguesttrace.api.update=true and commit %s",
            API_FILE)
        .isEqualTo(Files.readString(API_FILE));
  }

  /** One line per public type and public member of the package, sorted. */
  static List<String> signatures() throws Exception {
    List<String> lines = new ArrayList<>();
    for (Class<?> type : publicTypes()) {
      String name = type.getName();
      lines.add(
          name
              + ": "
              + Modifier.toString(
                  type.getModifiers()
                      & ~(Modifier.INTERFACE | (type.isInterface() ? Modifier.ABSTRACT : 0)))
              + (type.isInterface() ? " interface" : type.isEnum() ? " enum" : " class")
              + (type.getGenericSuperclass() == null
                      || type.getGenericSuperclass() == Object.class
                      || type.isEnum()
                  ? ""
                  : " extends " + type.getGenericSuperclass().getTypeName())
              + (type.getGenericInterfaces().length == 0
                  ? ""
                  : " implements "
                      + String.join(
                          ", ",
                          Stream.of(type.getGenericInterfaces())
                              .map(java.lang.reflect.Type::getTypeName)
                              .toList())));
      for (Field f : type.getDeclaredFields()) {
        if (Modifier.isPublic(f.getModifiers())) {
          lines.add(name + ": " + f.toGenericString());
        }
      }
      for (Constructor<?> c : type.getDeclaredConstructors()) {
        if (Modifier.isPublic(c.getModifiers()) || Modifier.isProtected(c.getModifiers())) {
          lines.add(name + ": " + c.toGenericString());
        }
      }
      for (Method m : type.getDeclaredMethods()) {
        if ((Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers()))
            && !m.isSynthetic()) {
          // Whether a method locks is the implementation's business, not the API's.
          lines.add(name + ": " + m.toGenericString().replace("synchronized ", ""));
        }
      }
    }
    lines.sort(null);
    return lines;
  }

  /** Public classes of the package (not its subpackages), nested ones included. */
  static List<Class<?>> publicTypes() throws URISyntaxException, ClassNotFoundException {
    Path classes =
        Path.of(GuestTracer.class.getProtectionDomain().getCodeSource().getLocation().toURI())
            .resolve("dev/guesttrace/host");
    List<Class<?>> types = new ArrayList<>();
    try (Stream<Path> files = Files.list(classes)) {
      for (Path f : files.sorted().toList()) {
        String file = f.getFileName().toString();
        if (!file.endsWith(".class")) {
          continue;
        }
        Class<?> type = Class.forName("dev.guesttrace.host." + file.replace(".class", ""));
        if (Modifier.isPublic(type.getModifiers())
            && !type.isAnonymousClass()
            && (type.getEnclosingClass() == null
                || Modifier.isPublic(type.getEnclosingClass().getModifiers()))) {
          types.add(type);
        }
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    return types;
  }
}
