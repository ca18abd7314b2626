package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code guesttrace export}: the shaping options and what a bad receiver gets reported as. */
class ExportCliTest {
  @TempDir static Path dir;
  static Path hello;
  private HttpServer server;
  private final AtomicInteger posts = new AtomicInteger();

  @BeforeAll
  static void writeTrace() {
    hello = dir.resolve("hello.gtrace");
    assertThat(
            CliTest.run("run", "hello", "--calls", "3", "--deterministic", "-o", hello.toString())
                .status())
        .isZero();
  }

  private String receiver(int status, String contentType, byte[] body) throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/v1/traces",
        exchange -> {
          try (exchange) {
            posts.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            if (contentType != null) {
              exchange.getResponseHeaders().add("Content-Type", contentType);
            }
            exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            exchange.getResponseBody().write(body);
          }
        });
    server.start();
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop(0);
    }
  }

  @Test
  void progressForcedOn_showsTheSpansSent_thenErasesItBeforeTheResult() throws Exception {
    String url = receiver(200, null, new byte[0]);
    server.stop(0);
    // A receiver that takes its time, so the line is drawn while the batch is in flight.
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/v1/traces",
        exchange -> {
          try (exchange) {
            exchange.getRequestBody().readAllBytes();
            Thread.sleep(400);
            exchange.sendResponseHeaders(200, -1);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    server.start();
    url = "http://127.0.0.1:" + server.getAddress().getPort();

    System.setProperty("guesttrace.progress.delayMillis", "0");
    CliTest.Outcome o;
    try {
      o =
          CliTest.run(
              "export",
              hello.toString(),
              "--otlp",
              url,
              "--protocol",
              "http/protobuf",
              "--progress",
              "always");
    } finally {
      System.clearProperty("guesttrace.progress.delayMillis");
    }

    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.err())
        .startsWith("\rguesttrace export: ")
        .contains("\rguesttrace export: exporting 0 spans");
    String afterLine = o.err().substring(o.err().lastIndexOf("\033[K") + 3);
    assertThat(afterLine).startsWith("guesttrace export: exported ").doesNotContain("\r");
    assertThat(ProgressTest.withoutProgress(o.err())).startsWith("guesttrace export: exported ");
  }

  @Test
  void perCall_reportsTheTracesMade() throws IOException {
    String url = receiver(200, null, new byte[0]);

    CliTest.Outcome o =
        CliTest.run(
            "export",
            hello.toString(),
            "--otlp",
            url,
            "--protocol",
            "http/protobuf",
            "--traces",
            "per-call");

    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.err())
        .containsPattern(
            "guesttrace export: exported \\d+ spans to http/protobuf http://127\\.0\\.0\\.1:\\d+/v1/traces"
                + " in 4 traces \\(the run's and 3 calls'\\), run trace [0-9a-f]{32}\\n");
    assertThat(posts.get()).isPositive();
  }

  @Test
  void budget_reportsWhatWasSummarized() throws IOException {
    String url = receiver(200, null, new byte[0]);

    CliTest.Outcome o =
        CliTest.run(
            "export",
            hello.toString(),
            "--otlp",
            url,
            "--protocol",
            "http/protobuf",
            "--max-spans-per-trace",
            "5",
            "--min-span-duration",
            "1us");

    assertThat(o.status()).as(o.err()).isZero();
    assertThat(o.err())
        .containsPattern(
            "exported 5 spans to .*; \\d+ more spans \\(\\d+ events\\) summarized on \\d+ parent spans")
        .contains("at most 5 spans and ~4000000 bytes per trace, none shorter than 1000 ns");
  }

  @Test
  void garbageAnswer_exitsOneWithAPrintableLine() throws IOException {
    String url =
        receiver(
            200,
            "text/html",
            "<h1>\u001b[2J\u001b[31mok</h1>\n".repeat(100).getBytes(StandardCharsets.UTF_8));

    CliTest.Outcome o =
        CliTest.run("export", hello.toString(), "--otlp", url, "--protocol", "http/protobuf");

    assertThat(o.status()).isEqualTo(1);
    assertThat(o.err())
        .contains("but the answer is not OTLP (Content-Type text/html, ")
        .doesNotContain("\u001b")
        .hasLineCount(1);
  }

  @Test
  void help_describesTheShapingOptionsWithoutPicocliWarnings() {
    // picocli reports a bad format string (an unescaped %) on System.err, not on our writer.
    java.io.PrintStream systemErr = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    CliTest.Outcome export;
    CliTest.Outcome perfetto;
    try {
      System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
      export = CliTest.run("export", "--help");
      perfetto = CliTest.run("perfetto", "--help");
    } finally {
      System.setErr(systemErr);
    }

    assertThat(export.status()).isZero();
    assertThat(export.out())
        .contains("--traces=per-run|per-call", "--max-spans-per-trace=N", "80% of Tempo's default");
    assertThat(perfetto.out()).contains("--format=json|proto", "--no-compress");
    assertThat(captured.toString(StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
  }

  @Test
  void badShapingValues_areUsageErrors() {
    CliTest.Outcome mode = CliTest.run("export", hello.toString(), "--traces", "per-span");
    CliTest.Outcome budget = CliTest.run("export", hello.toString(), "--max-spans-per-trace", "-1");

    assertThat(mode.status()).isEqualTo(2);
    assertThat(mode.err()).contains("--traces: expected per-run or per-call, found 'per-span'");
    assertThat(budget.status()).isEqualTo(2);
    assertThat(budget.err()).contains("--max-spans-per-trace: expected 0 or more, found -1");
  }
}
