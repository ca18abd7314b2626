package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class CliTest {
  /** Exit status, standard output and standard error of one command line. */
  record Outcome(int status, String out, String err) {}

  static Outcome run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Guesttrace.execute(args, new PrintWriter(out), new PrintWriter(err));
    return new Outcome(status, out.toString(), err.toString());
  }

  @Test
  void noArguments_printsExamples() {
    Outcome o = run();
    assertThat(o.status()).isZero();
    assertThat(o.out()).contains("guesttrace run hello ", "guesttrace tree fib.gtrace --compact ");
  }

  @Test
  void runVerbose_manyCalls_printsTheFirstResultsAndCountsTheRest() {
    Outcome o =
        run("run", "fib", "--arg", "n=3", "--calls", "25", "--vcpus", "2", "--quiet", "--verbose");
    assertThat(o.status()).isZero();
    StringBuilder expected = new StringBuilder();
    for (int call = 1; call <= RunCommand.MAX_PRINTED_RESULTS; call++) {
      expected.append("guesttrace run: Fib call ").append(call).append(" returned 2\n");
    }
    expected.append("guesttrace run: (15 more call results not shown)\n");
    assertThat(o.err()).isEqualTo(expected.toString());
  }

  @Test
  void guests_listsTheSamplesInOrder() {
    Outcome o = run("guests");
    assertThat(o.status()).isZero();
    assertThat(
            o.out()
                .lines()
                .takeWhile(l -> !l.isEmpty())
                .filter(l -> !l.startsWith(" "))
                .map(l -> l.split(" ")[0]))
        .containsExactly("hello", "fib", "alloc", "multi-vcpu", "abort", "runaway");
    String twin =
        GuestsCommand.hasKvmTwin("hello")
            ? "C twin for --backend kvm: yes"
            : "C twin for --backend kvm: no";
    assertThat(o.out())
        .contains(
            "fib         Recursive Fibonacci, a span per call",
            "            "
                + twin
                + "\n"
                + "            --arg n=N (Fib(n) when the call gives no n, default 20)\n"
                + "            --arg slow=fib (each fib spends slowMicros more)\n"
                + "            --arg slowMicros=N (default 50)\n"
                + "alloc ");
    assertThat(
            o.out()
                .lines()
                .dropWhile(l -> !l.isEmpty())
                .skip(2)
                .filter(l -> !l.startsWith(" "))
                .map(l -> l.split(" ")[0]))
        .isNotEmpty()
        .allMatch(n -> n.startsWith("hostile-"));
  }

  @Test
  void runHello_printsTheSeedShapedTree() {
    Outcome o = run("run", "hello");
    assertThat(o.status()).isZero();
    // The guest's line first; a calibration-dependent clamp diagnostic may follow it.
    assertThat(o.err().lines().toList()).first().isEqualTo("guest: Hello, World!");
    assertThat(o.err().lines().skip(1)).allMatch(l -> l.startsWith("guesttrace run: "));
    List<String> lines =
        o.out().lines().map(l -> l.substring(l.indexOf(']') + 2).stripTrailing()).toList();
    // Guest spans nest by their records: exact. Host spans inside guest spans nest by calibrated
    // time, which a run with few exits knows to tens of microseconds: checked by name only.
    assertThat(lines)
        .startsWith("> [host] run hello")
        .contains(
            "  > entrypoint",
            "  > [host] PrintOutput",
            "    > dispatch_function",
            "      > internal_dispatch_function",
            "          Start converting buffer",
            "          Calling guest function");
    assertThat(lines.stream().map(String::strip))
        .contains("> [host] trace register", "> [host] trace flush", "> [host] HostPrint");
  }

  @Test
  void runUnknownGuest_isUsageErrorInOneLine() {
    Outcome o = run("run", "nosuch");
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: unknown guest 'nosuch': expected one of hello, fib, alloc, multi-vcpu,"
                + " abort, runaway, a hostile-* guest (see 'guesttrace guests'), PATH.elf, or NAME"
                + " --guest-jar JAR\n");
  }

  @Test
  void runBadOptionValues_areUsageErrors() {
    assertThat(run("run", "hello", "--mode", "sideways").status()).isEqualTo(2);
    assertThat(run("run", "hello", "--ring-bytes", "12x").status()).isEqualTo(2);
    assertThat(run("run", "hello", "--vcpus", "0").err())
        .isEqualTo("guesttrace run: --vcpus: expected 1..64, found 0\n");
  }

  @Test
  void runAbortingGuest_printsTreeThenOneLineAndExits1() {
    Outcome o = run("run", "abort");
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.out()).contains("> entrypoint");
    assertThat(o.err().lines().toList())
        .last()
        .asString()
        .startsWith("guesttrace run: aborted on vCPU 0 code=");
  }

  @Test
  void runRunaway_isStoppedAtTheTimeout() {
    Outcome o = run("run", "runaway", "--timeout", "300ms", "--quiet");
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.err()).contains("timeout on vCPU 0").doesNotContain("Exception");
  }

  @Test
  void run_guestArgumentsAreCheckedAgainstWhatTheGuestDeclares() {
    Outcome badValue = run("run", "fib", "--arg", "n=abc");
    assertThat(badValue.status()).isEqualTo(2);
    assertThat(badValue.out()).isEmpty();
    assertThat(badValue.err())
        .isEqualTo(
            "guesttrace run: --arg n=abc: expected an integer (fib accepts n=N, slow=fib,"
                + " slowMicros=N)\n");

    Outcome unknownKey = run("run", "fib", "--arg", "m=3");
    assertThat(unknownKey.status()).isEqualTo(2);
    assertThat(unknownKey.err())
        .isEqualTo(
            "guesttrace run: --arg m: fib has no such argument; it accepts n=N, slow=fib,"
                + " slowMicros=N\n");

    Outcome badWord = run("run", "abort", "--arg", "at=halt");
    assertThat(badWord.status()).isEqualTo(2);
    assertThat(badWord.err()).startsWith("guesttrace run: --arg at=halt: expected boot or call (");

    Outcome ok = run("run", "fib", "--arg", "n=5", "--arg", "slow=fib", "--quiet");
    assertThat(ok.status()).as(ok.err()).isZero();

    Outcome hostile = run("run", "hostile-never-halts", "--arg", "how=loud");
    assertThat(hostile.status()).isEqualTo(2);
    assertThat(hostile.err())
        .isEqualTo(
            "guesttrace run: --arg how=loud: expected busy or quiet (hostile-never-halts accepts"
                + " records=N, how=busy|quiet)\n");
    Outcome storm = run("run", "hostile-flush-storm", "--arg", "flush=3");
    assertThat(storm.status()).isEqualTo(2);
    assertThat(storm.err())
        .isEqualTo(
            "guesttrace run: --arg flush: hostile-flush-storm has no such argument; it accepts"
                + " flushes=N, seconds=N\n");
  }

  @Test
  void guests_hostileOnes_theirBackendAndArguments() {
    Outcome o = run("guests");
    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.out())
        .contains(
            "\nhostile guests (emulated backend only; the host must survive them;"
                + " docs/robustness.md):\n")
        .contains(
            "hostile-never-halts       Writes N records without flushing, then spins forever\n"
                + "                          --arg records=N (records written before it spins,"
                + " default 1000)\n"
                + "                          --arg how=busy|quiet (how it spins, default busy)\n");
  }

  @Test
  void completion_printsABashScriptWithEveryVerbAndTheRunOptions() {
    Outcome o = run("completion");
    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.out())
        .contains("complete -F _complete_guesttrace")
        .contains("run", "tree", "stats", "allocs", "info", "export", "perfetto", "flame")
        .contains("compare", "recover", "guests", "init")
        .contains("--guest-jar", "--call", "--tsc-ghz", "--max-depth", "--exclude-tracing");
  }
}
