package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./build} uses an installed Maven 3.8+ as README.md says, rather than the wrapper (which
 * fetches Maven from Maven Central): checked with a stand-in {@code mvn} first on the PATH that
 * answers {@code --version} as Maven 3.8.7 does, colour codes included, and says so when run.
 */
class BuildScriptTest {
  @TempDir Path tmp;

  /** Runs {@code ./build ARGS} with a fake mvn that prints {@code versionLine}; returns stdout. */
  private String buildWithFakeMaven(String versionLine) throws Exception {
    Path bin = Files.createDirectories(tmp.resolve("fake-bin"));
    Path mvn = bin.resolve("mvn");
    Files.writeString(
        mvn,
        """
        #!/bin/sh
        for a in "$@"; do
          if [ "$a" = --version ]; then printf '%s\\n' 'VERSION_LINE'; exit 0; fi
        done
        echo "installed mvn ran: $*"
        """
            .replace("VERSION_LINE", versionLine));
    assertThat(mvn.toFile().setExecutable(true)).isTrue();
    ProcessBuilder pb =
        new ProcessBuilder("bash", DocCommands.ROOT.resolve("build").toString(), "validate")
            .redirectErrorStream(true);
    pb.environment().put("PATH", bin + ":/usr/local/bin:/usr/bin:/bin");
    pb.environment().remove("GUESTTRACE_MAVEN");
    Process p = pb.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  @Test
  void installedMaven38_withColourCodes_isUsed() throws Exception {
    // Maven 3.8.7 starts its version line with ESC[1m (ESC[0m under -B), even into a pipe.
    assertThat(buildWithFakeMaven("\u001b[1mApache Maven 3.8.7\u001b[m"))
        .isEqualTo("installed mvn ran: -B -ntp validate\n");
    assertThat(buildWithFakeMaven("\u001b[0mApache Maven 3.9.9 (abc)"))
        .isEqualTo("installed mvn ran: -B -ntp validate\n");
  }
}
