package dev.guesttrace.cli;

import dev.guesttrace.otel.ExportProgressListener;
import dev.guesttrace.otel.ExportResult;
import dev.guesttrace.otel.OtlpExporter;
import dev.guesttrace.otel.OtlpProtocol;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.time.Duration;
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
      names = "--service-name",
      description = "service.name (default: OTEL_SERVICE_NAME, else the guest's name).")
  String serviceName;

  /**
   * Exports {@code tree} to {@code endpoint} (null: the environment's), with progress on stderr
   * when it is a terminal.
   *
   * @throws CliException exit 1 if any span could not be delivered
   */
  void export(TraceTree tree, String endpoint, PrintWriter err, String verb) {
    OtlpExporter.Builder builder = OtlpExporter.builder();
    if (endpoint != null) {
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
    headers.forEach(builder::addHeader);
    if (microsecondSpans) {
      builder.setMicrosecondSpans(true);
    }
    OtlpExporter exporter;
    try {
      exporter = builder.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    ExportProgressListener progress =
        System.console() != null
            ? (done, total) -> {
              err.printf("\rguesttrace %s: %d/%d spans", verb, done, total);
              err.flush();
            }
            : ExportProgressListener.NONE;
    ExportResult result = exporter.export(tree, progress);
    if (System.console() != null) {
      err.println();
    }
    if (!result.isSuccess()) {
      throw CliException.badData(result.summary());
    }
    err.println("guesttrace " + verb + ": " + result.summary());
    err.flush();
  }
}
