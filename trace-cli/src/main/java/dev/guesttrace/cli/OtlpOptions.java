package dev.guesttrace.cli;

import dev.guesttrace.otel.ExportProgressListener;
import dev.guesttrace.otel.ExportResult;
import dev.guesttrace.otel.OtlpExporter;
import dev.guesttrace.otel.OtlpProtocol;
import dev.guesttrace.otel.TraceMode;
import dev.guesttrace.render.Printable;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** OTLP options shared by {@code export} and {@code run --otlp}, and the export itself. */
final class OtlpOptions {
  @Option(
      names = "--protocol",
      paramLabel = "grpc|http/protobuf",
      description = "OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc).")
  String protocol;

  @Option(
      names = "--otlp-timeout",
      converter = Durations.class,
      paramLabel = "DURATION",
      description = "Timeout per batch (default: OTEL_EXPORTER_OTLP_TIMEOUT, else 10s).")
  Duration timeout;

  @Option(
      names = "--otlp-header",
      paramLabel = "KEY=VALUE",
      description = "A header for every export request, e.g. authorization=... (repeatable).")
  java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();

  @Option(
      names = "--otlp-microsecond-spans",
      description =
          "Stretch spans shorter than 1 µs to end at the next microsecond (true duration kept in"
              + " guesttrace.duration_ns): SkyWalking rejects requests with zero-µs spans.")
  boolean microsecondSpans;

  @Option(
      names = "--traces",
      paramLabel = "per-run|per-call",
      description =
          "per-run (default): one trace per run. per-call: one trace per guest call plus the"
              + " run's, linked both ways with span links.")
  String traces;

  @Option(
      names = "--max-spans-per-trace",
      paramLabel = "N",
      description =
          "Span budget per trace, 0 for none (default: 10000, what Jaeger's Elasticsearch storage"
              + " reads back). Spans below the budget are summarized on their parent"
              + " (guesttrace.cut.*) and counted.")
  Long maxSpansPerTrace;

  @Option(
      names = "--max-bytes-per-trace",
      paramLabel = "BYTES",
      converter = Sizes.class,
      description =
          "Estimated OTLP bytes per trace, 0 for none (default: 4000000, 80%% of Tempo's default"
              + " max_bytes_per_trace of 5 MB); cut like --max-spans-per-trace.")
  Long maxBytesPerTrace;

  @Option(
      names = "--min-span-duration",
      converter = SpanDurations.class,
      paramLabel = "DURATION",
      description =
          "Summarize spans shorter than this (e.g. 500ns, 2us, 1ms) on their parent instead of"
              + " sending them (default: none, every span is sent).")
  Duration minSpanDuration;

  /**
   * Durations down to nanoseconds: {@code 500ns}, {@code 2us} or {@code 2µs}, else as Durations.
   */
  static final class SpanDurations implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      long unitNanos = v.endsWith("ns") ? 1 : v.endsWith("us") || v.endsWith("µs") ? 1_000 : 0;
      if (unitNanos == 0) {
        return new Durations().convert(value);
      }
      try {
        long n = Long.parseLong(v.substring(0, v.length() - 2));
        if (n <= 0) {
          throw new NumberFormatException();
        }
        return Duration.ofNanos(Math.multiplyExact(n, unitNanos));
      } catch (NumberFormatException | ArithmeticException e) {
        throw new CommandLine.TypeConversionException(
            "expected a positive duration such as 500ns, 2us or 1ms, found '" + value + "'");
      }
    }
  }

  @Option(
      names = "--service-name",
      paramLabel = "NAME",
      description = "service.name (default: OTEL_SERVICE_NAME, else the guest's name).")
  String serviceName;

  /**
   * Exports {@code tree} to {@code endpoint} (null: the environment's), the spans sent shown on
   * {@code progress}, which is closed (its line erased) before the result is printed.
   *
   * @throws CliException exit 1 if any span could not be delivered
   */
  void export(TraceTree tree, String endpoint, PrintWriter err, String verb, Progress progress) {
    OtlpExporter exporter = exporter(endpoint);
    progress.phase("exporting", Progress.Unit.SPANS, 0);
    ExportProgressListener listener =
        progress.active() ? progress::done : ExportProgressListener.NONE;
    ExportResult result = exporter.export(tree, listener);
    progress.close();
    if (!result.isSuccess()) {
      throw CliException.badData(result.summary());
    }
    err.println("guesttrace " + verb + ": " + result.summary());
    err.flush();
  }

  /**
   * Checks the endpoint and every OTLP option now: {@code run --otlp} calls it before the guest
   * starts, so that a bad URL is a usage error (exit 2) and not a failure after the run.
   *
   * @throws CliException exit 2 naming the option and what was found
   */
  void validate(String endpoint) {
    exporter(endpoint);
  }

  /**
   * Checks the values given on the command line, without the environment or an endpoint: {@code
   * run} calls it before the guest starts even without {@code --otlp}, so that a bad value is never
   * silently ignored.
   *
   * @throws CliException exit 2 naming the option and what was found
   */
  void checkFlags() {
    if (protocol != null) {
      try {
        OtlpProtocol.parse(protocol);
      } catch (IllegalArgumentException e) {
        throw CliException.usage(
            "--protocol: expected grpc or http/protobuf, found '" + Printable.of(protocol) + "'");
      }
    }
    if (traces != null) {
      try {
        TraceMode.parse(traces);
      } catch (IllegalArgumentException e) {
        throw CliException.usage(
            "--traces: expected per-run or per-call, found '" + Printable.of(traces) + "'");
      }
    }
    if (maxSpansPerTrace != null && maxSpansPerTrace < 0) {
      throw CliException.usage(
          "--max-spans-per-trace: expected 0 or more, found " + maxSpansPerTrace);
    }
    headers.forEach(OtlpOptions::checkHeader);
  }

  /** Headers HTTP clients set themselves and refuse from a caller. */
  private static final java.util.Set<String> RESTRICTED_HEADERS =
      java.util.Set.of("connection", "content-length", "expect", "host", "upgrade");

  /**
   * An HTTP header name is a token (RFC 9110: letters, digits and {@code !#$%&'*+-.^_`|~}); a value
   * has no control characters but tab (no CR or LF: no header of the user's own making).
   */
  static void checkHeader(String name, String value) {
    boolean token = !name.isEmpty();
    for (int i = 0; i < name.length() && token; i++) {
      char c = name.charAt(i);
      token = c < 0x7F && (Character.isLetterOrDigit(c) || "!#$%&'*+-.^_`|~".indexOf(c) >= 0);
    }
    if (!token) {
      throw CliException.usage(
          "--otlp-header: expected a header name of letters, digits and !#$%&'*+-.^_`|~, found '"
              + Printable.of(name)
              + "'");
    }
    if (RESTRICTED_HEADERS.contains(name.toLowerCase(Locale.ROOT))) {
      throw CliException.usage(
          "--otlp-header: " + name + " is set by the exporter itself and cannot be given");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < 0x20 && c != '\t') || c == 0x7F) {
        throw CliException.usage(
            "--otlp-header: the value of "
                + name
                + " has a control character: '"
                + Printable.of(value)
                + "'");
      }
    }
  }

  /**
   * Checks an OTLP endpoint as a URL: http or https, a host, a port in 1..65535 if given.
   *
   * @throws CliException exit 2
   */
  static void checkEndpoint(String endpoint) {
    String shown = "'" + Printable.of(endpoint) + "'";
    URI uri;
    try {
      uri = new URI(endpoint);
    } catch (URISyntaxException e) {
      throw CliException.usage(
          "--otlp: expected a URL such as http://localhost:4317, found " + shown);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw CliException.usage("--otlp: expected an http:// or https:// URL, found " + shown);
    }
    if (uri.getHost() == null || uri.getHost().isEmpty()) {
      throw CliException.usage("--otlp: expected a URL with a host and port, found " + shown);
    }
    if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65535)) {
      throw CliException.usage(
          "--otlp: expected a port in 1..65535, found " + uri.getPort() + " in " + shown);
    }
  }

  private OtlpExporter exporter(String endpoint) {
    OtlpExporter.Builder builder = OtlpExporter.builder();
    if (endpoint != null) {
      checkEndpoint(endpoint);
      builder.setEndpoint(endpoint);
    }
    if (protocol != null) {
      try {
        builder.setProtocol(OtlpProtocol.parse(protocol));
      } catch (IllegalArgumentException e) {
        throw CliException.usage(
            "--protocol: expected grpc or http/protobuf, found '" + protocol + "'");
      }
    }
    if (timeout != null) {
      builder.setTimeout(timeout);
    }
    if (serviceName != null) {
      builder.setServiceName(serviceName);
    }
    headers.forEach(OtlpOptions::checkHeader);
    headers.forEach(builder::addHeader);
    if (traces != null) {
      try {
        builder.setTraceMode(TraceMode.parse(traces));
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--traces: expected per-run or per-call, found '" + traces + "'");
      }
    }
    if (maxSpansPerTrace != null) {
      if (maxSpansPerTrace < 0) {
        throw CliException.usage(
            "--max-spans-per-trace: expected 0 or more, found " + maxSpansPerTrace);
      }
      builder.setMaxSpansPerTrace(maxSpansPerTrace);
    }
    if (maxBytesPerTrace != null) {
      builder.setMaxBytesPerTrace(maxBytesPerTrace);
    }
    if (minSpanDuration != null) {
      builder.setMinSpanDuration(minSpanDuration);
    }
    if (microsecondSpans) {
      builder.setMicrosecondSpans(true);
    }
    try {
      return builder.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }
}
