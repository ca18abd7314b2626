/**
 * Span trees to OpenTelemetry: {@link dev.guesttrace.otel.OtlpExporter} turns a run's {@link
 * dev.guesttrace.span.TraceTree} into SDK spans with the run's real timestamps and sends them over
 * OTLP (gRPC or http/protobuf) to Jaeger, Grafana Tempo, SkyWalking or any OTLP receiver.
 */
package dev.guesttrace.otel;
