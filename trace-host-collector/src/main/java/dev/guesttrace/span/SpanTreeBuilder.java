package dev.guesttrace.span;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.clock.TscCalibration;
import dev.guesttrace.clock.TscClock;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.Diagnostics;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.collect.VcpuRecords;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Builds the span trees of a run from its {@link TraceData}: calibrates each vCPU's TSC, turns
 * guest ticks into nanoseconds since the run started, pairs span begins and ends per vCPU, hangs
 * messages, allocations and counter samples on the innermost open span, and merges the host's spans
 * by time on the same clock: the run span at the root, each guest call around the guest spans of
 * its dispatch, each host-function call inside the guest span that made it.
 *
 * <p>Unbalanced input is repaired and counted, never fatal: an end with nothing open is dropped
 * ({@link Diagnostics#SPAN_END_WITHOUT_BEGIN}); an end naming a span further out closes the spans
 * inside it as unclosed, an end naming no open span ends the innermost ({@link
 * Diagnostics#SPAN_END_MISMATCH}); spans never ended are closed where their guest call (else the
 * run) ended, and marked {@link SpanNode#unclosed()} ({@link Diagnostics#SPAN_UNCLOSED}).
 */
public final class SpanTreeBuilder {
  private SpanTreeBuilder() {}

  /** The trees of {@code data}. */
  public static TraceTree build(TraceData data) {
    return buildWithDetails(data).tree();
  }

  /** The calibration a tree of {@code data} uses. */
  public static TscCalibration calibrate(TraceData data) {
    TraceHeader h = data.header();
    return TscCalibration.fit(data.calibrationPairs(), h.invariantTsc(), h.kvmTscKhz());
  }

  /** The trees of {@code data}, with the calibration used and the repairs made. */
  public static Result buildWithDetails(TraceData data) {
    Objects.requireNonNull(data, "data");
    return new Run(data).build();
  }

  /**
   * A build's output.
   *
   * @param tree the span trees
   * @param calibration the TSC calibration the times come from
   * @param diagnostics repairs of unbalanced input and calibration trouble, by kind
   */
  public record Result(TraceTree tree, TscCalibration calibration, List<Diagnostic> diagnostics) {
    /** Copies the list. */
    public Result {
      diagnostics = List.copyOf(diagnostics);
    }
  }

  /** One build. */
  private static final class Run {
    final TraceData data;
    final TraceHeader header;
    final long start;
    final Diagnostics diagnostics = new Diagnostics();
    TscCalibration calibration;

    Run(TraceData data) {
      this.data = data;
      this.header = data.header();
      this.start = header.startMonotonicNanos();
    }

    Result build() {
      calibration = calibrate(data);
      if (calibration.jumpCount() > 0) {
        diagnostics.count(
            Diagnostics.TSC_JUMP,
            -1,
            calibration.jumpCount(),
            "calibration pairs far off the fit (guest TSC jumped): "
                + calibration.jumpCount()
                + " set aside");
      }
      long runEnd = runEnd();
      List<TraceTree.VcpuTree> trees = new ArrayList<>();
      for (int v = 0; v < data.vcpuCount(); v++) {
        trees.add(vcpuTree(v, runEnd));
      }
      RunSummary summary =
          new RunSummary(
              header.guest(),
              header.backend(),
              header.vcpuCount(),
              header.hostName(),
              header.cpuModel(),
              header.os(),
              header.arch(),
              header.jvm(),
              header.invariantTsc(),
              header.startEpochNanos(),
              calibration.ticksPerSecond(),
              calibration.ppmError(),
              calibration.worstResidualNanos(),
              data.outcome());
      return new Result(new TraceTree(summary, trees), calibration, diagnostics.snapshot());
    }

    /** The run's end, ns since its start: the recorded end, else the last thing seen. */
    private long runEnd() {
      if (data.end().isPresent()) {
        return data.end().get().endMonotonicNanos() - start;
      }
      long end = 0;
      for (HostSpan h : data.hostSpans()) {
        end = Math.max(end, h.endHostNanos() - start);
      }
      for (int v = 0; v < data.vcpuCount(); v++) {
        VcpuRecords r = data.records(v);
        if (r.size() > 0) {
          TscClock clock = clock(v, r);
          end = Math.max(end, clock.toHostNanos(r.tscTicks(r.size() - 1)) - start);
        }
      }
      return end;
    }

    private TscClock clock(int vcpu, VcpuRecords records) {
      return calibration
          .clock(vcpu)
          .orElseGet(
              () ->
                  // No pair at all: place the first record at the run's start, at the assumed rate.
                  new TscClock(
                      records.size() > 0 ? records.tscTicks(0) : 0,
                      start,
                      calibration.ticksPerSecond()));
    }

    private TraceTree.VcpuTree vcpuTree(int vcpu, long runEnd) {
      VcpuRecords r = data.records(vcpu);
      TscClock clock = clock(vcpu, r);
      List<Node> roots = new ArrayList<>();
      List<Node> stack = new ArrayList<>();
      List<SpanEvent> loose = new ArrayList<>();
      // Work done during one exit (host calls, trace exits) knows where it happened among the
      // vCPU's records: it nests exactly there, inside the guest span open at that record.
      List<HostSpan> positioned = new ArrayList<>();
      for (HostSpan h : data.hostSpans()) {
        if (h.vcpu() == vcpu && isPositioned(h)) {
          positioned.add(h);
        }
      }
      positioned.sort(Comparator.comparingLong(HostSpan::recordPosition));
      int nextPositioned = 0;
      long last = 0;
      for (int i = 0; i < r.size(); i++) {
        while (nextPositioned < positioned.size()
            && positioned.get(nextPositioned).recordPosition() <= i) {
          attach(hostNode(positioned.get(nextPositioned++), vcpu), stack, roots);
        }
        int kind = r.kind(i);
        long t = clock.toHostNanos(r.tscTicks(i)) - start;
        last = Math.max(last, t);
        switch (kind) {
          case RecordKind.SPAN_BEGIN -> {
            Node n =
                new Node(
                    name(r, r.nameId(i)),
                    r.nameId(i),
                    SpanKind.GUEST,
                    vcpu,
                    t,
                    t,
                    r.arg0(i),
                    r.arg1(i));
            if (stack.isEmpty()) {
              roots.add(n);
            } else {
              stack.get(stack.size() - 1).children.add(n);
            }
            stack.add(n);
          }
          case RecordKind.SPAN_END -> end(stack, r, i, vcpu, t);
          case RecordKind.MESSAGE ->
              event(stack, loose, new SpanEvent(t, SpanEvent.Kind.MESSAGE, r.message(i), 0, 0));
          case RecordKind.ALLOC ->
              event(stack, loose, new SpanEvent(t, SpanEvent.Kind.ALLOC, "", r.arg0(i), r.arg1(i)));
          case RecordKind.FREE ->
              event(stack, loose, new SpanEvent(t, SpanEvent.Kind.FREE, "", r.arg0(i), r.arg1(i)));
          case RecordKind.COUNTER ->
              event(
                  stack,
                  loose,
                  new SpanEvent(t, SpanEvent.Kind.COUNTER, name(r, r.nameId(i)), 0, r.arg0(i)));
          default -> {
            // The collector keeps only kinds it decoded; nothing else reaches here.
          }
        }
      }
      while (nextPositioned < positioned.size()) {
        attach(hostNode(positioned.get(nextPositioned++), vcpu), stack, roots);
      }
      if (!stack.isEmpty()) {
        long end = Math.max(runEnd, last);
        diagnostics.count(
            Diagnostics.SPAN_UNCLOSED,
            vcpu,
            stack.size(),
            "span never ended, closed where its call or the run ended: "
                + stack.get(stack.size() - 1).name
                + " on vCPU "
                + vcpu);
        for (Node n : stack) {
          // A guest call that aborted, faulted or timed out ends its host span: spans left open
          // inside it end there, so they stay nested in the call that was cut short.
          n.end = Math.max(n.start, enclosingHostEnd(vcpu, n.start).orElse(end));
          n.unclosed = true;
        }
      }
      List<Node> hosts = new ArrayList<>();
      for (HostSpan h : data.hostSpans()) {
        if (h.vcpu() == vcpu && !isPositioned(h)) {
          hosts.add(hostNode(h, vcpu));
        }
      }
      hosts.sort(
          Comparator.comparingLong((Node n) -> n.start)
              .thenComparing(Comparator.comparingLong((Node n) -> n.end).reversed())
              .thenComparingInt(n -> n.kind.ordinal()));
      // Guest timestamps that went backwards can leave a list out of order; insertion needs order.
      sortByStart(roots);
      for (Node h : hosts) {
        insert(roots, h);
      }
      for (SpanEvent e : loose) {
        Node at = deepest(roots, e.timeNanos());
        if (at == null) {
          // Outside every span: the span just before it in time keeps it, else the first one.
          int before = lastStartingAtOrBefore(roots, e.timeNanos());
          at = roots.isEmpty() ? null : roots.get(Math.max(0, before));
        }
        if (at != null) {
          at.events.add(e);
        }
      }
      roots.sort(Comparator.comparingLong(n -> n.start));
      List<SpanNode> out = new ArrayList<>();
      for (Node n : roots) {
        out.add(n.toSpanNode());
      }
      return new TraceTree.VcpuTree(vcpu, out);
    }

    /** End of the innermost host span of {@code vcpu} that contains {@code t}, ns since start. */
    private java.util.OptionalLong enclosingHostEnd(int vcpu, long t) {
      java.util.OptionalLong best = java.util.OptionalLong.empty();
      for (HostSpan h : data.hostSpans()) {
        long hs = h.startHostNanos() - start;
        long he = h.endHostNanos() - start;
        if (h.vcpu() == vcpu
            && (h.kind() == SpanKind.HOST_RUN || h.kind() == SpanKind.HOST_GUEST_CALL)
            && hs <= t
            && t <= he
            && (best.isEmpty() || he < best.getAsLong())) {
          best = java.util.OptionalLong.of(he);
        }
      }
      return best;
    }

    private static boolean isPositioned(HostSpan h) {
      return h.recordPosition() >= 0
          && (h.kind() == SpanKind.HOST_CALL || h.kind() == SpanKind.HOST_EXIT);
    }

    private Node hostNode(HostSpan h, int vcpu) {
      return new Node(
          h.name(), 0, h.kind(), vcpu, h.startHostNanos() - start, h.endHostNanos() - start, 0, 0);
    }

    private static void attach(Node host, List<Node> stack, List<Node> roots) {
      if (stack.isEmpty()) {
        roots.add(host);
      } else {
        stack.get(stack.size() - 1).children.add(host);
      }
    }

    private void end(List<Node> stack, VcpuRecords r, int i, int vcpu, long t) {
      int nameId = r.nameId(i);
      if (stack.isEmpty()) {
        diagnostics.count(
            Diagnostics.SPAN_END_WITHOUT_BEGIN,
            vcpu,
            "span end without a begin: " + name(r, nameId) + " on vCPU " + vcpu + " record " + i);
        return;
      }
      int top = stack.size() - 1;
      int match = top;
      if (nameId != 0 && stack.get(top).nameId != nameId) {
        match = -1;
        for (int k = top - 1; k >= 0; k--) {
          if (stack.get(k).nameId == nameId) {
            match = k;
            break;
          }
        }
        diagnostics.count(
            Diagnostics.SPAN_END_MISMATCH,
            vcpu,
            "span end names "
                + name(r, nameId)
                + " but the innermost open span is "
                + stack.get(top).name
                + " on vCPU "
                + vcpu
                + " record "
                + i);
        if (match < 0) {
          match = top; // it names nothing open: take it as the end of the innermost span
        }
      }
      for (int k = top; k >= match; k--) {
        Node n = stack.remove(k);
        n.end = Math.max(n.start, t);
        n.unclosed = k != match;
      }
    }

    private static void event(List<Node> stack, List<SpanEvent> loose, SpanEvent e) {
      if (stack.isEmpty()) {
        loose.add(e);
      } else {
        stack.get(stack.size() - 1).events.add(e);
      }
    }

    private static String name(VcpuRecords r, int nameId) {
      if (nameId == 0) {
        return "(unnamed)";
      }
      String name = r.name(nameId);
      return name != null ? name : "(undefined name " + Integer.toUnsignedString(nameId) + ")";
    }

    /**
     * Puts host span {@code h} where it fits by time: inside what holds it, around what it holds.
     * Sibling lists are kept sorted by start and are (nearly) disjoint, so only the neighbours of
     * {@code h}'s start can hold it and what it holds is one run: logarithmic, not quadratic, in
     * runs of a hundred thousand guest calls.
     */
    private static void insert(List<Node> siblings, Node h) {
      int i = lastStartingAtOrBefore(siblings, h.start);
      for (int k = Math.max(0, i); k <= i + 1 && k < siblings.size(); k++) {
        Node s = siblings.get(k);
        if (s.contains(h) || (!h.contains(s) && s.holdsMiddleOf(h))) {
          insert(s.children, h);
          return;
        }
      }
      int from = i >= 0 && holds(h, siblings.get(i)) ? i : i + 1;
      int to = from;
      while (to < siblings.size() && holds(h, siblings.get(to))) {
        to++;
      }
      List<Node> adopted = siblings.subList(from, to);
      h.children.addAll(adopted);
      adopted.clear();
      siblings.add(from, h);
    }

    private static boolean holds(Node h, Node s) {
      return h.contains(s) || h.holdsMiddleOf(s);
    }

    /** Index of the last node starting at or before {@code t}, -1 if none (sorted by start). */
    private static int lastStartingAtOrBefore(List<Node> nodes, long t) {
      int lo = 0;
      int hi = nodes.size() - 1;
      int found = -1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        if (nodes.get(mid).start <= t) {
          found = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return found;
    }

    private static Node deepest(List<Node> nodes, long t) {
      int i = lastStartingAtOrBefore(nodes, t);
      if (i < 0 || nodes.get(i).end < t) {
        return null;
      }
      Node n = nodes.get(i);
      Node inner = deepest(n.children, t);
      return inner != null ? inner : n;
    }

    private static void sortByStart(List<Node> nodes) {
      nodes.sort(Comparator.comparingLong(n -> n.start));
      for (Node n : nodes) {
        sortByStart(n.children);
      }
    }
  }

  /** A span under construction: children can still move (host spans adopt guest spans). */
  private static final class Node {
    final String name;
    final int nameId;
    final SpanKind kind;
    final int vcpu;
    final long start;
    long end;
    final long arg0;
    final long arg1;
    boolean unclosed;
    final List<Node> children = new ArrayList<>();
    final List<SpanEvent> events = new ArrayList<>();

    Node(
        String name,
        int nameId,
        SpanKind kind,
        int vcpu,
        long start,
        long end,
        long arg0,
        long arg1) {
      this.name = name;
      this.nameId = nameId;
      this.kind = kind;
      this.vcpu = vcpu;
      this.start = start;
      this.end = end;
      this.arg0 = arg0;
      this.arg1 = arg1;
    }

    boolean contains(Node o) {
      return start <= o.start && o.end <= end;
    }

    /**
     * Whether {@code o}, shorter than this, has its middle inside this: how a span that sticks out
     * by a calibration error (or was closed at the run's end) still finds its parent.
     */
    boolean holdsMiddleOf(Node o) {
      long middle = o.start + (o.end - o.start) / 2;
      return o.end - o.start < end - start && start <= middle && middle <= end;
    }

    SpanNode toSpanNode() {
      SpanNode n = new SpanNode(name, kind, vcpu, start, end, arg0, arg1);
      n.end(end, unclosed);
      children.sort(Comparator.comparingLong(c -> c.start));
      for (Node c : children) {
        n.addChild(c.toSpanNode());
      }
      events.sort(Comparator.comparingLong(SpanEvent::timeNanos));
      for (SpanEvent e : events) {
        n.addEvent(e);
      }
      return n;
    }
  }
}
