package dev.guesttrace.otel;

import java.util.Locale;

/** The OTLP transports, named as {@code OTEL_EXPORTER_OTLP_PROTOCOL} names them. */
public enum OtlpProtocol {
  /** OTLP/gRPC, by convention on port 4317. */
  GRPC("grpc"),
  /** OTLP/HTTP with protobuf bodies, by convention on port 4318, path {@code /v1/traces}. */
  HTTP_PROTOBUF("http/protobuf");

  private final String id;

  OtlpProtocol(String id) {
    this.id = id;
  }

  /** The name used by flags and environment variables: {@code grpc} or {@code http/protobuf}. */
  public String id() {
    return id;
  }

  /**
   * Parses a protocol name.
   *
   * @param id {@code grpc} or {@code http/protobuf} (case-insensitive)
   * @return the protocol
   * @throws IllegalArgumentException for any other name, including {@code http/json}, which the
   *     OpenTelemetry Java exporter does not send
   */
  public static OtlpProtocol parse(String id) {
    String normalized = id.trim().toLowerCase(Locale.ROOT);
    for (OtlpProtocol protocol : values()) {
      if (protocol.id.equals(normalized)) {
        return protocol;
      }
    }
    throw new IllegalArgumentException(
        "unknown OTLP protocol: '" + id + "' (expected grpc or http/protobuf)");
  }

  @Override
  public String toString() {
    return id;
  }
}
