package dev.guesttrace.otel;

import com.sun.net.httpserver.HttpServer;
import dev.guesttrace.span.TraceTree;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * By hand, not in CI: exports one large trace and reports time, throughput and peak heap.
 * docs/performance.md, "OTLP conversion", has the commands and the numbers. Run it with {@code
 * -Xmx512m} to show that the export, the tree included, fits in 512 MB.
 *
 * <p>Arguments: {@code skywalking|http CALLS TIMEOUT_SECONDS}. The tree has {@code 1 + CALLS x 10}
 * spans (a guest call with 9 nested guest spans, a message on the innermost). {@code skywalking}
 * sends over OTLP/gRPC to SkyWalking OAP started as in the integration test (2 GB heap for OAP);
 * {@code http} sends OTLP/HTTP to a receiver in this JVM that reads and counts the bytes, so the
 * exporter's own cost shows without a backend's.
 */
public final class MillionSpanExport {
  private MillionSpanExport() {}

  public static void main(String[] args) throws Exception {
    String target = args.length > 0 ? args[0] : "http";
    int calls = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
    Duration timeout = Duration.ofSeconds(args.length > 2 ? Long.parseLong(args[2]) : 60);
    long now = System.currentTimeMillis() * 1_000_000;
    TraceTree tree = TestTrees.large(calls, 9, now);
    System.gc();
    Runtime runtime = Runtime.getRuntime();
    System.out.printf(
        "the tree alone: %d MB of heap after a GC%n",
        (runtime.totalMemory() - runtime.freeMemory()) >> 20);
    if (target.equals("skywalking")) {
      try (SkyWalkingOap oap = SkyWalkingOap.start("2g")) {
        ExportResult result =
            export(
                tree,
                OtlpExporter.builder()
                    .setEndpoint(oap.otlpEndpoint())
                    .setMicrosecondSpans(true)
                    .setTimeout(timeout));
        String body = oap.get("/zipkin/api/v2/trace/" + result.traceIdHex());
        System.out.println(
            "read back: " + (body == null ? "nothing" : body.length() + " chars of Zipkin JSON"));
      }
    } else {
      AtomicLong bytes = new AtomicLong();
      AtomicLong requests = new AtomicLong();
      HttpServer server =
          HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.createContext(
          "/v1/traces",
          exchange -> {
            try (exchange;
                InputStream in = exchange.getRequestBody()) {
              bytes.addAndGet(in.transferTo(java.io.OutputStream.nullOutputStream()));
              requests.incrementAndGet();
              exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
              exchange.sendResponseHeaders(200, -1);
            }
          });
      server.start();
      try {
        export(
            tree,
            OtlpExporter.builder()
                .setProtocol(OtlpProtocol.HTTP_PROTOBUF)
                .setBatchSize(Integer.getInteger("batch", 2048))
                .setEndpoint("http://127.0.0.1:" + server.getAddress().getPort())
                .setTimeout(timeout));
        System.out.printf(
            "receiver: %d requests, %d MB of OTLP protobuf%n", requests.get(), bytes.get() >> 20);
      } finally {
        server.stop(0);
      }
    }
  }

  private static ExportResult export(TraceTree tree, OtlpExporter.Builder builder) {
    long[] lastDecile = {-1};
    long start = System.nanoTime();
    ExportResult result =
        builder
            .setEnvironment(Map.of())
            // Every span, as one trace: what this measures. -DmaxSpans=10000 shows the default.
            .setMaxSpansPerTrace(Long.getLong("maxSpans", 0))
            .setMaxBytesPerTrace(Long.getLong("maxBytes", 0))
            .build()
            .export(
                tree,
                (done, total) -> {
                  long decile = done * 10 / total;
                  if (decile != lastDecile[0]) {
                    lastDecile[0] = decile;
                    System.err.printf(
                        "%d/%d spans, %.1f s%n", done, total, (System.nanoTime() - start) / 1e9);
                  }
                });
    double seconds = (System.nanoTime() - start) / 1e9;
    long peakHeap = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peakHeap += pool.getPeakUsage().getUsed();
      }
    }
    System.out.println(result.summary());
    System.out.printf(
        "%d spans in %.2f s: %.0f spans/s; max heap %d MB, sum of heap pools' peaks %d MB%n",
        result.spansSent(),
        seconds,
        result.spansSent() / seconds,
        Runtime.getRuntime().maxMemory() >> 20,
        peakHeap >> 20);
    return result;
  }
}
