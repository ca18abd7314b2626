package dev.guesttrace.cli;

import static dev.guesttrace.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.cli.CliTest.Outcome;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.kvm.KvmBackend;
import dev.guesttrace.vm.kvm.KvmGuests;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code guesttrace run} with the user's own guests: a native ELF file, a Java guest jar. */
class OwnGuestTest {
  static final String ADDER =
      """
      package demo;

      import dev.guesttrace.abi.CallCodec.FunctionCall;
      import dev.guesttrace.guest.GuestProgram;
      import dev.guesttrace.guest.GuestRuntime;
      import java.util.List;

      public final class Adder implements GuestProgram {
        public Adder() {}

        @Override
        public String name() {
          return "adder";
        }

        @Override
        public String summary() {
          return "adds two numbers";
        }

        @Override
        public FunctionCall defaultCall() {
          return new FunctionCall("Add", List.of(1L, 2L));
        }

        @Override
        public void main(GuestRuntime runtime) {}

        @Override
        public Object call(GuestRuntime runtime, FunctionCall call) {
          int add = runtime.tracer().name("add");
          runtime.tracer().begin(add);
          long sum = call.longArg(0, 0) + call.longArg(1, 0);
          runtime.tracer().message("sum=" + sum);
          runtime.tracer().end(add);
          return sum;
        }
      }
      """;

  static final String SECOND =
      """
      package other;

      import dev.guesttrace.abi.CallCodec.FunctionCall;
      import dev.guesttrace.guest.GuestProgram;
      import dev.guesttrace.guest.GuestRuntime;

      public final class Idle implements GuestProgram {
        public Idle() {}

        @Override
        public String name() {
          return "idle";
        }

        @Override
        public String summary() {
          return "does nothing";
        }

        @Override
        public void main(GuestRuntime runtime) {}

        @Override
        public Object call(GuestRuntime runtime, FunctionCall call) {
          return null;
        }
      }
      """;

  static final String SERVICES = "META-INF/services/dev.guesttrace.guest.GuestProgram";

  @TempDir static Path dir;
  static Path adderJar;
  static Path idleJar;

  @BeforeAll
  static void buildJars() throws IOException {
    adderJar =
        TestGuestJar.build(
            dir, "adder", Map.of("demo/Adder.java", ADDER), Map.of(SERVICES, "demo.Adder\n"));
    idleJar =
        TestGuestJar.build(
            dir, "idle", Map.of("other/Idle.java", SECOND), Map.of(SERVICES, "other.Idle\n"));
  }

  /** The tree's lines without the time column. */
  static List<String> lines(String out) {
    return out.lines().map(l -> l.substring(l.indexOf(']') + 2).stripTrailing()).toList();
  }

  @Test
  void guestsWithJar_listsTheJarsGuestsOnly() {
    Outcome o = run("guests", "--guest-jar", adderJar + java.io.File.pathSeparator + idleJar);
    assertThat(o.err()).isEmpty();
    assertThat(o.status()).isZero();
    assertThat(o.out())
        .isEqualTo(
            """
            adder  adds two numbers
                   C twin for --backend kvm: no (a Java guest)
            idle   does nothing
                   C twin for --backend kvm: no (a Java guest)
            """);
  }

  @Test
  void runFromJar_withCall_tracesTheGuestsOwnSpanInsideTheCall() {
    Outcome o =
        run(
            "run",
            "adder",
            "--guest-jar",
            adderJar.toString(),
            "--guest-jar",
            idleJar.toString(),
            "--call",
            "Add(40, 2)",
            "--deterministic");
    assertThat(o.err()).isEmpty();
    assertThat(o.status()).isZero();
    assertThat(lines(o.out()))
        .containsSubsequence(
            "> [host] run adder",
            "  > [host] Add",
            "    > dispatch_function",
            "        > call_guest_function",
            "          > add",
            "            sum=42",
            "          < add 2µs");
  }

  @Test
  void runVerbose_printsWhatTheCallsReturned() {
    Outcome o =
        run(
            "run",
            "adder",
            "--guest-jar",
            adderJar.toString(),
            "--call",
            "Add(40, 2)",
            "--calls",
            "2",
            "--quiet",
            "--verbose");
    assertThat(o.status()).isZero();
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: Add call 1 returned 42\nguesttrace run: Add call 2 returned 42\n");
  }

  @Test
  void runFromJar_withoutCall_makesTheDefaultCall() {
    Outcome o = run("run", "adder", "--guest-jar", adderJar.toString());
    assertThat(o.status()).isZero();
    assertThat(lines(o.out())).contains("  > [host] Add", "            sum=3");
  }

  @Test
  void runFromJar_callsZero_bootsAndHaltsOnly() {
    Outcome o = run("run", "adder", "--guest-jar", adderJar.toString(), "--calls", "0");
    assertThat(o.status()).isZero();
    assertThat(lines(o.out())).contains("  > entrypoint").doesNotContain("  > [host] Add");
  }

  @Test
  void runFromJar_unknownName_isUsageError() {
    Outcome o = run("run", "hello", "--guest-jar", adderJar.toString());
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: unknown guest 'hello': "
                + adderJar
                + " has adder (see 'guesttrace guests --guest-jar JAR')\n");
  }

  @Test
  void runFromJar_jarWithoutGuest_isUsageError() throws IOException {
    Path empty = TestGuestJar.build(dir, "empty", Map.of(), Map.of("README", "nothing\n"));
    Outcome o = run("run", "adder", "--guest-jar", empty.toString());
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: --guest-jar "
                + empty
                + ": no guest: expected a META-INF/services/dev.guesttrace.guest.GuestProgram"
                + " naming classes that implement GuestProgram (see docs/guests.md)\n");
  }

  @Test
  void runFromJar_serviceNamesAMissingClass_isOneLineUsageError() throws IOException {
    Path broken = TestGuestJar.build(dir, "broken", Map.of(), Map.of(SERVICES, "demo.Nope\n"));
    Outcome o = run("guests", "--guest-jar", broken.toString());
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .startsWith("guesttrace guests: --guest-jar " + broken + ": cannot load a guest: ")
        .contains("demo.Nope")
        .hasLineCount(1);
  }

  @Test
  void runFromJar_aNameWithEscapes_isRefusedShownEscaped() throws IOException {
    String source = ADDER.replace("return \"adder\";", "return \"add\\u001b[2Jer\";");
    Path jar =
        TestGuestJar.build(
            dir, "escapes", Map.of("demo/Adder.java", source), Map.of(SERVICES, "demo.Adder\n"));

    Outcome o = run("guests", "--guest-jar", jar.toString());

    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace guests: --guest-jar "
                + jar
                + ": cannot load a guest: demo.Adder.name() returned a name with spaces or control"
                + " characters: 'add\\u001b[2Jer'\n");
  }

  @Test
  void runFromJar_notAJar_orMissing_isUsageError() {
    Outcome notJar = run("run", "adder", "--guest-jar", "pom.xml");
    assertThat(notJar.status()).isEqualTo(2);
    assertThat(notJar.err())
        .isEqualTo("guesttrace run: --guest-jar: not a jar (zip) file: pom.xml\n");
    Outcome missing = run("run", "adder", "--guest-jar", "nosuch.jar");
    assertThat(missing.err()).isEqualTo("guesttrace run: --guest-jar: no such file: nosuch.jar\n");
  }

  @Test
  void runFromJar_onKvm_isUsageErrorSayingWhy() {
    Outcome o = run("run", "adder", "--guest-jar", adderJar.toString(), "--backend", "kvm");
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: --backend kvm runs native ELF guests; 'adder' from --guest-jar is a"
                + " Java guest, which runs on the emulated backend\n");
  }

  @Test
  void runMalformedCall_isUsageErrorBeforeAnythingRuns() {
    Outcome o = run("run", "hello", "--call", "PrintOutput(\"hi\"");
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.out()).isEmpty();
    assertThat(o.err())
        .isEqualTo("guesttrace run: --call: expected ')' at column 17, found the end\n");
  }

  @Test
  void runSampleWithCall_usesIt() {
    Outcome o = run("run", "hello", "--call", "PrintOutput(\"hi\\tthere\")", "--quiet");
    assertThat(o.status()).isZero();
    assertThat(o.err()).doesNotContain("guest:");
    Outcome shown = run("run", "hello", "--call", "PrintOutput(\"hi there\")");
    assertThat(shown.err().lines().findFirst()).contains("guest: hi there");
  }

  @Test
  void runCallTheGuestDoesNotHave_failsTheRunInOneLine_noMoreCalls() {
    // A misspelt function: the guest answers with an error string; exit 0 with a tree without
    // the guest's spans would leave the user guessing.
    Outcome o = run("run", "hello", "--call", "printOutput(\"hi\")", "--calls", "3");
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: guest call printOutput returned error: unknown guest function:"
                + " printOutput\n");
    assertThat(lines(o.out()))
        .containsOnlyOnce("  > [host] printOutput")
        .contains(
            "  !! guest call printOutput returned error: unknown guest function: printOutput");
    Outcome verbose = run("run", "hello", "--call", "printOutput(\"hi\")", "--quiet", "--verbose");
    assertThat(verbose.status()).isEqualTo(1);
    assertThat(verbose.err())
        .startsWith(
            "guesttrace run: printOutput call 1 returned error: unknown guest function:"
                + " printOutput\n");
  }

  @Test
  void runElf_onEmulated_isUsageErrorSayingWhy() throws IOException {
    Path elf = dir.resolve("tiny.elf");
    Files.write(elf, elf(KVM_IMAGE_BASE, 4096));
    Outcome o = run("run", elf.toString(), "--backend", "emulated");
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: --backend emulated runs Java guests; "
                + elf
                + " is a native ELF guest, which runs on KVM (leave --backend out, or say kvm)\n");
  }

  @Test
  void runElf_notAnElf_orMissing_isUsageError() throws IOException {
    Path text = dir.resolve("notes.elf");
    Files.writeString(text, "not a binary");
    assertThat(run("run", text.toString()).err())
        .isEqualTo("guesttrace run: " + text + ": not an ELF file: expected magic 7f 45 4c 46\n");
    Outcome missing = run("run", dir.resolve("gone.elf").toString());
    assertThat(missing.status()).isEqualTo(2);
    assertThat(missing.err())
        .isEqualTo("guesttrace run: no such guest file: " + dir.resolve("gone.elf") + "\n");
  }

  @Test
  void runElf_tooLargeForTheImageWindow_isUsageError() throws IOException {
    Path big = dir.resolve("big.elf");
    Files.write(big, elf(KVM_IMAGE_BASE, 65L << 20));
    Outcome o = run("run", big.toString());
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: "
                + big
                + ": image too large for the image window: segment 0 at 0x70000000 needs 68157440"
                + " bytes, the window [0x70000000, 0x74000000) has 67108864 from there (largest"
                + " image 64 MiB)\n");
  }

  @Test
  void runElf_callsWithoutCall_isUsageError() throws IOException {
    Path elf = dir.resolve("tiny2.elf");
    Files.write(elf, elf(KVM_IMAGE_BASE, 4096));
    Outcome o = run("run", elf.toString(), "--calls", "3");
    assertThat(o.status()).isEqualTo(2);
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: --calls 3: a native guest has no default call: say which with"
                + " --call 'NAME(ARGS)'\n");
  }

  @Test
  void runElf_withoutTheSdk_onKvm_saysItRegisteredNoTraceRegion() throws IOException {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    // A guest of one HLT, as one built without gtguest.h would be: it runs and halts, untraced.
    Path elf = dir.resolve("bare.elf");
    Files.write(elf, elf(KVM_IMAGE_BASE, 4096));
    Outcome o = run("run", elf.toString());
    assertThat(o.status()).isZero();
    assertThat(o.err())
        .isEqualTo(
            "guesttrace run: the guest registered no trace region, so it wrote no records: a"
                + " native guest traces through the C SDK (gtguest.h, guest.mk: 'guesttrace init"
                + " c' writes them; docs/guests.md)\n");
    assertThat(lines(o.out())).hasSize(2).startsWith("> [host] run bare");
  }

  @Test
  void runElf_onKvm_bootsOrCallsAsAsked() {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    Path hello = KvmGuests.find("hello").map(GuestSource.Elf::elf).orElse(null);
    assumeTrue(hello != null, "skipped: no C sample guests (no gcc when sample-guests was built)");

    Outcome boot = run("run", hello.toString());
    assertThat(boot.err()).isEmpty();
    assertThat(boot.status()).isZero();
    String name = hello.getFileName().toString().replace(".elf", "");
    assertThat(lines(boot.out()))
        .startsWith("> [host] run " + name)
        .contains("  > entrypoint", "    > hyperlight_main", "  > halt")
        .noneMatch(l -> l.contains("dispatch_function"));

    Outcome call =
        run("run", hello.toString(), "--call", "PrintOutput(\"from C\")", "--calls", "2");
    assertThat(call.err()).isEqualTo("guest: from C\nguest: from C\n");
    assertThat(call.status()).isZero();
    assertThat(lines(call.out()).stream().filter(l -> l.equals("  > [host] PrintOutput")))
        .hasSize(2);
  }

  static final long KVM_IMAGE_BASE = 0x7000_0000L;

  /** A minimal ELF64 x86-64 executable: one executable PT_LOAD of memoryBytes, entry at HLT. */
  static byte[] elf(long address, long memoryBytes) {
    ByteBuffer b = ByteBuffer.allocate(64 + 56 + 1).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1, 0});
    b.position(16);
    b.putShort((short) 2).putShort((short) 62).putInt(1);
    b.putLong(address + 120).putLong(64).putLong(0);
    b.putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) 1);
    b.putShort((short) 64).putShort((short) 0).putShort((short) 0);
    b.putInt(1).putInt(5).putLong(0).putLong(address).putLong(address);
    b.putLong(121).putLong(memoryBytes).putLong(4096);
    b.put((byte) 0xF4);
    return b.array();
  }
}
