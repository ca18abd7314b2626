package dev.guesttrace.otel;

import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.internal.FailedExportException;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.common.export.GrpcResponse;
import io.opentelemetry.sdk.common.export.HttpResponse;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Collects ended spans into batches and hands each full batch to the exporter, with at most {@code
 * maxInFlight} batches outstanding, so memory stays bounded by a few batches whatever the size of
 * the trace. Unlike the SDK's BatchSpanProcessor it never drops a span when the exporter is slow:
 * the walk waits instead, and every span ends up counted as sent or failed.
 *
 * <p>After the first batch the exporter gave up on (its own retries and timeout exhausted), the
 * sink stops sending: a backend that is down would otherwise cost a full retry cycle per batch.
 */
final class BatchingSpanSink implements SpanProcessor {
  private final SpanExporter exporter;
  private final int batchSpans;
  private final int batchEvents;
  private final int maxInFlight;
  private final Duration exportTimeout;
  private final long joinTimeoutNanos;
  private final long spansTotal;
  private final ExportProgressListener progress;

  private List<SpanData> batch;
  private int eventsInBatch;
  private final ArrayDeque<Pending> inFlight = new ArrayDeque<>();
  private long spansSent;
  private long spansFailed;
  private long eventsDropped;
  private String failure;
  private String partialFailure;

  private record Pending(CompletableResultCode result, int spans) {}

  BatchingSpanSink(
      SpanExporter exporter,
      int batchSpans,
      int batchEvents,
      int maxInFlight,
      Duration exportTimeout,
      long spansTotal,
      ExportProgressListener progress) {
    this.exporter = exporter;
    this.batchSpans = batchSpans;
    this.batchEvents = batchEvents;
    this.maxInFlight = maxInFlight;
    this.exportTimeout = exportTimeout;
    // A safety net over the exporter's own timeout, which already covers all retries of a
    // batch: only a stuck exporter ever reaches it.
    this.joinTimeoutNanos = exportTimeout.plusSeconds(5).toNanos();
    this.spansTotal = spansTotal;
    this.progress = progress;
    this.batch = new ArrayList<>(batchSpans);
  }

  @Override
  public void onStart(Context parentContext, ReadWriteSpan span) {}

  @Override
  public boolean isStartRequired() {
    return false;
  }

  @Override
  public void onEnd(ReadableSpan span) {
    SpanData data = span.toSpanData();
    int events = data.getEvents().size();
    eventsDropped += data.getTotalRecordedEvents() - events;
    batch.add(data);
    eventsInBatch += events;
    if (batch.size() >= batchSpans || eventsInBatch >= batchEvents) {
      sendBatch();
    }
  }

  @Override
  public boolean isEndRequired() {
    return true;
  }

  /** Whether a batch has failed: the walk may stop, the rest counts as failed. */
  boolean stopped() {
    return failure != null;
  }

  /** Sends what is left and waits for every outstanding batch. */
  void finish() {
    if (!batch.isEmpty()) {
      sendBatch();
    }
    while (!inFlight.isEmpty()) {
      awaitOldest();
    }
  }

  long spansSent() {
    return spansSent;
  }

  long eventsDropped() {
    return eventsDropped;
  }

  /** Why spans failed: the batch that stopped the export, else a receiver's partial rejection. */
  String failure() {
    return failure != null ? failure : partialFailure;
  }

  private void sendBatch() {
    List<SpanData> full = batch;
    batch = new ArrayList<>(batchSpans);
    eventsInBatch = 0;
    while (!inFlight.isEmpty() && inFlight.peek().result().isDone()) {
      awaitOldest();
    }
    while (inFlight.size() >= maxInFlight) {
      awaitOldest();
    }
    if (stopped()) {
      spansFailed += full.size();
      return;
    }
    CompletableResultCode result;
    try {
      result = exporter.export(full);
    } catch (RuntimeException e) {
      // A custom exporter may throw; OTLP exporters report through the result instead.
      result = CompletableResultCode.ofExceptionalFailure(e);
    }
    inFlight.add(new Pending(result, full.size()));
  }

  private void awaitOldest() {
    Pending pending = inFlight.poll();
    CompletableResultCode result = pending.result().join(joinTimeoutNanos, TimeUnit.NANOSECONDS);
    if (result.isDone() && result.isSuccess()) {
      spansSent += pending.spans();
    } else if (result.isDone()
        && result.getFailureThrowable() instanceof OtlpHttpSender.PartialSuccessException partial) {
      // The receiver took the rest: go on, but the export is not a success.
      long rejected = Math.min(partial.rejectedSpans(), pending.spans());
      spansSent += pending.spans() - rejected;
      spansFailed += rejected;
      if (partialFailure == null) {
        partialFailure = partial.getMessage();
      }
    } else {
      spansFailed += pending.spans();
      if (failure == null) {
        failure = describe(result);
      }
    }
    progress.onProgress(spansSent + spansFailed, spansTotal);
  }

  /** One line: the innermost cause says most (connection refused, deadline exceeded, ...). */
  String describe(CompletableResultCode result) {
    if (!result.isDone()) {
      return "no answer within the timeout (" + describeTimeout() + ")";
    }
    Throwable error = result.getFailureThrowable();
    if (error == null) {
      return "the exporter reported a failure";
    }
    // The OTLP exporters' failure type is internal API, pinned with the OpenTelemetry version.
    if (error instanceof FailedExportException.HttpExportException http
        && http.failedWithResponse()) {
      HttpResponse response = http.getResponse();
      String message = response.getStatusMessage();
      return "HTTP status "
          + response.getStatusCode()
          + (message == null || message.isBlank() ? "" : " " + OtlpHttpSender.printable(message));
    }
    if (error instanceof FailedExportException.GrpcExportException grpc
        && grpc.failedWithResponse()) {
      GrpcResponse response = grpc.getResponse();
      String description = response.getStatusDescription();
      return "gRPC status "
          + response.getStatusCode()
          + (description == null || description.isBlank()
              ? ""
              : ": " + OtlpHttpSender.printable(firstLine(description)));
    }
    // Below the exporter's wrapper, the transport's own exception says it best: "Failed to
    // connect to ...", "timeout", "Connection reset".
    Throwable cause =
        error instanceof FailedExportException && error.getCause() != null
            ? error.getCause()
            : error;
    if (cause instanceof OtlpHttpSender.ExportFailedException failed) {
      // Made printable and short where the receiver's bytes went in.
      return failed.getMessage();
    }
    if (cause instanceof InterruptedIOException) {
      return "no answer within the timeout (" + describeTimeout() + ")";
    }
    String message = cause.getMessage();
    // Exception messages may carry a receiver's bytes (a status line, a TLS alert): printable only.
    return message == null || message.isBlank()
        ? cause.getClass().getSimpleName()
        : OtlpHttpSender.printable(firstLine(message));
  }

  private String describeTimeout() {
    return exportTimeout.toMillis() + " ms";
  }

  private static String firstLine(String text) {
    String line = text.strip();
    int newline = line.indexOf('\n');
    return newline < 0 ? line : line.substring(0, newline).strip();
  }
}
