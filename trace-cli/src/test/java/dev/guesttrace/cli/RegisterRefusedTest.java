package dev.guesttrace.cli;

import static dev.guesttrace.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.cli.CliTest.Outcome;
import dev.guesttrace.vm.kvm.KvmBackend;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mode off on both backends: a guest that registers a trace region anyway is refused (status 2 in
 * RAX), and the guest library then records nothing and never flushes: one trace exit (the REGISTER)
 * where 1000 spans in a 256-slot ring would have flushed eight times.
 */
class RegisterRefusedTest {
  static final String JAVA =
      """
      package refuse;

      import dev.guesttrace.abi.CallCodec.FunctionCall;
      import dev.guesttrace.abi.ExitPorts;
      import dev.guesttrace.guest.GuestProgram;
      import dev.guesttrace.guest.GuestRuntime;
      import dev.guesttrace.guest.NameTableWriter;
      import dev.guesttrace.guest.Tracer;

      public final class Stubborn implements GuestProgram {
        public Stubborn() {}

        @Override
        public String name() {
          return "stubborn";
        }

        @Override
        public String summary() {
          return "registers a trace region whatever the mode";
        }

        @Override
        public void main(GuestRuntime runtime) {
          long base = runtime.heapAddress();
          NameTableWriter names = new NameTableWriter(runtime.cpu().memory(), base, 4096);
          Tracer t = Tracer.register(runtime.cpu(), names, base + 4096, 256, 0);
          int work = t.name("work");
          for (int i = 0; i < 1000; i++) {
            t.begin(work);
            t.end(work);
          }
          t.flush();
          runtime.log(
              ExitPorts.LOG_INFO, "status=" + t.registerStatus() + " enabled=" + t.enabled());
        }

        @Override
        public Object call(GuestRuntime runtime, FunctionCall call) {
          return null;
        }
      }
      """;

  static final String C =
      """
      #include "gtguest.h"

      /* Registers its own trace region whatever the mode, and says what the host answered. */
      void guest_main(struct gt_runtime *rt) {
        static struct gt_names names;
        static struct gt_tracer t;
        gt_names_init(&names, (void *)(uintptr_t)rt->heap_address, 4096);
        int status = gt_tracer_register(&t, &names, rt->heap_address + 4096, 256, GT_MODE_STREAM,
                                        rt->vcpu_id);
        uint32_t work = gt_name(&t, "work");
        for (int i = 0; i < 1000; i++) {
          gt_begin(&t, work);
          gt_end(&t, work);
        }
        gt_flush(&t);
        static char line[] = "status=? enabled=?";
        line[7] = (char)('0' + status);
        line[17] = (char)('0' + t.enabled);
        gt_log(rt, GT_LOG_INFO, line);
      }

      void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
        (void)rt;
        (void)call;
        *result = gt_void();
      }
      """;

  @TempDir Path tmp;

  @Test
  void modeOff_javaGuestThatRegistersIsRefusedAndNeverFlushes() throws Exception {
    Path jar =
        TestGuestJar.build(
            tmp,
            "stubborn",
            Map.of("refuse/Stubborn.java", JAVA),
            Map.of(GuestJars.SERVICE_FILE, "refuse.Stubborn\n"));
    Path file = tmp.resolve("off.gtrace");
    Outcome o =
        run(
            "run",
            "stubborn",
            "--guest-jar",
            jar.toString(),
            "--mode",
            "off",
            "--calls",
            "0",
            "-o",
            file.toString());
    assertRefused(o, file);
  }

  @Test
  void modeOff_cGuestThatRegistersIsRefusedAndNeverFlushes_onKvm() throws Exception {
    Path dir = tmp.resolve("stubborn");
    assertThat(run("init", "c", dir.toString()).status()).isZero();
    Files.writeString(dir.resolve("stubborn.c"), C);
    assumeTrue(
        InitTest.onPath("make") && InitTest.onPath("gcc"), "skipped: no make or gcc for a C guest");
    Process make =
        new ProcessBuilder("make", "-s").directory(dir.toFile()).redirectErrorStream(true).start();
    String log = new String(make.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(make.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(make.exitValue()).as("make: %s", log).isZero();
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    Path file = tmp.resolve("off-kvm.gtrace");
    Outcome o =
        run("run", dir.resolve("stubborn.elf").toString(), "--mode", "off", "-o", file.toString());
    assertRefused(o, file);
  }

  private static void assertRefused(Outcome o, Path file) {
    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.err()).contains("guest log [info] vCPU 0: status=2 enabled=");
    assertThat(o.err()).containsPattern("status=2 enabled=(false|0)\n");
    Outcome info = run("info", file.toString());
    assertThat(info.status()).isZero();
    assertThat(info.out())
        .contains("records      0\n")
        .containsPattern("\n  out +trace +1 ")
        .contains("register_tracing_off");
  }
}
