package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Keeps the trees pasted in the sample guests' opening comments true: runs the command each names
 * and compares its output with the paste, exactly (deterministic runs) or by shape (times masked).
 */
class SampleTreesTest {
  static final Path SAMPLES = Path.of("../sample-guests/src/main/java/dev/guesttrace/samples");

  private static final Pattern HEADER =
      Pattern.compile(
          "Expected output of `\\./guesttrace ([^`]+)`(?:, first (\\d+) lines)?", Pattern.DOTALL);

  static Stream<Path> samples() throws IOException {
    try (Stream<Path> files = Files.list(SAMPLES)) {
      return files
          .filter(p -> p.getFileName().toString().matches("Guest\\d\\d.*\\.java"))
          .sorted()
          .toList()
          .stream();
    }
  }

  @ParameterizedTest
  @MethodSource("samples")
  void pastedTree_matchesWhatTheCommandPrints(Path sample) throws IOException {
    List<String> source = Files.readAllLines(sample);
    String text = String.join("\n", source);
    Matcher m = HEADER.matcher(text);
    assertThat(m.find()).as("%s names the command of its pasted tree", sample).isTrue();
    String[] args = m.group(1).trim().split("\\s+");
    Integer firstLines = m.group(2) == null ? null : Integer.valueOf(m.group(2));

    List<String> expected = pasted(source, text.substring(0, m.end()).split("\n").length);
    List<String> actual = CliTest.run(args).out().lines().toList();
    if (firstLines != null) {
      // Real times: guest spans nest by their records (exact), host spans by calibrated time,
      // which a run with few exits knows only to tens of microseconds. Compare the guest lines.
      List<String> expectedGuest = guestShape(expected);
      List<String> actualGuest = guestShape(actual);
      assertThat(actualGuest.size()).isGreaterThanOrEqualTo(expectedGuest.size());
      assertThat(actualGuest.subList(0, expectedGuest.size())).isEqualTo(expectedGuest);
    } else {
      assertThat(actual).isEqualTo(expected);
    }
  }

  /**
   * The paste: lines after the header's blank line, each {@code " * "} + text, to the comment end.
   */
  private static List<String> pasted(List<String> source, int headerEndLine) {
    List<String> lines = new ArrayList<>();
    int i = headerEndLine;
    // The header may wrap: the paste starts after the first blank comment line below it.
    while (i < source.size() && !source.get(i).strip().equals("*")) {
      i++;
    }
    while (i < source.size() && source.get(i).strip().equals("*")) {
      i++;
    }
    for (; i < source.size(); i++) {
      String line = source.get(i);
      if (line.strip().startsWith("*/") || line.strip().equals("*")) {
        break;
      }
      lines.add(line.length() <= 5 ? "" : line.substring(5));
    }
    return lines;
  }

  /** The shape without host spans' lines. */
  private static List<String> guestShape(List<String> lines) {
    return shape(lines).stream().filter(l -> !l.contains("[host] ")).toList();
  }

  /**
   * The tree without its times: the timestamp column, the durations on exit lines, and the
   * statistics of folded runs.
   */
  private static List<String> shape(List<String> lines) {
    return lines.stream()
        .map(l -> l.replaceFirst("^\\[[^\\]]*\\] ", ""))
        // A folded run's statistics are times too: keep the name and the count.
        .map(l -> l.replaceFirst("(×\\d+), total .*$", "$1"))
        .map(l -> l.replaceFirst(" -?[0-9.]+(ns|µs|ms|s)( \\(never ended\\))?$", ""))
        .map(String::stripTrailing)
        .toList();
  }
}
