package dev.guesttrace.otel;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * OTLP/HTTP (protobuf) that checks what the receiver answers. The OpenTelemetry HTTP exporter takes
 * any 2xx as success; this one requires the body to be an {@code ExportTraceServiceResponse}
 * (empty, or protobuf with the protobuf content type), reports its {@code partial_success}
 * (rejected spans are counted as failed), and never copies a receiver's bytes into a message
 * without making them printable and short ({@link #printable}).
 *
 * <p>Retries, per the OTLP specification, 429, 502, 503 and 504 (honouring {@code Retry-After}
 * within the timeout) and connection failures, with exponential backoff from 250 ms; the timeout
 * covers every attempt of a batch. Each batch is sent on a virtual thread.
 */
final class OtlpHttpSender implements SpanExporter {
  /** Longest piece of a receiver's text put in a message. */
  static final int MAX_FOREIGN_CHARS = 120;

  /** Most bytes of a response body read; a response larger than this is not an OTLP answer. */
  static final int MAX_BODY_BYTES = 64 * 1024;

  private final URI endpoint;
  private final Map<String, String> headers;
  private final Duration timeout;
  private final int maxAttempts;
  private final HttpClient client;

  OtlpHttpSender(
      String endpoint,
      Map<String, String> headers,
      Duration timeout,
      Duration connectTimeout,
      int maxAttempts) {
    this.endpoint = URI.create(endpoint);
    this.headers = Map.copyOf(headers);
    this.timeout = timeout;
    this.maxAttempts = maxAttempts;
    this.client =
        HttpClient.newBuilder()
            .connectTimeout(connectTimeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
  }

  /** A batch the receiver took only in part: how many spans it rejected, and its message. */
  static final class PartialSuccessException extends Exception {
    private static final long serialVersionUID = 1L;
    private final long rejectedSpans;

    PartialSuccessException(long rejectedSpans, String message) {
      super(message);
      this.rejectedSpans = rejectedSpans;
    }

    long rejectedSpans() {
      return rejectedSpans;
    }
  }

  /** A refused or unreadable answer, its message already printable. */
  static final class ExportFailedException extends Exception {
    private static final long serialVersionUID = 1L;

    ExportFailedException(String message) {
      super(message);
    }
  }

  @Override
  public CompletableResultCode export(Collection<SpanData> spans) {
    byte[] body;
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      TraceRequestMarshaler.create(spans).writeBinaryTo(out);
      body = out.toByteArray();
    } catch (IOException e) {
      return CompletableResultCode.ofExceptionalFailure(e);
    }
    CompletableResultCode result = new CompletableResultCode();
    Thread.ofVirtual()
        .name("guesttrace-otlp-http")
        .start(
            () -> {
              try {
                send(body);
                result.succeed();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                result.failExceptionally(e);
              } catch (Exception e) {
                result.failExceptionally(e);
              }
            });
    return result;
  }

  private void send(byte[] body) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    long backoffMillis = 250;
    for (int attempt = 1; ; attempt++) {
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        throw new ExportFailedException(
            "no answer within the timeout (" + timeout.toMillis() + " ms)");
      }
      HttpRequest.Builder request =
          HttpRequest.newBuilder(endpoint)
              .timeout(Duration.ofNanos(remaining))
              .header("Content-Type", "application/x-protobuf")
              .POST(HttpRequest.BodyPublishers.ofByteArray(body));
      headers.forEach(request::header);
      Answer response;
      try {
        response = Answer.read(client.send(request.build(), BodyHandlers.ofInputStream()));
      } catch (HttpTimeoutException e) {
        throw new ExportFailedException(
            "no answer within the timeout (" + timeout.toMillis() + " ms)");
      } catch (IOException e) {
        // Connection refused, reset: transient for the specification, retried while time is left.
        if (attempt >= maxAttempts) {
          throw e;
        }
        backoffMillis = sleep(backoffMillis, deadline, null);
        continue;
      }
      int status = response.status();
      if (status >= 200 && status < 300) {
        checkSuccess(response);
        return;
      }
      boolean retryable = status == 429 || status == 502 || status == 503 || status == 504;
      if (!retryable || attempt >= maxAttempts) {
        throw new ExportFailedException(describeError(response));
      }
      backoffMillis = sleep(backoffMillis, deadline, response.header("Retry-After"));
    }
  }

  /** Sleeps the jittered backoff (or Retry-After seconds), never past the deadline. */
  private static long sleep(long backoffMillis, long deadline, Optional<String> retryAfter)
      throws InterruptedException {
    long millis = (long) (backoffMillis * (0.8 + 0.4 * Math.random()));
    if (retryAfter != null && retryAfter.isPresent()) {
      try {
        millis = Math.max(millis, Long.parseLong(retryAfter.get().trim()) * 1000);
      } catch (NumberFormatException e) {
        // An HTTP date or garbage: the backoff stands.
      }
    }
    long left = (deadline - System.nanoTime()) / 1_000_000;
    Thread.sleep(Math.max(0, Math.min(millis, left)));
    return Math.min(backoffMillis * 2, 2_000);
  }

  /**
   * A 2xx answer must be an {@code ExportTraceServiceResponse}: an empty body, or protobuf that
   * parses as one.
   */
  static void checkSuccess(Answer response) throws Exception {
    byte[] body = response.body();
    int status = response.status();
    if (body.length == 0) {
      return;
    }
    String type = response.header("Content-Type").orElse("");
    if (!type.toLowerCase(Locale.ROOT).startsWith("application/x-protobuf")) {
      throw new ExportFailedException(
          "HTTP status "
              + status
              + " but the answer is not OTLP ("
              + (type.isEmpty() ? "no Content-Type" : "Content-Type " + printable(type))
              + ", "
              + response.size()
              + ": "
              + printable(body)
              + ")");
    }
    if (response.cut()) {
      throw new ExportFailedException(
          "HTTP status "
              + status
              + " but the body is not an OTLP ExportTraceServiceResponse ("
              + response.size()
              + ": "
              + printable(body)
              + ")");
    }
    long[] rejected = {0};
    String[] message = {""};
    try {
      parsePartialSuccess(body, rejected, message);
    } catch (InvalidProtocolBufferException e) {
      throw new ExportFailedException(
          "HTTP status "
              + status
              + " but the body is not an OTLP ExportTraceServiceResponse ("
              + response.size()
              + ": "
              + printable(body)
              + ")");
    }
    if (rejected[0] > 0 || rejected[0] < 0) {
      throw new PartialSuccessException(
          Math.max(0, rejected[0]),
          "the receiver rejected "
              + rejected[0]
              + " spans"
              + (message[0].isEmpty() ? "" : ": " + printable(message[0])));
    }
  }

  /**
   * Reads {@code ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }}
   * with {@code ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }},
   * skipping unknown fields as any protobuf reader does.
   */
  static void parsePartialSuccess(byte[] body, long[] rejected, String[] message)
      throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(body);
    while (true) {
      int tag = in.readTag();
      if (tag == 0) {
        return;
      }
      if (tag == tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED)) {
        int limit = in.pushLimit(in.readRawVarint32());
        while (true) {
          int inner = in.readTag();
          if (inner == 0) {
            break;
          }
          if (inner == tag(1, WireFormat.WIRETYPE_VARINT)) {
            rejected[0] = in.readInt64();
          } else if (inner == tag(2, WireFormat.WIRETYPE_LENGTH_DELIMITED)) {
            message[0] = in.readStringRequireUtf8();
          } else if (!in.skipField(inner)) {
            throw new InvalidProtocolBufferException("unbalanced group in partial_success");
          }
        }
        in.popLimit(limit);
      } else if (!in.skipField(tag)) {
        throw new InvalidProtocolBufferException("unbalanced group");
      }
    }
  }

  /**
   * An error answer: its status, and the {@code google.rpc.Status} message the specification asks
   * receivers to send (field 2), or failing that a printable excerpt of the body.
   */
  static String describeError(Answer response) {
    byte[] body = response.body();
    String detail = "";
    if (body.length > 0) {
      String type = response.header("Content-Type").orElse("");
      String statusMessage = null;
      if (type.toLowerCase(Locale.ROOT).startsWith("application/x-protobuf")) {
        statusMessage = rpcStatusMessage(body);
      }
      detail = ": " + (statusMessage != null ? printable(statusMessage) : printable(body));
    }
    return "HTTP status " + response.status() + detail;
  }

  /**
   * A receiver's answer with at most {@link #MAX_BODY_BYTES} of its body: a receiver is foreign,
   * and one that answers with gigabytes must not fill the host's memory.
   *
   * @param cut whether the body went on past what was read
   */
  record Answer(int status, java.net.http.HttpHeaders headers, byte[] body, boolean cut) {
    static Answer read(HttpResponse<java.io.InputStream> response) throws IOException {
      try (java.io.InputStream in = response.body()) {
        byte[] head = in.readNBytes(MAX_BODY_BYTES + 1);
        boolean cut = head.length > MAX_BODY_BYTES;
        return new Answer(
            response.statusCode(),
            response.headers(),
            cut ? java.util.Arrays.copyOf(head, MAX_BODY_BYTES) : head,
            cut);
      }
    }

    Optional<String> header(String name) {
      return headers.firstValue(name);
    }

    /** The body's size for a message: "N bytes", or "more than N bytes" when cut. */
    String size() {
      return (cut ? "more than " + MAX_BODY_BYTES : String.valueOf(body.length)) + " bytes";
    }
  }

  private static String rpcStatusMessage(byte[] body) {
    try {
      CodedInputStream in = CodedInputStream.newInstance(body);
      String message = null;
      while (true) {
        int tag = in.readTag();
        if (tag == 0) {
          return message;
        }
        if (tag == tag(2, WireFormat.WIRETYPE_LENGTH_DELIMITED)) {
          message = in.readStringRequireUtf8();
        } else if (!in.skipField(tag)) {
          return message;
        }
      }
    } catch (IOException e) {
      return null;
    }
  }

  private static int tag(int field, int wireType) {
    return field << 3 | wireType;
  }

  /** Foreign bytes as text fit for a terminal line: see {@link #printable(String)}. */
  static String printable(byte[] bytes) {
    int n = Math.min(bytes.length, MAX_FOREIGN_CHARS * 4);
    return printable(new String(bytes, 0, n, StandardCharsets.UTF_8), bytes.length > n);
  }

  /**
   * Foreign text made safe for one terminal line: control characters (escapes, newlines), and
   * anything not printable become {@code ?}, and it is cut to {@value #MAX_FOREIGN_CHARS}
   * characters with {@code …}.
   */
  static String printable(String text) {
    return printable(text, false);
  }

  private static String printable(String text, boolean cut) {
    StringBuilder out = new StringBuilder();
    text.codePoints()
        .limit(MAX_FOREIGN_CHARS + 1L)
        .forEach(
            c -> {
              boolean ok =
                  c >= 0x20
                      && c != 0x7f
                      && !(c >= 0x80 && c < 0xa0)
                      && c != 0xfffd
                      && Character.isDefined(c)
                      && Character.getType(c) != Character.FORMAT
                      && Character.getType(c) != Character.SURROGATE
                      && Character.getType(c) != Character.PRIVATE_USE
                      && c != 0x2028
                      && c != 0x2029;
              out.appendCodePoint(ok ? c : '?');
            });
    String result = out.toString().strip();
    int chars = result.codePointCount(0, result.length());
    if (chars > MAX_FOREIGN_CHARS || cut) {
      int keep = Math.min(MAX_FOREIGN_CHARS, chars);
      result = result.substring(0, result.offsetByCodePoints(0, keep)) + "…";
    }
    return result;
  }

  @Override
  public CompletableResultCode flush() {
    return CompletableResultCode.ofSuccess();
  }

  @Override
  public CompletableResultCode shutdown() {
    client.close();
    return CompletableResultCode.ofSuccess();
  }

  @Override
  public String toString() {
    return "http/protobuf " + endpoint;
  }
}
