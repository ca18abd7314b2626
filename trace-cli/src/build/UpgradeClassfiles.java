import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Rewrites the class files in a jar that are older than Java 6 (class file version 50) as Java 8
 * class files (52) with stack maps, in place. picocli ships as Java 5 class files, and the JDK's
 * AOT cache does not hold classes that old: in the guesttrace jar they were a third of the CPU time
 * of a short run, loaded, verified and linked anew each time. Only the version and the stack maps
 * change; the code is the same instructions. Run by bin/aot-train before the training run:
 *
 * <pre>java trace-cli/src/build/UpgradeClassfiles.java guesttrace.jar</pre>
 *
 * <p>A build tool, not part of the jar: the single-file source launcher compiles it when it runs.
 */
public final class UpgradeClassfiles {
  private UpgradeClassfiles() {}

  public static void main(String[] args) throws IOException {
    Path jar = Path.of(args[0]);
    Map<String, byte[]> entries = new LinkedHashMap<>(); // keeps the manifest first
    try (ZipInputStream in = new ZipInputStream(Files.newInputStream(jar))) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        entries.put(e.getName(), in.readAllBytes());
      }
    }
    // Stack maps name the common supertype of two types: resolve the jar's own classes from it.
    ClassHierarchyResolver fromJar =
        ClassHierarchyResolver.ofResourceParsing(
            desc -> {
              String d = desc.descriptorString();
              byte[] bytes = entries.get(d.substring(1, d.length() - 1) + ".class");
              return bytes == null ? null : new ByteArrayInputStream(bytes);
            });
    ClassFile classFile =
        ClassFile.of(
            ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
            ClassFile.ClassHierarchyResolverOption.of(
                fromJar.orElse(ClassHierarchyResolver.defaultResolver())));
    ClassTransform upgrade =
        ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
            .andThen(ClassTransform.endHandler(b -> b.withVersion(ClassFile.JAVA_8_VERSION, 0)));
    int upgraded = 0;
    Path tmp = jar.resolveSibling(jar.getFileName() + ".upgrading");
    try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(tmp))) {
      for (Map.Entry<String, byte[]> e : entries.entrySet()) {
        byte[] bytes = e.getValue();
        if (e.getKey().endsWith(".class") && majorVersion(bytes) < ClassFile.JAVA_6_VERSION) {
          bytes = classFile.transformClass(classFile.parse(bytes), upgrade);
          upgraded++;
        }
        out.putNextEntry(new ZipEntry(e.getKey()));
        out.write(bytes);
        out.closeEntry();
      }
    }
    Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    System.out.println("UpgradeClassfiles: " + upgraded + " class files upgraded in " + jar);
  }

  private static int majorVersion(byte[] classBytes) {
    return classBytes.length < 8 ? Integer.MAX_VALUE : (classBytes[6] & 0xFF) << 8 | classBytes[7] & 0xFF;
  }
}
