package dev.guesttrace.otel;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.trace.v1.ExportTracePartialSuccess;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * OTLP/HTTP against a receiver in the test: no installable backend here takes OTLP/HTTP, so the
 * test decodes the protobuf requests the exporter sends with the OTLP protos and checks the tree.
 */
class OtlpHttpExportTest {
  private HttpServer server;
  private final List<ExportTraceServiceRequest> requests = new CopyOnWriteArrayList<>();
  private final List<Map<String, String>> requestHeaders = new CopyOnWriteArrayList<>();
  private final AtomicInteger posts = new AtomicInteger();
  private final ExecutorService handlers = Executors.newCachedThreadPool();

  /** Starts a receiver on a free loopback port that answers with {@code status} after a delay. */
  private String startReceiver(int status, Duration delay) throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/v1/traces",
        exchange -> {
          try (exchange) {
            posts.incrementAndGet();
            if (!exchange.getRequestMethod().equals("POST")) {
              exchange.sendResponseHeaders(405, -1);
              return;
            }
            byte[] body = exchange.getRequestBody().readAllBytes();
            requests.add(ExportTraceServiceRequest.parseFrom(body));
            requestHeaders.add(headersOf(exchange));
            sleep(delay);
            if (status != 200) {
              exchange.sendResponseHeaders(status, -1);
              return;
            }
            byte[] answer = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
            exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
          }
        });
    server.setExecutor(handlers);
    server.start();
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Starts a receiver that answers every POST with this status, content type and body. */
  private String startAnswering(int status, String contentType, byte[] body) throws IOException {
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
    server.setExecutor(handlers);
    server.start();
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private static ExportResult exportTo(String url) {
    return OtlpExporter.builder()
        .setEnvironment(Map.of())
        .setProtocol(OtlpProtocol.HTTP_PROTOBUF)
        .setEndpoint(url)
        .setMaxAttempts(1)
        .build()
        .export(TestTrees.twoVcpus());
  }

  /** What a terminal must never get from a receiver: escapes, newlines, other controls. */
  private static final String HOSTILE_TEXT =
      "\u001b[2J\u001b[31mlost none\r\nfake line\u0007\u009b" + "x".repeat(5_000);

  @Test
  void ok_withGarbageBody_isAFailureThatQuotesThePrintableStartOnly() throws IOException {
    byte[] html = ("<html>" + HOSTILE_TEXT + "</html>").getBytes(StandardCharsets.UTF_8);
    String url = startAnswering(200, "text/html", html);

    ExportResult result = exportTo(url);

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.spansSent()).isZero();
    assertThat(result.failure())
        .startsWith(
            "HTTP status 200 but the answer is not OTLP (Content-Type text/html, "
                + html.length
                + " bytes: <html>?[2J?[31mlost none??fake line??xxx")
        .endsWith("…)")
        .doesNotContainPattern("[\\p{Cntrl}\\u0080-\\u009f]")
        .hasSizeLessThan(250);
  }

  @Test
  void ok_withProtobufThatIsNotAResponse_isAFailure() throws IOException {
    byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0a, 0x7f, 0x1b};
    String url = startAnswering(200, "application/x-protobuf", garbage);

    ExportResult result = exportTo(url);

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.failure())
        .startsWith(
            "HTTP status 200 but the body is not an OTLP ExportTraceServiceResponse (6 bytes: ")
        .doesNotContainPattern("[\\p{Cntrl}]");
  }

  @Test
  void ok_withPartialSuccess_countsTheRejectedSpansAsFailed() throws IOException {
    byte[] answer =
        ExportTraceServiceResponse.newBuilder()
            .setPartialSuccess(
                ExportTracePartialSuccess.newBuilder()
                    .setRejectedSpans(3)
                    .setErrorMessage("3 spans too old\u001b[0m"))
            .build()
            .toByteArray();
    String url = startAnswering(200, "application/x-protobuf", answer);

    ExportResult result = exportTo(url);

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.spansSent()).isEqualTo(7);
    assertThat(result.spansFailed()).isEqualTo(3);
    assertThat(result.failure()).isEqualTo("the receiver rejected 3 spans: 3 spans too old?[0m");
    assertThat(result.summary()).contains("failed: 7 of 10 spans sent, 3 failed: the receiver");
  }

  @Test
  void ok_emptyOrEmptyResponse_isASuccess() throws IOException {
    String url = startAnswering(200, null, new byte[0]);

    assertThat(exportTo(url).isSuccess()).isTrue();
  }

  @Test
  void badRequest_withRpcStatus_quotesItsMessagePrintable() throws IOException {
    java.io.ByteArrayOutputStream status = new java.io.ByteArrayOutputStream();
    com.google.protobuf.CodedOutputStream coded =
        com.google.protobuf.CodedOutputStream.newInstance(status);
    coded.writeInt32(1, 3);
    coded.writeString(2, "invalid span\n\u001b]0;pwned\u0007");
    coded.flush();
    String url = startAnswering(400, "application/x-protobuf", status.toByteArray());

    ExportResult result = exportTo(url);

    assertThat(result.failure()).isEqualTo("HTTP status 400: invalid span??]0;pwned?");
  }

  @Test
  void ok_withABodyLargerThanAnyAnswer_readsNoMoreThanItsLimit() throws IOException {
    // 8 MiB of zero bytes would even parse as an empty response: past the limit it is no answer.
    String url = startAnswering(200, "application/x-protobuf", new byte[8 << 20]);

    ExportResult result = exportTo(url);

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.failure())
        .startsWith(
            "HTTP status 200 but the body is not an OTLP ExportTraceServiceResponse (more than"
                + " 65536 bytes: ")
        .hasSizeLessThan(250);
  }

  @Test
  void serverError_withHugeBody_isCut() throws IOException {
    String url = startAnswering(500, "text/plain", HOSTILE_TEXT.getBytes(StandardCharsets.UTF_8));

    ExportResult result = exportTo(url);

    assertThat(result.failure())
        .startsWith("HTTP status 500: ?[2J?[31mlost none??fake line??xx")
        .endsWith("…")
        .hasSizeLessThan(160);
  }

  @AfterEach
  void stopReceiver() {
    if (server != null) {
      server.stop(0);
    }
    handlers.shutdownNow();
  }

  private static Map<String, String> headersOf(HttpExchange exchange) {
    Map<String, String> headers = new LinkedHashMap<>();
    exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(), v.getFirst()));
    return headers;
  }

  private static void sleep(Duration delay) {
    if (delay.isZero()) {
      return;
    }
    try {
      Thread.sleep(delay);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private List<Span> receivedSpans() {
    List<Span> spans = new ArrayList<>();
    for (ExportTraceServiceRequest request : requests) {
      for (ResourceSpans resourceSpans : request.getResourceSpansList()) {
        for (ScopeSpans scopeSpans : resourceSpans.getScopeSpansList()) {
          spans.addAll(scopeSpans.getSpansList());
        }
      }
    }
    return spans;
  }

  static String outline(List<Span> spans) {
    HexFormat hex = HexFormat.of();
    List<Outline.Received> received = new ArrayList<>();
    for (Span span : spans) {
      received.add(
          new Outline.Received(
              hex.formatHex(span.getSpanId().toByteArray()),
              span.getParentSpanId().isEmpty()
                  ? null
                  : hex.formatHex(span.getParentSpanId().toByteArray()),
              span.getName(),
              span.getStartTimeUnixNano(),
              span.getEndTimeUnixNano()));
    }
    return Outline.render(received, TestTrees.EPOCH_NANOS);
  }

  private static Map<String, Object> attributes(List<KeyValue> keyValues) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (KeyValue kv : keyValues) {
      AnyValue v = kv.getValue();
      Object value =
          switch (v.getValueCase()) {
            case STRING_VALUE -> v.getStringValue();
            case INT_VALUE -> v.getIntValue();
            case DOUBLE_VALUE -> v.getDoubleValue();
            case BOOL_VALUE -> v.getBoolValue();
            default -> v.toString();
          };
      map.put(kv.getKey(), value);
    }
    return map;
  }

  @Test
  void httpProtobuf_receiverGetsWholeTree() throws IOException {
    String url = startReceiver(200, Duration.ZERO);

    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setProtocol(OtlpProtocol.HTTP_PROTOBUF)
            .setEndpoint(url)
            .build()
            .export(TestTrees.twoVcpus());

    assertThat(result.isSuccess()).isTrue();
    assertThat(result.target()).isEqualTo("http/protobuf " + url + "/v1/traces");
    assertThat(result.spansSent()).isEqualTo(10);
    List<Span> spans = receivedSpans();
    assertThat(outline(spans)).isEqualTo(TestTrees.TWO_VCPUS_OUTLINE);
    HexFormat hex = HexFormat.of();
    assertThat(spans)
        .extracting(span -> hex.formatHex(span.getTraceId().toByteArray()))
        .containsOnly(result.traceIdHex());
    assertThat(requestHeaders.getFirst()).containsEntry("content-type", "application/x-protobuf");
  }

  @Test
  void httpProtobuf_kindsEventsAndResourceArriveOnTheWire() throws IOException {
    String url = startReceiver(200, Duration.ZERO);

    OtlpExporter.builder()
        .setEnvironment(Map.of())
        .setProtocol(OtlpProtocol.HTTP_PROTOBUF)
        .setEndpoint(url)
        .build()
        .export(TestTrees.twoVcpus());

    Map<String, Span> byName =
        receivedSpans().stream().collect(Collectors.toMap(Span::getName, Function.identity()));
    assertThat(byName.get("guest call main").getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_CLIENT);
    assertThat(byName.get("host_print").getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_SERVER);
    assertThat(byName.get("main").getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_INTERNAL);
    assertThat(attributes(byName.get("worker").getAttributesList()))
        .containsEntry("guesttrace.unclosed", true)
        .containsEntry("guesttrace.vcpu", 1L);
    Span parse = byName.get("parse");
    assertThat(parse.getEventsList())
        .extracting(Span.Event::getName)
        .containsExactly("alloc", "free");
    assertThat(parse.getEvents(0).getTimeUnixNano()).isEqualTo(TestTrees.EPOCH_NANOS + 21_000);
    assertThat(attributes(parse.getEvents(0).getAttributesList()))
        .isEqualTo(
            Map.of("guesttrace.memory.address", "0x1000", "guesttrace.memory.size_bytes", 64L));
    Span.Event message = byName.get("main").getEvents(0);
    assertThat(message.getName()).isEqualTo("message");
    assertThat(message.getTimeUnixNano()).isEqualTo(TestTrees.EPOCH_NANOS + 13_000);
    assertThat(attributes(message.getAttributesList()))
        .isEqualTo(Map.of("guesttrace.message", "hello from the guest"));

    ResourceSpans resourceSpans = requests.getFirst().getResourceSpans(0);
    assertThat(attributes(resourceSpans.getResource().getAttributesList()))
        .containsEntry("service.name", "guest02-nested")
        .containsEntry("host.name", "testhost")
        .containsEntry("host.arch", "amd64")
        .containsEntry("os.type", "linux")
        .containsEntry("guesttrace.cpu.model", "Test CPU @ 3.00GHz")
        .containsEntry("guesttrace.backend", "emulated")
        .containsEntry("guesttrace.tsc.ticks_per_second", 3.0e9)
        .containsEntry("guesttrace.tsc.error_ppm", 1.5)
        .containsEntry("guesttrace.tsc.invariant", true);
    assertThat(resourceSpans.getScopeSpans(0).getScope().getName()).isEqualTo("dev.guesttrace");
  }

  @Test
  void httpProtobuf_headersFromFlagsAndEnvironment() throws IOException {
    String url = startReceiver(200, Duration.ZERO);

    OtlpExporter.builder()
        .setEnvironment(
            Map.of(
                "OTEL_EXPORTER_OTLP_HEADERS", "x-team=from%20env,authorization=env-token",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT", url))
        .addHeader("authorization", "flag-token")
        .build()
        .export(TestTrees.twoVcpus());

    assertThat(requestHeaders).isNotEmpty();
    assertThat(requestHeaders.getFirst())
        .containsEntry("x-team", "from env")
        .containsEntry("authorization", "flag-token");
  }

  @Test
  void httpProtobuf_batchesKeepTreeWhole() throws IOException {
    String url = startReceiver(200, Duration.ZERO);
    var tree = TestTrees.large(40, 2);

    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setProtocol(OtlpProtocol.HTTP_PROTOBUF)
            .setEndpoint(url)
            .setBatchSize(16)
            .build()
            .export(tree);

    // 1 + 40 * 3 = 121 spans in batches of 16: 8 requests.
    assertThat(result.spansSent()).isEqualTo(121);
    assertThat(requests).hasSize(8);
    assertThat(outline(receivedSpans())).isEqualTo(TestTrees.outline(tree));
  }

  @Test
  void httpProtobuf_serverErrorIsRetriedThenCounted() throws IOException {
    String url = startReceiver(503, Duration.ZERO);

    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setProtocol(OtlpProtocol.HTTP_PROTOBUF)
            .setEndpoint(url)
            .setMaxAttempts(2)
            .setBatchSize(4)
            .build()
            .export(TestTrees.twoVcpus());

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.spansSent()).isZero();
    assertThat(result.spansFailed()).isEqualTo(10);
    assertThat(result.failure()).contains("503");
    // Batch one is tried twice; batch two may already be in flight (twice); then the export stops.
    assertThat(posts.get()).isIn(2, 4);
  }

  @Test
  void httpProtobuf_slowReceiverTimesOut() throws IOException {
    String url = startReceiver(200, Duration.ofSeconds(5));

    ExportResult result =
        OtlpExporter.builder()
            .setEnvironment(Map.of())
            .setProtocol(OtlpProtocol.HTTP_PROTOBUF)
            .setEndpoint(url)
            .setTimeout(Duration.ofMillis(300))
            .setMaxAttempts(1)
            .build()
            .export(TestTrees.twoVcpus());

    assertThat(result.isSuccess()).isFalse();
    assertThat(result.spansSent()).isZero();
    assertThat(result.spansFailed()).isEqualTo(10);
    assertThat(result.failure()).isEqualTo("no answer within the timeout (300 ms)");
  }

  @Test
  void downReceiver_bothProtocolsReportFailureInsteadOfThrowing() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    for (OtlpProtocol protocol : OtlpProtocol.values()) {
      ExportResult result =
          OtlpExporter.builder()
              .setEnvironment(Map.of())
              .setProtocol(protocol)
              .setEndpoint("http://127.0.0.1:" + port)
              .setMaxAttempts(2)
              .build()
              .export(TestTrees.twoVcpus());

      assertThat(result.isSuccess()).as(protocol.id()).isFalse();
      assertThat(result.spansFailed()).as(protocol.id()).isEqualTo(10);
      assertThat(result.failure()).as(protocol.id()).containsIgnoringCase("connect");
      assertThat(result.summary())
          .as(protocol.id())
          .startsWith("OTLP export to " + protocol.id() + " http://127.0.0.1:" + port)
          .contains("failed: 0 of 10 spans sent, 10 failed: ");
    }
  }
}
