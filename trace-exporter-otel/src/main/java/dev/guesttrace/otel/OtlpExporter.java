package dev.guesttrace.otel;

import static java.util.Objects.requireNonNull;

import dev.guesttrace.span.TraceTree;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporterBuilder;
import io.opentelemetry.sdk.common.export.RetryPolicy;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanLimits;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Sends a run's span tree to an OTLP receiver (Jaeger, Grafana Tempo, SkyWalking, an OpenTelemetry
 * Collector) as one trace with the run's real timestamps.
 *
 * <pre>{@code
 * ExportResult result = OtlpExporter.builder()
 *     .setEndpoint("http://localhost:4317")
 *     .build()
 *     .export(tree, (done, total) -> System.err.printf("%d/%d spans%n", done, total));
 * if (!result.isSuccess()) { System.err.println(result.summary()); return 1; }
 * }</pre>
 *
 * <p>Settings left unset come from the standard environment variables ({@code
 * OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT}, {@code _PROTOCOL}, {@code _HEADERS}, {@code _TIMEOUT},
 * {@code OTEL_SERVICE_NAME}, {@code OTEL_RESOURCE_ATTRIBUTES}); explicit settings win. Export never
 * throws for a backend that is down, slow or refusing: retries are bounded, each batch has a
 * timeout, and the {@link ExportResult} counts every span as sent or failed. An instance holds no
 * connection between exports and may be reused.
 */
public final class OtlpExporter {
  /** The exporter's own log lines would repeat what {@link ExportResult#summary()} says. */
  private static final Logger OTLP_LOGGER = Logger.getLogger("io.opentelemetry.exporter");

  private static final String INSTRUMENTATION_SCOPE = "dev.guesttrace";

  /** Environment variable that turns on {@link Builder#setMicrosecondSpans(boolean)}. */
  public static final String MICROSECOND_SPANS_ENV = "GUESTTRACE_OTLP_MICROSECOND_SPANS";

  private final OtlpSettings settings;
  private final String serviceName;
  private final Map<String, String> env;
  private final int batchSpans;
  private final int batchEvents;
  private final int maxEventsPerSpan;
  private final int maxAttempts;
  private final SpanExporter customExporter;
  private final boolean microsecondSpans;
  private final SpanTreeConverter.Shape shape;

  /**
   * Default span budget per trace: Jaeger's Elasticsearch and OpenSearch storage read at most
   * 10,000 spans of a trace ({@code es.max-doc-count}), and its UI is slow well before that.
   */
  public static final long DEFAULT_MAX_SPANS_PER_TRACE = 10_000;

  /**
   * Default budget of estimated OTLP bytes per trace: 80% of Grafana Tempo's default {@code
   * max_bytes_per_trace} (5,000,000), leaving room for what the estimate misses.
   */
  public static final long DEFAULT_MAX_BYTES_PER_TRACE = 4_000_000;

  private OtlpExporter(Builder builder, OtlpSettings settings) {
    this.settings = settings;
    this.serviceName = builder.serviceName;
    this.env = builder.env;
    this.batchSpans = builder.batchSpans;
    this.batchEvents = builder.batchEvents;
    this.maxEventsPerSpan = builder.maxEventsPerSpan;
    this.maxAttempts = builder.maxAttempts;
    this.customExporter = builder.spanExporter;
    this.microsecondSpans =
        builder.microsecondSpans != null
            ? builder.microsecondSpans
            : Boolean.parseBoolean(env.getOrDefault(MICROSECOND_SPANS_ENV, "false").trim());
    this.shape =
        new SpanTreeConverter.Shape(
            builder.traceMode,
            builder.maxSpansPerTrace,
            builder.maxBytesPerTrace,
            builder.minSpanDuration.toNanos());
  }

  /** Returns a builder; every setting is optional. */
  public static Builder builder() {
    return new Builder();
  }

  /** Where spans go, e.g. {@code grpc http://localhost:4317}, for messages. */
  public String target() {
    return customExporter == null ? settings.target() : customExporter.toString();
  }

  /** The resolved endpoint URL. */
  public String endpoint() {
    return settings.endpoint();
  }

  /** The resolved protocol. */
  public OtlpProtocol protocol() {
    return settings.protocol();
  }

  /** Exports the tree without progress reports. */
  public ExportResult export(TraceTree tree) {
    return export(tree, ExportProgressListener.NONE);
  }

  /**
   * Exports the tree as one trace, in batches, on the calling thread.
   *
   * @param tree the run's span trees
   * @param progress told after every batch
   * @return what was sent and what failed; never throws for network or backend trouble
   */
  public ExportResult export(TraceTree tree, ExportProgressListener progress) {
    requireNonNull(tree, "tree");
    requireNonNull(progress, "progress");
    long spansTotal = SpanTreeConverter.countSpans(tree, shape);
    Resource resource = RunResource.of(tree.summary(), serviceName, env);
    SpanExporter exporter = customExporter == null ? otlpExporter() : customExporter;
    Level previousLevel = OTLP_LOGGER.getLevel();
    if (customExporter == null) {
      OTLP_LOGGER.setLevel(Level.OFF);
    }
    try {
      BatchingSpanSink sink =
          new BatchingSpanSink(
              exporter, batchSpans, batchEvents, 2, settings.timeout(), spansTotal, progress);
      SdkTracerProvider provider =
          SdkTracerProvider.builder()
              .setResource(resource)
              .setSpanLimits(
                  SpanLimits.builder()
                      .setMaxNumberOfEvents(maxEventsPerSpan)
                      .setMaxNumberOfAttributes(32)
                      // A run span may link to many call traces; the call traces link back.
                      .setMaxNumberOfLinks(128)
                      .build())
              .addSpanProcessor(sink)
              .build();
      SpanTreeConverter.Stats stats = new SpanTreeConverter.Stats();
      Span root =
          SpanTreeConverter.emit(
              tree,
              provider.get(INSTRUMENTATION_SCOPE),
              microsecondSpans,
              sink::stopped,
              shape,
              stats);
      sink.finish();
      long spansSent = sink.spansSent();
      if (sink.stopped()) {
        // The spans never tried are given up on too: progress ends at the total either way.
        progress.onProgress(spansTotal, spansTotal);
      }
      return new ExportResult(
          target(),
          root.getSpanContext().getTraceId(),
          spansTotal,
          spansSent,
          spansTotal - spansSent,
          sink.eventsDropped(),
          spansSent == spansTotal
              ? null
              : hint(failureOrDefault(sink.failure()), stats.zeroMicrosecondSpans),
          stats.traces,
          List.copyOf(stats.callTraceIds),
          stats.spansCut,
          stats.parentsWithCuts,
          stats.eventsCut,
          describeShape());
    } finally {
      if (customExporter == null) {
        exporter.shutdown().join(1, TimeUnit.SECONDS);
      }
      OTLP_LOGGER.setLevel(previousLevel);
    }
  }

  /**
   * SkyWalking answers a request holding a span shorter than its microsecond clock with an opaque
   * gRPC UNKNOWN; name the cause and the option when that is what happened.
   */
  static String hint(String failure, long zeroMicrosecondSpans) {
    if (zeroMicrosecondSpans > 0 && failure.contains("UNKNOWN")) {
      return failure
          + " ("
          + zeroMicrosecondSpans
          + " spans start and end within one microsecond, which SkyWalking rejects: export again"
          + " with --otlp-microsecond-spans or "
          + MICROSECOND_SPANS_ENV
          + "=true)";
    }
    return failure;
  }

  /** The shaping limits, for the result's summary. */
  private String describeShape() {
    StringBuilder out = new StringBuilder();
    out.append(shape.maxSpans() == 0 ? "no span limit" : "at most " + shape.maxSpans() + " spans");
    if (shape.maxBytes() != 0) {
      out.append(" and ~").append(shape.maxBytes()).append(" bytes");
    }
    out.append(" per trace");
    if (shape.minDurationNanos() > 0) {
      out.append(", none shorter than ").append(shape.minDurationNanos()).append(" ns");
    }
    return out.toString();
  }

  private static String failureOrDefault(String failure) {
    return failure == null ? "spans were not acknowledged" : failure;
  }

  private SpanExporter otlpExporter() {
    // Short backoffs: a user waiting at a terminal prefers a quick, clear failure to a long hang.
    RetryPolicy retry =
        maxAttempts == 1
            ? null
            : RetryPolicy.builder()
                .setMaxAttempts(maxAttempts)
                .setInitialBackoff(Duration.ofMillis(250))
                .setMaxBackoff(Duration.ofSeconds(2))
                .setBackoffMultiplier(2.0)
                .build();
    Duration connectTimeout =
        settings.timeout().compareTo(Duration.ofSeconds(5)) < 0
            ? settings.timeout()
            : Duration.ofSeconds(5);
    return switch (settings.protocol()) {
      case GRPC -> {
        OtlpGrpcSpanExporterBuilder grpc =
            OtlpGrpcSpanExporter.builder()
                .setEndpoint(settings.endpoint())
                .setTimeout(settings.timeout())
                .setConnectTimeout(connectTimeout)
                .setRetryPolicy(retry);
        settings.headers().forEach(grpc::addHeader);
        yield grpc.build();
      }
      case HTTP_PROTOBUF ->
          // Not the SDK's HTTP exporter: it takes any 2xx as success, whatever the body says.
          new OtlpHttpSender(
              settings.endpoint(),
              settings.headers(),
              settings.timeout(),
              connectTimeout,
              maxAttempts);
    };
  }

  /** Configures an {@link OtlpExporter}. Unset values come from the environment, then defaults. */
  public static final class Builder {
    private String endpoint;
    private OtlpProtocol protocol;
    private Duration timeout;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private String serviceName;
    private Map<String, String> env = System.getenv();
    private int batchSpans = 2048;
    private int batchEvents = 16_384;
    private int maxEventsPerSpan = 10_000;
    private int maxAttempts = 3;
    private SpanExporter spanExporter;
    private Boolean microsecondSpans;
    private TraceMode traceMode = TraceMode.PER_RUN;
    private long maxSpansPerTrace = DEFAULT_MAX_SPANS_PER_TRACE;
    private long maxBytesPerTrace = DEFAULT_MAX_BYTES_PER_TRACE;
    private Duration minSpanDuration = Duration.ZERO;

    private Builder() {}

    /** One trace per run (default) or one per guest call plus the run's, linked. */
    public Builder setTraceMode(TraceMode mode) {
      this.traceMode = requireNonNull(mode, "mode");
      return this;
    }

    /**
     * Most spans one trace sends (default {@value #DEFAULT_MAX_SPANS_PER_TRACE}), 0 for no limit.
     * The budget is filled from the top of the tree down; spans below it are summarized on their
     * nearest sent ancestor ({@code guesttrace.cut.*}) and counted in the result.
     */
    public Builder setMaxSpansPerTrace(long spans) {
      if (spans < 0) {
        throw new IllegalArgumentException("max spans per trace must not be negative: " + spans);
      }
      this.maxSpansPerTrace = spans;
      return this;
    }

    /**
     * Most estimated OTLP bytes one trace sends (default {@value #DEFAULT_MAX_BYTES_PER_TRACE}), 0
     * for no limit; cut like {@link #setMaxSpansPerTrace}.
     */
    public Builder setMaxBytesPerTrace(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("max bytes per trace must not be negative: " + bytes);
      }
      this.maxBytesPerTrace = bytes;
      return this;
    }

    /** Spans shorter than this are summarized on their parent instead of sent; default zero. */
    public Builder setMinSpanDuration(Duration duration) {
      requireNonNull(duration, "duration");
      if (duration.isNegative()) {
        throw new IllegalArgumentException("min span duration must not be negative: " + duration);
      }
      this.minSpanDuration = duration;
      return this;
    }

    /**
     * The receiver's URL, e.g. {@code http://localhost:4317} (gRPC) or {@code
     * http://localhost:4318} (http/protobuf: a URL without a path gets {@code /v1/traces}; a URL
     * with a path is used as it is). Wins over {@code OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT}.
     */
    public Builder setEndpoint(String endpoint) {
      this.endpoint = requireNonNull(endpoint, "endpoint");
      return this;
    }

    /** The transport; wins over {@code OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL}; default gRPC. */
    public Builder setProtocol(OtlpProtocol protocol) {
      this.protocol = requireNonNull(protocol, "protocol");
      return this;
    }

    /**
     * How long one batch may take, retries included; wins over {@code
     * OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT}; default 10 s.
     */
    public Builder setTimeout(Duration timeout) {
      this.timeout = requireNonNull(timeout, "timeout");
      return this;
    }

    /** Adds a request header (e.g. an API key); wins over the same key from the environment. */
    public Builder addHeader(String key, String value) {
      headers.put(requireNonNull(key, "key"), requireNonNull(value, "value"));
      return this;
    }

    /**
     * Adds headers in the {@code OTEL_EXPORTER_OTLP_HEADERS} format, {@code k1=v1,k2=v2} with
     * percent-encoded values, as a {@code --header} flag would give them.
     *
     * @throws IllegalArgumentException for an entry without {@code =}
     */
    public Builder addHeaders(String keyValueList) {
      headers.putAll(OtlpSettings.parseHeaders(keyValueList, "headers"));
      return this;
    }

    /** {@code service.name}; wins over {@code OTEL_SERVICE_NAME}; default the guest's name. */
    public Builder setServiceName(String serviceName) {
      this.serviceName = requireNonNull(serviceName, "serviceName");
      return this;
    }

    /**
     * Whether every span covers at least one microsecond tick (default: {@code
     * GUESTTRACE_OTLP_MICROSECOND_SPANS}, else false). Backends that keep microseconds (Zipkin and
     * the Zipkin-based SkyWalking) see a guest span that starts and ends within one microsecond as
     * having no duration, and SkyWalking 10.1 then rejects the whole request. With this on, such a
     * span ends at the next microsecond instead (less than 1 µs later) and carries its true
     * duration in {@code guesttrace.duration_ns}. Off, every timestamp is sent exactly, to the
     * nanosecond, which Jaeger and Tempo take as they are.
     */
    public Builder setMicrosecondSpans(boolean microsecondSpans) {
      this.microsecondSpans = microsecondSpans;
      return this;
    }

    /** Spans per OTLP request; default 2048 (about 270 KB of protobuf for typical guest spans). */
    public Builder setBatchSize(int spans) {
      if (spans < 1) {
        throw new IllegalArgumentException("batch size must be at least 1: " + spans);
      }
      this.batchSpans = spans;
      return this;
    }

    /**
     * Events per span that are exported (default 10 000); more are counted in {@link
     * ExportResult#eventsDropped()}. Keeps a span that allocates in a loop within what receivers
     * accept in one request (gRPC: 4 MiB by default).
     */
    public Builder setMaxEventsPerSpan(int events) {
      if (events < 0) {
        throw new IllegalArgumentException("max events per span must not be negative: " + events);
      }
      this.maxEventsPerSpan = events;
      return this;
    }

    /** Attempts per batch, the first included (default 3); 1 disables retries. */
    public Builder setMaxAttempts(int attempts) {
      if (attempts < 1 || attempts > 5) {
        throw new IllegalArgumentException("max attempts must be 1 to 5: " + attempts);
      }
      this.maxAttempts = attempts;
      return this;
    }

    /**
     * The environment to read {@code OTEL_*} variables from; default {@link System#getenv()}. Tests
     * and embedders pass their own.
     */
    public Builder setEnvironment(Map<String, String> env) {
      this.env = Map.copyOf(requireNonNull(env, "env"));
      return this;
    }

    /**
     * Sends the spans to this exporter instead of OTLP (an in-memory exporter in tests, a counting
     * one in benchmarks); endpoint, protocol and headers are then unused, and the exporter is not
     * shut down.
     */
    public Builder setSpanExporter(SpanExporter exporter) {
      this.spanExporter = requireNonNull(exporter, "exporter");
      return this;
    }

    /**
     * Resolves the settings against the environment.
     *
     * @throws IllegalArgumentException one line naming a bad endpoint, protocol, timeout or header
     */
    public OtlpExporter build() {
      OtlpSettings settings = OtlpSettings.resolve(endpoint, protocol, timeout, headers, env);
      return new OtlpExporter(this, settings);
    }
  }
}
