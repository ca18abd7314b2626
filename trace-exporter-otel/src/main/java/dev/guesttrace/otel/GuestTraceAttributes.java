package dev.guesttrace.otel;

import io.opentelemetry.api.common.AttributeKey;

/** Attribute keys the exporter writes; docs/otlp.md says what each means. */
final class GuestTraceAttributes {
  private GuestTraceAttributes() {}

  // Resource: standard semantic conventions.
  static final AttributeKey<String> SERVICE_NAME = AttributeKey.stringKey("service.name");
  static final AttributeKey<String> HOST_NAME = AttributeKey.stringKey("host.name");
  static final AttributeKey<String> HOST_ARCH = AttributeKey.stringKey("host.arch");
  static final AttributeKey<String> OS_TYPE = AttributeKey.stringKey("os.type");
  static final AttributeKey<String> OS_DESCRIPTION = AttributeKey.stringKey("os.description");

  // Resource: what only guesttrace knows.
  static final AttributeKey<String> CPU_MODEL = AttributeKey.stringKey("guesttrace.cpu.model");
  static final AttributeKey<String> BACKEND = AttributeKey.stringKey("guesttrace.backend");
  static final AttributeKey<String> HOST_JVM = AttributeKey.stringKey("guesttrace.host.jvm");
  static final AttributeKey<Long> VCPU_COUNT = AttributeKey.longKey("guesttrace.vcpu.count");
  static final AttributeKey<Double> TSC_TICKS_PER_SECOND =
      AttributeKey.doubleKey("guesttrace.tsc.ticks_per_second");
  static final AttributeKey<Double> TSC_ERROR_PPM =
      AttributeKey.doubleKey("guesttrace.tsc.error_ppm");
  static final AttributeKey<Long> TSC_WORST_RESIDUAL_NS =
      AttributeKey.longKey("guesttrace.tsc.worst_residual_ns");
  static final AttributeKey<Boolean> TSC_INVARIANT =
      AttributeKey.booleanKey("guesttrace.tsc.invariant");
  static final AttributeKey<String> RUN_OUTCOME = AttributeKey.stringKey("guesttrace.run.outcome");

  // Spans.
  static final AttributeKey<String> SPAN_KIND = AttributeKey.stringKey("guesttrace.span.kind");
  static final AttributeKey<Long> VCPU = AttributeKey.longKey("guesttrace.vcpu");
  static final AttributeKey<Long> ARG0 = AttributeKey.longKey("guesttrace.arg0");
  static final AttributeKey<Long> ARG1 = AttributeKey.longKey("guesttrace.arg1");
  static final AttributeKey<Long> DURATION_NS = AttributeKey.longKey("guesttrace.duration_ns");
  static final AttributeKey<Boolean> UNCLOSED = AttributeKey.booleanKey("guesttrace.unclosed");

  // Shaping: what was cut below a span, and how the run's traces link up.
  static final AttributeKey<Long> CUT_SPANS = AttributeKey.longKey("guesttrace.cut.spans");
  static final AttributeKey<Long> CUT_DURATION_NS =
      AttributeKey.longKey("guesttrace.cut.duration_ns");
  static final AttributeKey<Long> CUT_EVENTS = AttributeKey.longKey("guesttrace.cut.events");
  static final AttributeKey<String> CUT_HEAVIEST =
      AttributeKey.stringKey("guesttrace.cut.heaviest");
  static final AttributeKey<String> CALL_TRACE_ID =
      AttributeKey.stringKey("guesttrace.call.trace_id");
  static final AttributeKey<String> RUN_TRACE_ID =
      AttributeKey.stringKey("guesttrace.run.trace_id");

  // Span events.
  static final String EVENT_MESSAGE = "message";
  static final String EVENT_ALLOC = "alloc";
  static final String EVENT_FREE = "free";
  static final String EVENT_COUNTER = "counter";
  static final AttributeKey<String> MESSAGE = AttributeKey.stringKey("guesttrace.message");
  static final AttributeKey<String> MEMORY_ADDRESS =
      AttributeKey.stringKey("guesttrace.memory.address");
  static final AttributeKey<Long> MEMORY_SIZE_BYTES =
      AttributeKey.longKey("guesttrace.memory.size_bytes");
  static final AttributeKey<String> COUNTER_NAME =
      AttributeKey.stringKey("guesttrace.counter.name");
  static final AttributeKey<Long> COUNTER_VALUE = AttributeKey.longKey("guesttrace.counter.value");
}
