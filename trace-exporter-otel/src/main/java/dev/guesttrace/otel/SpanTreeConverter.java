package dev.guesttrace.otel;

import static dev.guesttrace.otel.GuestTraceAttributes.ARG0;
import static dev.guesttrace.otel.GuestTraceAttributes.ARG1;
import static dev.guesttrace.otel.GuestTraceAttributes.CALL_TRACE_ID;
import static dev.guesttrace.otel.GuestTraceAttributes.COUNTER_NAME;
import static dev.guesttrace.otel.GuestTraceAttributes.COUNTER_VALUE;
import static dev.guesttrace.otel.GuestTraceAttributes.CUT_DURATION_NS;
import static dev.guesttrace.otel.GuestTraceAttributes.CUT_EVENTS;
import static dev.guesttrace.otel.GuestTraceAttributes.CUT_HEAVIEST;
import static dev.guesttrace.otel.GuestTraceAttributes.CUT_SPANS;
import static dev.guesttrace.otel.GuestTraceAttributes.DURATION_NS;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_ALLOC;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_COUNTER;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_FREE;
import static dev.guesttrace.otel.GuestTraceAttributes.EVENT_MESSAGE;
import static dev.guesttrace.otel.GuestTraceAttributes.MEMORY_ADDRESS;
import static dev.guesttrace.otel.GuestTraceAttributes.MEMORY_SIZE_BYTES;
import static dev.guesttrace.otel.GuestTraceAttributes.MESSAGE;
import static dev.guesttrace.otel.GuestTraceAttributes.RUN_OUTCOME;
import static dev.guesttrace.otel.GuestTraceAttributes.RUN_TRACE_ID;
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
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
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
 * current path are open at any time: memory is bounded by the tree's depth plus the sink's batches
 * (plus, with a span budget, the set of spans one trace sends).
 *
 * <p>Shape of the trace: one trace per run under a synthetic root span {@code run <guest>} that
 * spans all vCPUs; below it each vCPU's roots (normally its host run span), then guest calls, guest
 * spans and host calls as the tree nests them. One root reads best in Jaeger and Tempo: they title
 * a trace by its root span and flag traces with several roots as incomplete. In {@link
 * TraceMode#PER_CALL} mode each guest call's subtree is a trace of its own, linked both ways to the
 * call's leaf span in the run's trace. Spans a trace does not send ({@link SpanSelection}) are
 * summarized on their nearest sent ancestor ({@link CutSummary}).
 */
final class SpanTreeConverter {
  /** Name prefix of the synthetic root span. */
  static final String RUN_SPAN_PREFIX = "run ";

  /** Call trace ids kept for the result; the rest are counted. */
  static final int MAX_CALL_TRACE_IDS = 1_000;

  private static final Attributes[] KIND_ATTRIBUTES = new Attributes[SpanKind.values().length];

  static {
    for (SpanKind kind : SpanKind.values()) {
      KIND_ATTRIBUTES[kind.ordinal()] = Attributes.of(SPAN_KIND, kindName(kind));
    }
  }

  /**
   * How a run becomes traces.
   *
   * @param mode one trace per run or per guest call
   * @param maxSpans most spans per trace, 0 for no limit
   * @param maxBytes most estimated OTLP bytes per trace, 0 for no limit
   * @param minDurationNanos spans shorter than this are summarized instead of sent
   */
  record Shape(TraceMode mode, long maxSpans, long maxBytes, long minDurationNanos) {
    /** Everything, one trace: as before shaping existed. */
    static final Shape EVERYTHING = new Shape(TraceMode.PER_RUN, 0, 0, 0);
  }

  /** What an emission did besides sending spans. */
  static final class Stats {
    long traces;
    long spansCut;
    long eventsCut;
    long parentsWithCuts;
    long zeroMicrosecondSpans;
    final List<String> callTraceIds = new ArrayList<>();
  }

  private final Tracer tracer;
  private final long epoch;
  private final boolean microsecondSpans;
  private final BooleanSupplier stop;
  private final Shape shape;
  private final Stats stats;
  private String runTraceId;

  private SpanTreeConverter(
      Tracer tracer,
      long epoch,
      boolean microsecondSpans,
      BooleanSupplier stop,
      Shape shape,
      Stats stats) {
    this.tracer = tracer;
    this.epoch = epoch;
    this.microsecondSpans = microsecondSpans;
    this.stop = stop;
    this.shape = shape;
    this.stats = stats;
  }

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
    return countSpans(tree, Shape.EVERYTHING);
  }

  /** Spans a conversion with this shape sends, over all its traces. */
  static long countSpans(TraceTree tree, Shape shape) {
    List<SpanNode> tops = topLevel(tree);
    boolean synthetic = tops.size() != 1;
    boolean perCall = shape.mode() == TraceMode.PER_CALL;
    long count = (synthetic ? 1 : 0) + runSelection(tops, synthetic, perCall, shape).count();
    if (perCall) {
      for (SpanNode call : guestCalls(tops)) {
        count += callSelection(call, shape).count();
      }
    }
    return count;
  }

  private static SpanSelection runSelection(
      List<SpanNode> tops, boolean synthetic, boolean perCall, Shape shape) {
    long maxSpans = shape.maxSpans() == 0 ? 0 : Math.max(1, shape.maxSpans() - (synthetic ? 1 : 0));
    return SpanSelection.select(
        tops, perCall, maxSpans, shape.maxBytes(), shape.minDurationNanos());
  }

  private static SpanSelection callSelection(SpanNode call, Shape shape) {
    return SpanSelection.select(
        List.of(call), false, shape.maxSpans(), shape.maxBytes(), shape.minDurationNanos());
  }

  /** Every guest call not inside another guest call, in tree order. */
  static List<SpanNode> guestCalls(List<SpanNode> tops) {
    List<SpanNode> calls = new ArrayList<>();
    ArrayList<SpanNode> stack = new ArrayList<>(tops.reversed());
    while (!stack.isEmpty()) {
      SpanNode node = stack.removeLast();
      if (node.kind() == SpanKind.HOST_GUEST_CALL) {
        calls.add(node);
        continue;
      }
      stack.addAll(node.children().reversed());
    }
    return calls;
  }

  /** Name of the synthetic root: {@code run multi-vcpu (4 vCPUs)}. */
  static String runSpanName(RunSummary run) {
    int n = run.vcpuCount();
    return RUN_SPAN_PREFIX + run.guest() + " (" + n + (n == 1 ? " vCPU)" : " vCPUs)");
  }

  /** Emits the whole tree as one trace, every span sent. */
  static Span emit(TraceTree tree, Tracer tracer, boolean microsecondSpans, BooleanSupplier stop) {
    return emit(tree, tracer, microsecondSpans, stop, Shape.EVERYTHING, new Stats());
  }

  /**
   * Emits the tree's spans through the tracer.
   *
   * @param stop checked between spans: when it says true, the walk ends early
   * @param shape how the run becomes traces
   * @param stats filled with what was cut and which traces were made
   * @return the root span of the run's trace (its context holds the trace id)
   */
  static Span emit(
      TraceTree tree,
      Tracer tracer,
      boolean microsecondSpans,
      BooleanSupplier stop,
      Shape shape,
      Stats stats) {
    RunSummary run = tree.summary();
    SpanTreeConverter converter =
        new SpanTreeConverter(tracer, run.startEpochNanos(), microsecondSpans, stop, shape, stats);
    return converter.emitRun(tree);
  }

  private Span emitRun(TraceTree tree) {
    RunSummary run = tree.summary();
    List<SpanNode> tops = topLevel(tree);
    boolean perCall = shape.mode() == TraceMode.PER_CALL;
    SpanSelection selection = runSelection(tops, tops.size() != 1, perCall, shape);
    stats.traces++;
    if (tops.size() == 1) {
      // One vCPU, one host run span: it is the run, and the trace's root.
      SpanNode only = tops.getFirst();
      Span root = start(only, Context.root(), null);
      runTraceId = root.getSpanContext().getTraceId();
      describeRun(root, run);
      walk(only, root, selection);
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
    runTraceId = rootSpan.getSpanContext().getTraceId();
    markStretched(rootSpan, epoch + start, epoch + end);
    describeRun(rootSpan, run);
    Context rootContext = Context.root().with(rootSpan);
    for (SpanNode top : tops) {
      Span span = start(top, rootContext, null);
      if (!walk(top, span, selection)) {
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
   * (guest trees can be deep), ending each span once its children are done. Children the selection
   * does not send are summarized on their parent. A leaf of the selection (per-call mode: a guest
   * call in the run's trace) gets its own trace, emitted before the leaf ends.
   *
   * @return false if {@code stop} ended the walk early
   */
  private boolean walk(SpanNode node, Span span, SpanSelection selection) {
    ArrayDeque<Frame> stack = new ArrayDeque<>();
    stack.push(new Frame(node, span));
    while (!stack.isEmpty()) {
      if (stop.getAsBoolean()) {
        return false;
      }
      Frame frame = stack.peek();
      if (selection.isLeaf(frame.node)) {
        if (!emitCallTrace(frame.node, frame.span, true)) {
          return false;
        }
        endFrame(frame);
        stack.pop();
        continue;
      }
      List<SpanNode> children = frame.node.children();
      if (frame.nextChild < children.size()) {
        SpanNode child = children.get(frame.nextChild++);
        if (selection.sends(child)) {
          stack.push(new Frame(child, start(child, frame.context(), null)));
        } else {
          if (frame.cut == null) {
            frame.cut = new CutSummary();
          }
          frame.cut.add(child, selection, call -> emitCallTrace(call, frame.span, false));
        }
      } else {
        endFrame(frame);
        stack.pop();
      }
    }
    return true;
  }

  private void endFrame(Frame frame) {
    CutSummary cut = frame.cut;
    if (cut != null && !cut.isEmpty()) {
      frame.span.setAttribute(CUT_SPANS, cut.spans());
      frame.span.setAttribute(CUT_DURATION_NS, cut.durationNanos());
      if (cut.events() > 0) {
        frame.span.setAttribute(CUT_EVENTS, cut.events());
      }
      frame.span.setAttribute(CUT_HEAVIEST, cut.heaviest());
      stats.spansCut += cut.spans();
      stats.eventsCut += cut.events();
      stats.parentsWithCuts++;
    }
    frame.span.end(
        endEpochNanos(
            epoch + frame.node.startNanos(), epoch + frame.node.endNanos(), microsecondSpans),
        TimeUnit.NANOSECONDS);
  }

  /**
   * Emits a guest call's subtree as a trace of its own, its root linked to {@code from} (the call's
   * leaf in the run's trace, or the nearest sent span above a call the run's trace cut).
   *
   * @param isLeaf whether {@code from} is the call's own leaf span: it then links back and names
   *     the call's trace id
   */
  private boolean emitCallTrace(SpanNode call, Span from, boolean isLeaf) {
    Span root = start(call, null, from.getSpanContext());
    root.setAttribute(RUN_TRACE_ID, runTraceId);
    String traceId = root.getSpanContext().getTraceId();
    stats.traces++;
    if (stats.callTraceIds.size() < MAX_CALL_TRACE_IDS) {
      stats.callTraceIds.add(traceId);
    }
    if (isLeaf) {
      from.addLink(root.getSpanContext());
      from.setAttribute(CALL_TRACE_ID, traceId);
    }
    return walk(call, root, callSelection(call, shape));
  }

  private static final class Frame {
    final SpanNode node;
    final Span span;
    int nextChild;
    CutSummary cut;
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

  private void markStretched(Span span, long startEpochNanos, long endEpochNanos) {
    if (needsStretch(startEpochNanos, endEpochNanos)) {
      if (microsecondSpans) {
        span.setAttribute(DURATION_NS, endEpochNanos - startEpochNanos);
      } else {
        stats.zeroMicrosecondSpans++;
      }
    }
  }

  /**
   * Starts a span for {@code node}: a child of {@code parent}, or, with {@code parent} null, the
   * root of a new trace linked to {@code link}.
   */
  private Span start(SpanNode node, Context parent, SpanContext link) {
    SpanKind kind = node.kind();
    SpanBuilder builder =
        tracer
            .spanBuilder(node.name())
            .setSpanKind(otelKind(kind))
            .setStartTimestamp(epoch + node.startNanos(), TimeUnit.NANOSECONDS)
            .setAllAttributes(KIND_ATTRIBUTES[kind.ordinal()])
            .setAttribute(VCPU, (long) node.vcpu());
    if (parent != null) {
      builder.setParent(parent);
    } else {
      builder.setNoParent();
      if (link != null) {
        builder.addLink(link);
      }
    }
    Span span = builder.startSpan();
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
    markStretched(span, epoch + node.startNanos(), epoch + node.endNanos());
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
