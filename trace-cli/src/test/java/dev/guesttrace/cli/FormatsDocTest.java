package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/formats.md is the contract of {@code --format json}: for each verb, every key the JSON holds
 * is named in its section, and every field the section's table names is in the JSON; the outputs
 * pasted as exact (the stepped clock of {@code --deterministic}) are what the commands print.
 */
class FormatsDocTest {
  static final Path DOC = DocCommands.ROOT.resolve("docs/formats.md");

  @TempDir Path dir;

  @Test
  void everyVerb_jsonKeysAndDocumentedFieldsAgree() throws Exception {
    String hello = file("hello.gtrace");
    String alloc = file("alloc6.gtrace");
    ok("run", "hello", "--deterministic", "-o", hello, "--quiet");
    ok(
        "run",
        "alloc",
        "--deterministic",
        "--arg",
        "ops=6",
        "--arg",
        "leak=1",
        "-o",
        alloc,
        "--quiet");

    check("tree", ok("tree", hello, "--format", "json"));
    check("stats", ok("stats", hello, "--format", "json"));
    check("info", ok("info", hello, "--format", "json"));
    check("compare", ok("compare", hello, "--vs", hello, "--format", "json"));
    check("allocs", ok("allocs", alloc, "--format", "json"));
  }

  @Test
  void pastedExactOutputs_areWhatTheCommandsPrint() throws Exception {
    String hello = file("hello.gtrace");
    String alloc = file("alloc6.gtrace");
    ok("run", "hello", "--deterministic", "-o", hello, "--quiet");
    ok(
        "run",
        "alloc",
        "--deterministic",
        "--arg",
        "ops=6",
        "--arg",
        "leak=1",
        "-o",
        alloc,
        "--quiet");
    String doc = Files.readString(DOC);

    assertThat(doc).contains(ok("tree", hello, "--format", "json", "--max-depth", "2"));
    assertThat(doc).contains("```\n" + ok("allocs", alloc) + "```\n");
  }

  /** The section {@code ## `verb`: ...} of the doc, up to the next section. */
  static String section(String verb) throws Exception {
    String doc = Files.readString(DOC);
    int at = doc.indexOf("## `" + verb + "`");
    assertThat(at).as("section of %s", verb).isNotNegative();
    int end = doc.indexOf("\n## ", at + 1);
    return doc.substring(at, end < 0 ? doc.length() : end);
  }

  private static void check(String verb, String json) throws Exception {
    String section = section(verb);
    Set<String> keys = new TreeSet<>();
    Matcher m = Pattern.compile("\"([a-z_0-9]+)\":").matcher(json);
    while (m.find()) {
      keys.add(m.group(1));
    }
    Set<String> undocumented = new TreeSet<>();
    for (String k : keys) {
      if (!k.equals("schema") // every document's first key, described once at the top
          && !section.contains("`" + k + "`")
          && !section.contains("`" + k + "[]")
          && !section.contains("." + k + "`")
          && !section.contains("\"" + k + "\"")) {
        undocumented.add(k);
      }
    }
    assertThat(undocumented).as("%s: JSON keys docs/formats.md does not name", verb).isEmpty();

    Set<String> missing = new TreeSet<>();
    for (String field : tableFields(section)) {
      if (!keys.contains(field)) {
        missing.add(field);
      }
    }
    assertThat(missing).as("%s: fields docs/formats.md names that the JSON lacks", verb).isEmpty();
  }

  /**
   * The field names in the first column of a section's table: {@code `a`, `rows[].b`} give a, b.
   */
  static List<String> tableFields(String section) {
    Set<String> fields = new TreeSet<>();
    for (String line : section.lines().toList()) {
      if (!line.startsWith("| `")) {
        continue;
      }
      String first = line.substring(2, line.indexOf(" |", 2));
      Matcher m = Pattern.compile("`([a-z_0-9\\[\\].]+)`").matcher(first);
      while (m.find()) {
        String f = m.group(1);
        fields.add(f.substring(f.lastIndexOf('.') + 1).replace("[]", ""));
      }
    }
    return List.copyOf(fields);
  }

  private String file(String name) {
    return dir.resolve(name).toString();
  }

  private static String ok(String... args) {
    CliTest.Outcome o = CliTest.run(args);
    assertThat(o.status()).as("%s: %s", String.join(" ", args), o.err()).isZero();
    return o.out();
  }
}
