package dev.guesttrace.otel;

import dev.guesttrace.span.TraceTree;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.Map;

/**
 * By hand, not in CI: exports a trace of 1,000,002 spans to a local SkyWalking OAP and reports
 * time, throughput and peak heap. docs/performance.md, "OTLP conversion", has the command and the
 * numbers. Run it with {@code -Xmx512m} to show the export fits in 512 MB, the tree included.
 */
public final class MillionSpanExport {
  private MillionSpanExport() {}

  public static void main(String[] args) throws Exception {
    int calls = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
    String oapHeap = args.length > 1 ? args[1] : "2g";
    try (SkyWalkingOap oap = SkyWalkingOap.start(oapHeap)) {
      long now = System.currentTimeMillis() * 1_000_000;
      // 2 + calls x (1 + 9): a guest call with 9 nested guest spans and a message each.
      TraceTree tree = TestTrees.large(calls, 9, now);
      long[] lastDecile = {-1};
      long start = System.nanoTime();
      ExportResult result =
          OtlpExporter.builder()
              .setEnvironment(Map.of())
              .setEndpoint(oap.otlpEndpoint())
              .setMicrosecondSpans(true)
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
          "%d spans in %.2f s: %.0f spans/s; max heap %d MB, peak heap used %d MB%n",
          result.spansSent(),
          seconds,
          result.spansSent() / seconds,
          Runtime.getRuntime().maxMemory() >> 20,
          peakHeap >> 20);
      String body = oap.get("/zipkin/api/v2/trace/" + result.traceIdHex());
      System.out.println(
          "read back: " + (body == null ? "nothing" : body.length() + " chars of Zipkin JSON"));
    }
  }
}
