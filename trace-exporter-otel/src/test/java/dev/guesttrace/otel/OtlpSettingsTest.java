package dev.guesttrace.otel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OtlpSettingsTest {
  private static OtlpSettings resolve(Map<String, String> env) {
    return OtlpSettings.resolve(null, null, null, Map.of(), env);
  }

  @Test
  void resolve_defaultsToGrpcOnLocalhost4317() {
    OtlpSettings settings = resolve(Map.of());
    assertThat(settings.protocol()).isEqualTo(OtlpProtocol.GRPC);
    assertThat(settings.endpoint()).isEqualTo("http://localhost:4317");
    assertThat(settings.timeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(settings.headers()).isEmpty();
  }

  @Test
  void resolve_httpDefaultsToLocalhost4318Traces() {
    OtlpSettings settings = resolve(Map.of("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"));
    assertThat(settings.endpoint()).isEqualTo("http://localhost:4318/v1/traces");
  }

  @Test
  void resolve_baseEndpointGetsSignalPathForHttpOnly() {
    Map<String, String> env =
        Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "https://tempo.example:4318/otlp");
    assertThat(
            OtlpSettings.resolve(null, OtlpProtocol.HTTP_PROTOBUF, null, Map.of(), env).endpoint())
        .isEqualTo("https://tempo.example:4318/otlp/v1/traces");
    assertThat(OtlpSettings.resolve(null, OtlpProtocol.GRPC, null, Map.of(), env).endpoint())
        .isEqualTo("https://tempo.example:4318/otlp");
  }

  @Test
  void resolve_signalSpecificVariablesWinOverGeneralOnes() {
    OtlpSettings settings =
        resolve(
            Map.of(
                "OTEL_EXPORTER_OTLP_ENDPOINT", "http://general:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf",
                "OTEL_EXPORTER_OTLP_TIMEOUT", "1000",
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500",
                "OTEL_EXPORTER_OTLP_HEADERS", "a=general,b=general",
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=traces"));
    assertThat(settings.protocol()).isEqualTo(OtlpProtocol.HTTP_PROTOBUF);
    assertThat(settings.endpoint()).isEqualTo("http://traces:9999/custom");
    assertThat(settings.timeout()).isEqualTo(Duration.ofMillis(2500));
    assertThat(settings.headers()).isEqualTo(Map.of("a", "general", "b", "traces"));
  }

  @Test
  void resolve_flagsWinOverEnvironment() {
    Map<String, String> env =
        Map.of(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999",
            "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
            "OTEL_EXPORTER_OTLP_TIMEOUT", "1000",
            "OTEL_EXPORTER_OTLP_HEADERS", "k=env");
    OtlpSettings settings =
        OtlpSettings.resolve(
            "http://jaeger:4318",
            OtlpProtocol.HTTP_PROTOBUF,
            Duration.ofSeconds(3),
            Map.of("k", "flag"),
            env);
    assertThat(settings.protocol()).isEqualTo(OtlpProtocol.HTTP_PROTOBUF);
    assertThat(settings.endpoint()).isEqualTo("http://jaeger:4318/v1/traces");
    assertThat(settings.timeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(settings.headers()).isEqualTo(Map.of("k", "flag"));
    assertThat(settings.target()).isEqualTo("http/protobuf http://jaeger:4318/v1/traces");
  }

  @Test
  void resolve_flagUrlWithPathIsUsedAsIs() {
    OtlpSettings settings =
        OtlpSettings.resolve(
            "http://collector:4318/custom/traces",
            OtlpProtocol.HTTP_PROTOBUF,
            null,
            Map.of(),
            Map.of());
    assertThat(settings.endpoint()).isEqualTo("http://collector:4318/custom/traces");
  }

  @Test
  void resolve_headerValuesArePercentDecoded() {
    OtlpSettings settings =
        resolve(
            Map.of("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Basic%20dXNlcjpwdw==, x-plus=a+b"));
    assertThat(settings.headers())
        .isEqualTo(Map.of("Authorization", "Basic dXNlcjpwdw==", "x-plus", "a+b"));
  }

  @Test
  void resolve_badValuesSayWhatAndWhere() {
    assertThatThrownBy(() -> resolve(Map.of("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "unknown OTLP protocol: 'http/json' (expected grpc or http/protobuf) in OTEL_EXPORTER_OTLP_PROTOCOL");
    assertThatThrownBy(() -> resolve(Map.of("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")))
        .hasMessage("invalid OTEL_EXPORTER_OTLP_TIMEOUT: '10s' (expected milliseconds)");
    assertThatThrownBy(() -> OtlpSettings.resolve("localhost:4317", null, null, Map.of(), Map.of()))
        .hasMessage(
            "invalid OTLP endpoint in --otlp: 'localhost:4317' (expected http://host:port or https://host:port)");
    assertThatThrownBy(
            () -> resolve(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:99999")))
        .hasMessage(
            "invalid OTLP endpoint in OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:99999' (expected http://host:port or https://host:port)");
    assertThatThrownBy(() -> resolve(Map.of("OTEL_EXPORTER_OTLP_HEADERS", "novalue")))
        .hasMessage("invalid OTEL_EXPORTER_OTLP_HEADERS: 'novalue' (expected key=value)");
    assertThatThrownBy(() -> OtlpSettings.resolve(null, null, Duration.ZERO, Map.of(), Map.of()))
        .hasMessage("OTLP timeout must be positive: PT0S");
  }

  @Test
  void protocol_parseAcceptsBothNamesAnyCase() {
    assertThat(OtlpProtocol.parse("GRPC")).isEqualTo(OtlpProtocol.GRPC);
    assertThat(OtlpProtocol.parse(" http/protobuf ")).isEqualTo(OtlpProtocol.HTTP_PROTOBUF);
  }

  @Test
  void runResource_normalizesArchAndOsType() {
    assertThat(RunResource.hostArch("x86_64")).isEqualTo("amd64");
    assertThat(RunResource.hostArch("aarch64")).isEqualTo("arm64");
    assertThat(RunResource.osType("Linux 6.1.0-18-amd64")).isEqualTo("linux");
    assertThat(RunResource.osType("Mac OS X 14.5")).isEqualTo("darwin");
    assertThat(RunResource.osType("Windows 11")).isEqualTo("windows");
  }
}
