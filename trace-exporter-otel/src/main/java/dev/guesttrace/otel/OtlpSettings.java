package dev.guesttrace.otel;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where and how to send, resolved from flags and the standard environment variables. Flags win over
 * {@code OTEL_EXPORTER_OTLP_TRACES_*}, which win over {@code OTEL_EXPORTER_OTLP_*}, which win over
 * the defaults, as the OpenTelemetry specification orders them.
 */
record OtlpSettings(
    OtlpProtocol protocol, String endpoint, Duration timeout, Map<String, String> headers) {

  static final String ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT";
  static final String TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
  static final String PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL";
  static final String TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
  static final String HEADERS = "OTEL_EXPORTER_OTLP_HEADERS";
  static final String TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
  static final String TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT";
  static final String TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";

  /** The specification's default: 10 s per export request. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  /** The OTLP/HTTP path for traces, appended to base endpoints. */
  static final String TRACES_PATH = "v1/traces";

  OtlpSettings {
    headers = Map.copyOf(headers);
  }

  /**
   * Resolves the settings.
   *
   * @param endpointFlag URL given on the command line, or null
   * @param protocolFlag protocol given on the command line, or null
   * @param timeoutFlag timeout given on the command line, or null
   * @param headerFlags headers given on the command line (override same-named env headers)
   * @param env the environment
   * @throws IllegalArgumentException one line naming the bad value and its source
   */
  static OtlpSettings resolve(
      String endpointFlag,
      OtlpProtocol protocolFlag,
      Duration timeoutFlag,
      Map<String, String> headerFlags,
      Map<String, String> env) {
    OtlpProtocol protocol = protocolFlag;
    if (protocol == null) {
      String name = firstSet(env, TRACES_PROTOCOL, PROTOCOL);
      protocol = name == null ? OtlpProtocol.GRPC : parseProtocol(name, env);
    }

    String endpoint;
    if (endpointFlag != null) {
      endpoint = flagEndpoint(endpointFlag, protocol);
    } else if (isSet(env, TRACES_ENDPOINT)) {
      endpoint = checkedUrl(env.get(TRACES_ENDPOINT).trim(), TRACES_ENDPOINT);
    } else if (isSet(env, ENDPOINT)) {
      endpoint = baseEndpoint(checkedUrl(env.get(ENDPOINT).trim(), ENDPOINT), protocol);
    } else {
      endpoint =
          protocol == OtlpProtocol.GRPC
              ? "http://localhost:4317"
              : "http://localhost:4318/" + TRACES_PATH;
    }

    Duration timeout = timeoutFlag;
    if (timeout == null) {
      String variable = isSet(env, TRACES_TIMEOUT) ? TRACES_TIMEOUT : TIMEOUT;
      timeout = isSet(env, variable) ? parseTimeout(env.get(variable), variable) : DEFAULT_TIMEOUT;
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("OTLP timeout must be positive: " + timeout);
    }

    Map<String, String> headers = new LinkedHashMap<>();
    if (isSet(env, HEADERS)) {
      headers.putAll(parseHeaders(env.get(HEADERS), HEADERS));
    }
    if (isSet(env, TRACES_HEADERS)) {
      headers.putAll(parseHeaders(env.get(TRACES_HEADERS), TRACES_HEADERS));
    }
    headers.putAll(headerFlags);
    return new OtlpSettings(protocol, endpoint, timeout, headers);
  }

  /** How results and messages name the target: {@code grpc http://localhost:4317}. */
  String target() {
    return protocol.id() + " " + endpoint;
  }

  /**
   * A URL given as a flag: for OTLP/HTTP, a URL without a path is a base to which {@code
   * /v1/traces} is added (what users mean by {@code --otlp http://jaeger:4318}); a URL with a path
   * is used as it is.
   */
  private static String flagEndpoint(String url, OtlpProtocol protocol) {
    String checked = checkedUrl(url.trim(), "--otlp");
    if (protocol == OtlpProtocol.HTTP_PROTOBUF) {
      String path = URI.create(checked).getRawPath();
      if (path == null || path.isEmpty() || path.equals("/")) {
        return baseEndpoint(checked, protocol);
      }
    }
    return checked;
  }

  /** {@code OTEL_EXPORTER_OTLP_ENDPOINT} semantics: OTLP/HTTP appends the signal path. */
  private static String baseEndpoint(String url, OtlpProtocol protocol) {
    if (protocol == OtlpProtocol.GRPC) {
      return url;
    }
    return (url.endsWith("/") ? url : url + "/") + TRACES_PATH;
  }

  private static String checkedUrl(String url, String source) {
    try {
      URI uri = new URI(url);
      String scheme = uri.getScheme();
      if (scheme == null
          || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))
          || uri.getHost() == null
          || (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65535))) {
        // A port out of range parses as a URI but fails only at connect time, after the run.
        throw new IllegalArgumentException(badUrl(url, source));
      }
      return url;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(badUrl(url, source), e);
    }
  }

  private static String badUrl(String url, String source) {
    return "invalid OTLP endpoint in "
        + source
        + ": '"
        + url
        + "' (expected http://host:port or https://host:port)";
  }

  private static OtlpProtocol parseProtocol(String name, Map<String, String> env) {
    try {
      return OtlpProtocol.parse(name);
    } catch (IllegalArgumentException e) {
      String source = isSet(env, TRACES_PROTOCOL) ? TRACES_PROTOCOL : PROTOCOL;
      throw new IllegalArgumentException(e.getMessage() + " in " + source, e);
    }
  }

  /** The specification gives timeouts in milliseconds. */
  private static Duration parseTimeout(String value, String source) {
    try {
      return Duration.ofMillis(Long.parseLong(value.trim()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "invalid " + source + ": '" + value + "' (expected milliseconds)", e);
    }
  }

  /** W3C-baggage-like list: {@code key1=value1,key2=value2}, values percent-encoded. */
  static Map<String, String> parseHeaders(String value, String source) {
    Map<String, String> headers = new LinkedHashMap<>();
    for (String entry : value.split(",")) {
      if (entry.isBlank()) {
        continue;
      }
      int equals = entry.indexOf('=');
      if (equals <= 0) {
        throw new IllegalArgumentException(
            "invalid " + source + ": '" + entry.trim() + "' (expected key=value)");
      }
      String key = entry.substring(0, equals).trim();
      String raw = entry.substring(equals + 1).trim();
      try {
        headers.put(key, URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "invalid " + source + ": bad percent-encoding in '" + entry.trim() + "'", e);
      }
    }
    return headers;
  }

  private static String firstSet(Map<String, String> env, String first, String second) {
    return isSet(env, first) ? env.get(first) : isSet(env, second) ? env.get(second) : null;
  }

  private static boolean isSet(Map<String, String> env, String name) {
    String value = env.get(name);
    return value != null && !value.isBlank();
  }
}
