package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The docs' commands as {@link DocCommands} finds them, checked before anything runs them ({@link
 * DocCommandsIT} does, after the jar is built): none uses a bare {@code java} (the default one may
 * be older than 25), every skip rule still skips something, and a bare {@code guesttrace} is only
 * where README.md's way of putting the launcher on the PATH applies.
 */
class DocCommandsTest {
  @Test
  void docCommands_classified_noBareJava_everySkipUsed() throws Exception {
    List<DocCommands.Command> all = new ArrayList<>();
    for (var doc : DocCommands.docs()) {
      all.addAll(DocCommands.commands(doc));
    }
    Set<DocCommands.Skip> used = new LinkedHashSet<>();
    int run = 0;
    for (DocCommands.Command c : all) {
      assertThat(c.text())
          .as("%s: the default java may be older than 25: write bin/java", c)
          .doesNotStartWith("java ")
          .doesNotContain("&& java ")
          .doesNotContain("; java ");
      DocCommands.Skip s = DocCommands.skip(c);
      if (s == null) {
        run++;
        System.out.println("run   " + c);
      } else {
        used.add(s);
        System.out.println("skip  " + c + "  [" + s.reason() + "]");
      }
    }
    assertThat(DocCommands.SKIPS)
        .as("skip rules that skip nothing")
        .containsExactlyElementsOf(DocCommands.SKIPS.stream().filter(used::contains).toList());
    assertThat(run).as("commands run").isGreaterThanOrEqualTo(30);
  }

  @Test
  void bareGuesttrace_onlyWhereTheReadmeSaysHowToPutItOnThePath() throws Exception {
    assertThat(java.nio.file.Files.readString(DocCommands.ROOT.resolve("README.md")))
        .contains("export PATH=\"$PWD:$PATH\"");
    for (var doc : DocCommands.docs()) {
      for (DocCommands.Command c : DocCommands.commands(doc)) {
        if (c.text().startsWith("guesttrace ")) {
          assertThat(c.doc())
              .as("%s: write ./guesttrace", c)
              .isIn("guests.md", "compare.md", "recover.md");
        }
      }
    }
  }
}
