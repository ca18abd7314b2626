package dev.guesttrace.otel;

import static dev.guesttrace.otel.GuestTraceAttributes.ARG0;
import static dev.guesttrace.otel.GuestTraceAttributes.ARG1;
import static dev.guesttrace.otel.GuestTraceAttributes.COUNTER_NAME;
import static dev.guesttrace.otel.GuestTraceAttributes.COUNTER_VALUE;
import static dev.guesttrace.otel.GuestTraceAttributes.DURATION_NS;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_ALLOC;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_COUNTER;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_FREE;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_MESSAGE;
import static dev.guesttrace.otel.GuestTraceAttributes.MEMORY_ADDRESS;
import static dev.guesttrace.otel.GuestTraceAttributes.MEMORY_SIZE_BYTES;
import static dev.guesttrace.otel.GuestTraceAttributes.MESSAGE;
import static dev.guesttrace.otel.GuestTraceAttributes.RUN_OUTCOME;
import static dev.guesttrace.otel.GuestTraceAttributes.SPAN_KIND;
import static dev.guesttrace.otel.GuestTraceAttributes.UNCLOSED;
import static dev.guesttrace.otel.GuestTraceAttributes.VCPU;
import static dev.guesttrace.otel.GuestTraceAttributes.VCPU_COUNT;

import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Walks a span tree depth first and replays it as SDK spans with explicit timestamps. Spans end
 * (and so reach the batching sink) as soon as their subtree is done, so only the spans on the
 * current path are open at any time: memory is bounded by the tree's depth plus the sink's batches.
 *
 * <p>Shape of the trace: one trace per run under a synthetic root span {@code run <guest>} that
 * spans all vCPUs; below it each vCPU's roots (normally its host run span), then guest calls, guest
 * spans and host calls as the tree nests them. One root reads best in Jaeger and Tempo: they title
 * a trace by its root span and flag traces with several roots as incomplete.
 */
final class SpanTreeConverter {
  /** Name prefix of the synthetic root span. */
  static final String RUN_SPAN_PREFIX = "run ";

  private static final Attributes[] KIND_ATTRIBUTES = new Attributes[SpanKind.values().length];

  static {
    for (SpanKind kind : SpanKind.values()) {
      KIND_ATTRIBUTES[kind.ordinal()] = Attributes.of(SPAN_KIND, kindName(kind));
    }
  }

  private SpanTreeConverter() {}

  /** The top-level spans of every vCPU, in vCPU order. */
  static List<SpanNode> topLevel(TraceTree tree) {
    List<SpanNode> tops = new ArrayList<>();
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      tops.addAll(vcpu.roots());
    }
    return tops;
  }

  /** Spans a conversion produces: every node of every vCPU, plus the synthetic root if any. */
  static long countSpans(TraceTree tree) {
    List<SpanNode> tops = topLevel(tree);
    long count = tops.size() == 1 ? 0 : 1;
    ArrayDeque<SpanNode> stack = new ArrayDeque<>(tops);
    while (!stack.isEmpty()) {
      SpanNode node = stack.pop();
      count++;
      for (SpanNode child : node.children()) {
        stack.push(child);
      }
    }
    return count;
  }

  /** Name of the synthetic root: {@code run multi-vcpu (4 vCPUs)}. */
  static String runSpanName(RunSummary run) {
    int n = run.vcpuCount();
    return RUN_SPAN_PREFIX + run.guest() + " (" + n + (n == 1 ? " vCPU)" : " vCPUs)");
  }

  /**
   * Emits the tree's spans through the tracer.
   *
   * @param stop checked between spans: when it says true, the walk ends early
   * @return the root span (its context holds the trace id)
   */
  static Span emit(TraceTree tree, Tracer tracer, boolean microsecondSpans, BooleanSupplier stop) {
    RunSummary run = tree.summary();
    long epoch = run.startEpochNanos();
    List<SpanNode> tops = topLevel(tree);
    if (tops.size() == 1) {
      // One vCPU, one host run span: it is the run, and the trace's root.
      SpanNode only = tops.getFirst();
      Span root = start(only, Context.root(), tracer, epoch, microsecondSpans);
      describeRun(root, run);
      walk(only, root, tracer, epoch, microsecondSpans, stop);
      return root;
    }
    long start = Long.MAX_VALUE;
    long end = Long.MIN_VALUE;
    for (SpanNode top : tops) {
      start = Math.min(start, top.startNanos());
      end = Math.max(end, top.endNanos());
    }
    if (start > end) {
      start = 0;
      end = 0;
    }
    Span rootSpan =
        tracer
            .spanBuilder(runSpanName(run))
            .setNoParent()
            .setSpanKind(io.opentelemetry.api.trace.SpanKind.INTERNAL)
            .setStartTimestamp(epoch + start, TimeUnit.NANOSECONDS)
            .setAttribute(SPAN_KIND, "run")
            .startSpan();
    markStretched(rootSpan, epoch + start, epoch + end, microsecondSpans);
    describeRun(rootSpan, run);
    Context rootContext = Context.root().with(rootSpan);
    for (SpanNode top : tops) {
      Span span = start(top, rootContext, tracer, epoch, microsecondSpans);
      if (!walk(top, span, tracer, epoch, microsecondSpans, stop)) {
        return rootSpan;
      }
    }
    rootSpan.end(endEpochNanos(epoch + start, epoch + end, microsecondSpans), TimeUnit.NANOSECONDS);
    return rootSpan;
  }

  /** The run's own attributes, on the trace's root span. */
  private static void describeRun(Span root, RunSummary run) {
    root.setAttribute(VCPU_COUNT, (long) run.vcpuCount());
    String outcome = run.outcome();
    if (outcome != null && !outcome.isBlank()) {
      root.setAttribute(RUN_OUTCOME, outcome);
      if (!outcome.startsWith("halted")) {
        // Aborts, faults and timeouts show in red in Jaeger and Tempo.
        root.setStatus(StatusCode.ERROR, outcome);
      }
    }
  }

  /**
   * Emits {@code node}'s subtree below its already started span, depth first without recursion
   * (guest trees can be deep), ending each span once its children are done.
   *
   * @return false if {@code stop} ended the walk early
   */
  private static boolean walk(
      SpanNode node,
      Span span,
      Tracer tracer,
      long epoch,
      boolean microsecondSpans,
      BooleanSupplier stop) {
    ArrayDeque<Frame> stack = new ArrayDeque<>();
    stack.push(new Frame(node, span));
    while (!stack.isEmpty()) {
      if (stop.getAsBoolean()) {
        return false;
      }
      Frame frame = stack.peek();
      List<SpanNode> children = frame.node.children();
      if (frame.nextChild < children.size()) {
        SpanNode child = children.get(frame.nextChild++);
        stack.push(
            new Frame(child, start(child, frame.context(), tracer, epoch, microsecondSpans)));
      } else {
        frame.span.end(
            endEpochNanos(
                epoch + frame.node.startNanos(), epoch + frame.node.endNanos(), microsecondSpans),
            TimeUnit.NANOSECONDS);
        stack.pop();
      }
    }
    return true;
  }

  private static final class Frame {
    final SpanNode node;
    final Span span;
    int nextChild;
    private Context context;

    Frame(SpanNode node, Span span) {
      this.node = node;
      this.span = span;
    }

    /** Created on first use: leaves, most spans of a tree, never need one. */
    Context context() {
      if (context == null) {
        context = Context.root().with(span);
      }
      return context;
    }
  }

  /**
   * The end to send. With {@code microsecondSpans}, a span that starts and ends within the same
   * microsecond of the epoch ends at the next microsecond instead: backends that store microseconds
   * (Zipkin-based ones; SkyWalking 10.1 rejects the whole request) otherwise see a zero duration.
   * The end moves by less than 1 µs; the true duration is kept in an attribute.
   */
  static long endEpochNanos(long startEpochNanos, long endEpochNanos, boolean microsecondSpans) {
    if (endEpochNanos < startEpochNanos) {
      // The tree builder repairs spans that end before they start; should one get through, a
      // negative duration is worse for every backend (SkyWalking drops the request) than none.
      endEpochNanos = startEpochNanos;
    }
    if (microsecondSpans && needsStretch(startEpochNanos, endEpochNanos)) {
      return (Math.floorDiv(startEpochNanos, 1_000) + 1) * 1_000;
    }
    return endEpochNanos;
  }

  private static boolean needsStretch(long startEpochNanos, long endEpochNanos) {
    return Math.floorDiv(endEpochNanos, 1_000) <= Math.floorDiv(startEpochNanos, 1_000);
  }

  private static void markStretched(
      Span span, long startEpochNanos, long endEpochNanos, boolean microsecondSpans) {
    if (microsecondSpans && needsStretch(startEpochNanos, endEpochNanos)) {
      span.setAttribute(DURATION_NS, endEpochNanos - startEpochNanos);
    }
  }

  private static Span start(
      SpanNode node, Context parent, Tracer tracer, long epoch, boolean microsecondSpans) {
    SpanKind kind = node.kind();
    Span span =
        tracer
            .spanBuilder(node.name())
            .setParent(parent)
            .setSpanKind(otelKind(kind))
            .setStartTimestamp(epoch + node.startNanos(), TimeUnit.NANOSECONDS)
            .setAllAttributes(KIND_ATTRIBUTES[kind.ordinal()])
            .setAttribute(VCPU, (long) node.vcpu())
            .startSpan();
    // The ABI has no "no argument": 0 is what a guest passes when it has nothing to say, so
    // leaving zeros out loses nothing and saves two attributes on most spans.
    if (node.arg0() != 0) {
      span.setAttribute(ARG0, node.arg0());
    }
    if (node.arg1() != 0) {
      span.setAttribute(ARG1, node.arg1());
    }
    if (node.unclosed()) {
      span.setAttribute(UNCLOSED, true);
    }
    markStretched(span, epoch + node.startNanos(), epoch + node.endNanos(), microsecondSpans);
    for (SpanEvent event : node.events()) {
      span.addEvent(
          eventName(event.kind()),
          eventAttributes(event),
          epoch + event.timeNanos(),
          TimeUnit.NANOSECONDS);
    }
    return span;
  }

  /**
   * The host calls into the guest (CLIENT of the guest) and serves the guest's host calls (SERVER
   * for the guest); everything else is internal work.
   */
  static io.opentelemetry.api.trace.SpanKind otelKind(SpanKind kind) {
    return switch (kind) {
      case HOST_GUEST_CALL -> io.opentelemetry.api.trace.SpanKind.CLIENT;
      case HOST_CALL -> io.opentelemetry.api.trace.SpanKind.SERVER;
      case GUEST, HOST_RUN, HOST_EXIT -> io.opentelemetry.api.trace.SpanKind.INTERNAL;
    };
  }

  static String kindName(SpanKind kind) {
    return switch (kind) {
      case GUEST -> "guest";
      case HOST_RUN -> "host_run";
      case HOST_GUEST_CALL -> "host_guest_call";
      case HOST_CALL -> "host_call";
      case HOST_EXIT -> "host_exit";
    };
  }

  static String eventName(SpanEvent.Kind kind) {
    return switch (kind) {
      case MESSAGE -> EVENT_MESSAGE;
      case ALLOC -> EVENT_ALLOC;
      case FREE -> EVENT_FREE;
      case COUNTER -> EVENT_COUNTER;
    };
  }

  static Attributes eventAttributes(SpanEvent event) {
    return switch (event.kind()) {
      case MESSAGE -> Attributes.of(MESSAGE, event.text());
      case ALLOC, FREE ->
          Attributes.of(
              MEMORY_ADDRESS,
              "0x" + Long.toHexString(event.address()),
              MEMORY_SIZE_BYTES,
              event.value());
      case COUNTER -> Attributes.of(COUNTER_NAME, event.text(), COUNTER_VALUE, event.value());
    };
  }
}
