package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The hostile sample guests through the command line: `run` survives them and says there were
 * diagnostics in one line, `info` on the file names each diagnostic kind with its exact count, and
 * `tree` repeats the notice.
 */
class HostileCliTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({
    "hostile-bad-pointer,     region_outside_memory,  2, 0",
    "hostile-sequence-jump,   sequence_jump,          1, 0",
    "hostile-sequence-back,   sequence_backwards,     1, 0",
    "hostile-unknown-kind,    unknown_kind,           1, 0",
    "hostile-undefined-name,  undefined_name,         3, 0",
    "hostile-bad-utf8,        bad_utf8,               2, 0",
    "hostile-long-text,       message_too_long,       1, 0",
    "hostile-time-backwards,  timestamp_backwards,    1, 0",
  })
  void hostileGuest_runSurvivesAndInfoNamesTheDiagnostic(
      String guest, String kind, long count, int runStatus) {
    Path file = dir.resolve(guest + ".gtrace");

    CliTest.Outcome run = CliTest.run("run", guest, "--quiet", "-o", file.toString());

    assertThat(run.status()).isEqualTo(runStatus);
    assertThat(run.err())
        .contains("guesttrace run: ")
        .contains(" diagnostics about the guest's trace, first: ")
        .doesNotContain("wrote"); // --quiet
    assertThat(file).isNotEmptyFile();
    CliTest.Outcome info = CliTest.run("info", file.toString());
    assertThat(info.status()).isZero();
    assertThat(info.err()).isEmpty();
    assertThat(info.out().lines().map(String::strip))
        .anySatisfy(
            line ->
                assertThat(line)
                    .startsWith(kind + " ")
                    .containsPattern("^" + kind + " +" + count + " +first on vCPU 0: "));
    CliTest.Outcome tree = CliTest.run("tree", file.toString());
    assertThat(tree.status()).isZero();
    assertThat(tree.err())
        .contains("guesttrace tree: ")
        .contains(" diagnostics about the guest's trace");
  }

  @ParameterizedTest
  @CsvSource({
    "hostile-abort-unflushed,  'aborted on vCPU 0 code=13: hostile abort with records unflushed'",
    "hostile-fault-mid-record, 'guest fault on vCPU 0 during boot: guest accessed memory outside its range'",
  })
  void crashingGuest_exitsOneInOneLineAndTheFileHoldsEveryRecord(String guest, String error) {
    Path file = dir.resolve(guest + ".gtrace");

    CliTest.Outcome run =
        CliTest.run("run", guest, "--quiet", "--arg", "records=500", "-o", file.toString());

    assertThat(run.status()).isEqualTo(1);
    assertThat(run.err()).contains("guesttrace run: " + error);
    CliTest.Outcome info = CliTest.run("info", file.toString());
    assertThat(info.status()).isZero();
    // 8 boot records, the "before" span, and the 500 records written before the crash.
    assertThat(info.out()).containsPattern("(?m)^records +510$");
  }

  @ParameterizedTest
  @CsvSource({
    "record,  2047, 2963, '1 slot'",
    "message, 2041, 2969, '7 slots'",
  })
  void faultMidRecord_wrappedFlightRing_infoCountsTheTornSlots(
      String cut, int records, int lost, String slots) {
    Path file = dir.resolve(cut + ".gtrace");

    CliTest.Outcome run =
        CliTest.run(
            "run",
            "hostile-fault-mid-record",
            "--mode",
            "flight",
            "--quiet",
            "--arg",
            "records=5000",
            "--arg",
            "cut=" + cut,
            "-o",
            file.toString());

    assertThat(run.status()).isEqualTo(1);
    CliTest.Outcome info = CliTest.run("info", file.toString());
    assertThat(info.status()).isZero();
    // 10 + 5000 records published into 2048 slots; the unfinished record had written over the
    // oldest slot (a counter) or 7 of them (a 200-byte message): those are lost, not kept.
    assertThat(info.out())
        .containsPattern("(?m)^records +" + records + "$")
        .containsPattern(
            "(?m)^lost +" + lost + " records: " + lost + " overwritten in flight mode$")
        .containsPattern(
            "(?m)^  flight_record_torn +1  first on vCPU 0: the guest stopped while writing a"
                + " record over the oldest slots of its flight ring: "
                + slots
                + " dropped, from sequence 2962$");
  }
}
