package dev.guesttrace.benchmarks;

import dev.guesttrace.otel.ExportResult;
import dev.guesttrace.otel.OtlpExporter;
import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import io.opentelemetry.exporter.internal.otlp.traces.LowAllocationTraceRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Converting span trees to OTLP without a network: what {@code guesttrace export} costs before the
 * bytes reach a socket. One operation is one span, so {@code 1e9 / score} is spans per second
 * (target: at least 1 M spans/s). docs/performance.md, "OTLP conversion", has the numbers.
 *
 * <ul>
 *   <li>{@link #toOtlpBytes}: the whole conversion, {@link OtlpExporter} with everything it does
 *       for a real export (SDK spans with explicit timestamps, attributes, events, batches of 2048)
 *       feeding an exporter that encodes each batch exactly as the OTLP exporters do by default (a
 *       reused {@code LowAllocationTraceRequestMarshaler}, the OTLP protobuf {@code
 *       ExportTraceServiceRequest}) into a stream that counts the bytes.
 *   <li>{@link #toSdkSpans}: the same without the encoding: tree to SDK {@code SpanData}.
 *   <li>{@link #walkTree}: visiting every node of the tree, the floor under both.
 * </ul>
 *
 * <p>The tree: 2 vCPUs, each a host run span with 500 guest calls; each call a guest span with 10
 * children of 10 children each (112 spans per call, 112,003 in all), a message on each middle span
 * and an alloc/free pair per call: the shape of a traced request handler.
 *
 * <p>How to run: {@code ./build -q -pl trace-benchmarks -am package -DskipTests} then {@code java
 * -jar trace-benchmarks/target/benchmarks.jar OtlpConversionBenchmark -prof gc -prof
 * dev.guesttrace.benchmarks.CpuTimeProfiler}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx1g"})
@State(Scope.Benchmark)
public class OtlpConversionBenchmark {
  static final int VCPUS = 2;
  static final int CALLS_PER_VCPU = 500;
  static final int FANOUT = 10;

  /** Synthetic run span + per vCPU (run span + calls x (call + guest + 10 + 100)). */
  static final int SPANS = 1 + VCPUS * (1 + CALLS_PER_VCPU * (2 + FANOUT + FANOUT * FANOUT));

  private TraceTree tree;
  private OtlpExporter toBytes;
  private OtlpExporter toSdk;
  private final CountingStream bytes = new CountingStream();
  private final EncodingExporter encoding = new EncodingExporter(bytes);
  private final CountingExporter counting = new CountingExporter();

  @Setup
  public void setUp() {
    tree = tree();
    toBytes = OtlpExporter.builder().setEnvironment(Map.of()).setSpanExporter(encoding).build();
    toSdk = OtlpExporter.builder().setEnvironment(Map.of()).setSpanExporter(counting).build();
    ExportResult check = toBytes.export(tree);
    if (check.spansSent() != SPANS) {
      throw new IllegalStateException("expected " + SPANS + " spans, sent " + check.spansSent());
    }
  }

  @Benchmark
  @OperationsPerInvocation(SPANS)
  public long toOtlpBytes() {
    bytes.count = 0;
    toBytes.export(tree);
    return bytes.count;
  }

  @Benchmark
  @OperationsPerInvocation(SPANS)
  public long toSdkSpans() {
    return toSdk.export(tree).spansSent();
  }

  @Benchmark
  @OperationsPerInvocation(SPANS)
  public long walkTree() {
    long sum = 0;
    ArrayDeque<SpanNode> stack = new ArrayDeque<>();
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      for (SpanNode root : vcpu.roots()) {
        stack.push(root);
        while (!stack.isEmpty()) {
          SpanNode node = stack.pop();
          sum += node.startNanos() ^ node.endNanos();
          for (SpanNode child : node.children()) {
            stack.push(child);
          }
        }
      }
    }
    return sum;
  }

  static TraceTree tree() {
    List<TraceTree.VcpuTree> vcpus = new ArrayList<>();
    for (int v = 0; v < VCPUS; v++) {
      long t = 1_000;
      SpanNode run = new SpanNode("vcpu " + v, SpanKind.HOST_RUN, v, 0, 0, 0, 0);
      for (int c = 0; c < CALLS_PER_VCPU; c++) {
        long callStart = t;
        SpanNode call = new SpanNode("guest call handle", SpanKind.HOST_GUEST_CALL, v, t, 0, 0, 0);
        SpanNode handle = new SpanNode("handle_request", SpanKind.GUEST, v, t + 50, 0, c, 0);
        handle.addEvent(new SpanEvent(t + 60, SpanEvent.Kind.ALLOC, "", 0x10_0000 + c * 64L, 64));
        t += 100;
        for (int i = 0; i < FANOUT; i++) {
          SpanNode middle = new SpanNode("parse_field", SpanKind.GUEST, v, t, 0, i, 0);
          middle.addEvent(new SpanEvent(t + 5, SpanEvent.Kind.MESSAGE, "field " + i, 0, 0));
          t += 20;
          for (int j = 0; j < FANOUT; j++) {
            SpanNode leaf = new SpanNode("decode_byte", SpanKind.GUEST, v, t, t + 180, j, 7);
            middle.addChild(leaf);
            t += 200;
          }
          middle.end(t, false);
          handle.addChild(middle);
          t += 20;
        }
        handle.addEvent(new SpanEvent(t, SpanEvent.Kind.FREE, "", 0x10_0000 + c * 64L, 64));
        handle.end(t + 10, false);
        call.addChild(handle);
        call.end(t + 50, false);
        run.addChild(call);
        t += 500;
        if (t < callStart) {
          throw new IllegalStateException("time went backwards");
        }
      }
      run.end(t, false);
      vcpus.add(new TraceTree.VcpuTree(v, List.of(run)));
    }
    RunSummary summary =
        new RunSummary(
            "benchmark",
            "emulated",
            VCPUS,
            "benchhost",
            "CPU",
            "Linux 6.1.0",
            "amd64",
            "OpenJDK 25",
            true,
            1_763_000_000_000_000_000L,
            3.0e9,
            1.0,
            10,
            "halted");
    return new TraceTree(summary, vcpus);
  }

  /**
   * Encodes each batch as the OTLP exporters do in their default memory mode ({@code
   * REUSABLE_DATA}: a pooled {@code LowAllocationTraceRequestMarshaler}), to a stream that only
   * counts.
   */
  static final class EncodingExporter implements SpanExporter {
    private final OutputStream out;
    private final LowAllocationTraceRequestMarshaler marshaler =
        new LowAllocationTraceRequestMarshaler();

    EncodingExporter(OutputStream out) {
      this.out = out;
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
      try {
        marshaler.initialize(spans);
        marshaler.writeBinaryTo(out);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } finally {
        marshaler.reset();
      }
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return CompletableResultCode.ofSuccess();
    }
  }

  static final class CountingExporter implements SpanExporter {
    long spans;

    @Override
    public CompletableResultCode export(Collection<SpanData> batch) {
      spans += batch.size();
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode flush() {
      return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
      return CompletableResultCode.ofSuccess();
    }
  }

  static final class CountingStream extends OutputStream {
    long count;

    @Override
    public void write(int b) {
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      count += len;
    }
  }
}
