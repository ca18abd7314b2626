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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;

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
 * run) ended, and marked {@link SpanNode#unclosed()} ({@link Diagnostics#SPAN_UNCLOSED}). A child
 * that sticks out of its parent is clamped into it ({@link Diagnostics#SPAN_OUTSIDE_PARENT}, with
 * the worst overhang): no tree shows a child outside its parent.
 *
 * <p>Nothing here recurses over the input's structure: the guest decides how deep its spans nest (a
 * million levels build in ordinary heap), so every walk uses an explicit stack.
 */
public final class SpanTreeBuilder {
  private SpanTreeBuilder() {}

  /** The trees of {@code data}. */
  public static TraceTree build(TraceData data) {
    return buildWithDetails(data).tree();
  }

  /**
   * The calibration a tree of {@code data} uses: the clock the file stores if it does, else a fit
   * of its pairs (the same fit the file's writer made).
   */
  public static TscCalibration calibrate(TraceData data) {
    if (data.storedClock().isPresent()) {
      return data.storedClock().get();
    }
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
      // Host spans by vCPU once: scanning them all for every vCPU is quadratic in a trace with
      // many of both.
      List<List<HostSpan>> hostSpansByVcpu = new ArrayList<>(data.vcpuCount());
      for (int v = 0; v < data.vcpuCount(); v++) {
        hostSpansByVcpu.add(new ArrayList<>(0));
      }
      for (HostSpan h : data.hostSpans()) {
        if (h.vcpu() >= 0 && h.vcpu() < data.vcpuCount()) {
          hostSpansByVcpu.get(h.vcpu()).add(h);
        }
      }
      List<TraceTree.VcpuTree> trees = new ArrayList<>();
      for (int v = 0; v < data.vcpuCount(); v++) {
        trees.add(vcpuTree(v, hostSpansByVcpu.get(v), runEnd));
        hostSpansByVcpu.set(v, List.of());
      }
      reportClamped();
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

    private TraceTree.VcpuTree vcpuTree(int vcpu, List<HostSpan> vcpuHostSpans, long runEnd) {
      VcpuRecords r = data.records(vcpu);
      TscClock clock = clock(vcpu, r);
      List<Node> roots = new ArrayList<>();
      OpenSpans stack = new OpenSpans();
      List<SpanEvent> loose = new ArrayList<>();
      // Work done during one exit (host calls, trace exits) knows where it happened among the
      // vCPU's records: it nests exactly there, inside the guest span open at that record.
      List<HostSpan> positioned = new ArrayList<>();
      for (HostSpan h : vcpuHostSpans) {
        if (isPositioned(h)) {
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
              stack.top().children.add(n);
            }
            stack.push(n);
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
        closeUnclosed(stack, vcpu, vcpuHostSpans, Math.max(runEnd, last));
      }
      List<Node> hosts = new ArrayList<>();
      for (HostSpan h : vcpuHostSpans) {
        if (!isPositioned(h)) {
          hosts.add(hostNode(h, vcpu));
        }
      }
      hosts.sort(
          Comparator.comparingLong((Node n) -> n.start)
              .thenComparing(Comparator.comparingLong((Node n) -> n.end).reversed())
              .thenComparingInt(n -> n.kind.ordinal()));
      // Guest timestamps that went backwards can leave a list out of order; insertion needs order.
      sortByStart(roots);
      ArrayDeque<Node> finger = new ArrayDeque<>();
      for (Node h : hosts) {
        insert(roots, h, finger);
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
      List<SpanNode> out = new ArrayList<>(roots.size());
      for (Node n : roots) {
        out.add(toSpanNode(n));
      }
      roots.clear();
      return new TraceTree.VcpuTree(vcpu, out);
    }

    /**
     * Ends the spans the guest left open: a guest call that aborted, faulted or timed out ends its
     * host span, so spans left open inside it end there and stay nested in the call that was cut
     * short; otherwise at {@code end}. The innermost host run or guest call around each span's
     * start is found in one sweep over the spans sorted by start (a heap of the ends of the host
     * spans begun so far), not by scanning every host span for every open span.
     */
    private void closeUnclosed(OpenSpans stack, int vcpu, List<HostSpan> hostSpans, long end) {
      diagnostics.count(
          Diagnostics.SPAN_UNCLOSED,
          vcpu,
          stack.size(),
          "span never ended, closed where its call or the run ended: "
              + stack.top().name
              + " on vCPU "
              + vcpu);
      List<long[]> calls = new ArrayList<>();
      for (HostSpan h : hostSpans) {
        if (h.kind() == SpanKind.HOST_RUN || h.kind() == SpanKind.HOST_GUEST_CALL) {
          calls.add(new long[] {h.startHostNanos() - start, h.endHostNanos() - start});
        }
      }
      calls.sort(Comparator.comparingLong(c -> c[0]));
      Node[] open = stack.toArray();
      Arrays.sort(open, Comparator.comparingLong(n -> n.start));
      PriorityQueue<Long> ends = new PriorityQueue<>();
      int next = 0;
      for (Node n : open) {
        while (next < calls.size() && calls.get(next)[0] <= n.start) {
          ends.add(calls.get(next++)[1]);
        }
        while (!ends.isEmpty() && ends.peek() < n.start) {
          ends.poll(); // ended before this span began: before every later one too
        }
        n.end = Math.max(n.start, ends.isEmpty() ? end : ends.peek());
        n.unclosed = true;
      }
    }

    private static boolean isPositioned(HostSpan h) {
      return h.recordPosition() >= 0
          && (h.kind() == SpanKind.HOST_CALL || h.kind() == SpanKind.HOST_EXIT);
    }

    private Node hostNode(HostSpan h, int vcpu) {
      return new Node(
          h.name(), 0, h.kind(), vcpu, h.startHostNanos() - start, h.endHostNanos() - start, 0, 0);
    }

    private static void attach(Node host, OpenSpans stack, List<Node> roots) {
      if (stack.isEmpty()) {
        roots.add(host);
      } else {
        stack.top().children.add(host);
      }
    }

    private void end(OpenSpans stack, VcpuRecords r, int i, int vcpu, long t) {
      int nameId = r.nameId(i);
      if (stack.isEmpty()) {
        if (!diagnostics.countIfSeen(Diagnostics.SPAN_END_WITHOUT_BEGIN)) {
          diagnostics.count(
              Diagnostics.SPAN_END_WITHOUT_BEGIN,
              vcpu,
              "span end without a begin: " + name(r, nameId) + " on vCPU " + vcpu + " record " + i);
        }
        return;
      }
      Node top = stack.top();
      Node match = top;
      if (nameId != 0 && top.nameId != nameId) {
        match = stack.innermostNamed(nameId);
        if (!diagnostics.countIfSeen(Diagnostics.SPAN_END_MISMATCH)) {
          diagnostics.count(
              Diagnostics.SPAN_END_MISMATCH,
              vcpu,
              "span end names "
                  + name(r, nameId)
                  + " but the innermost open span is "
                  + top.name
                  + " on vCPU "
                  + vcpu
                  + " record "
                  + i);
        }
        if (match == null) {
          match = top; // it names nothing open: take it as the end of the innermost span
        }
      }
      Node n;
      do {
        n = stack.pop();
        n.end = Math.max(n.start, t);
        n.unclosed = n != match;
      } while (n != match);
    }

    private static void event(OpenSpans stack, List<SpanEvent> loose, SpanEvent e) {
      if (stack.isEmpty()) {
        loose.add(e);
      } else {
        stack.top().events.add(e);
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
     * {@code h}'s start can hold it and what it holds is one run: logarithmic per level, not
     * quadratic, in runs of a hundred thousand guest calls. A loop, not recursion: the guest
     * decides how deep it goes.
     *
     * <p>{@code finger} is the path to the span inserted last. Host spans come sorted by start, so
     * the next one usually belongs on that path: the search starts at its deepest node that holds
     * {@code h}, not at the root, and host spans nested ten thousand deep cost a step each, not a
     * walk down from the root each.
     */
    private static void insert(List<Node> roots, Node h, ArrayDeque<Node> finger) {
      while (!finger.isEmpty() && !holds(finger.peek(), h)) {
        finger.pop();
      }
      List<Node> siblings = finger.isEmpty() ? roots : finger.peek().children;
      descend:
      while (true) {
        int i = lastStartingAtOrBefore(siblings, h.start);
        for (int k = Math.max(0, i); k <= i + 1 && k < siblings.size(); k++) {
          Node s = siblings.get(k);
          if (holds(s, h)) {
            finger.push(s);
            siblings = s.children;
            continue descend;
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
        finger.push(h);
        return;
      }
    }

    /**
     * Whether {@code outer} takes {@code inner} as a descendant. Twins (same kind, same times, e.g.
     * thousands of identical zero-length host spans) are siblings, not a chain as deep as their
     * number.
     */
    private static boolean holds(Node outer, Node inner) {
      if (outer.kind == inner.kind && outer.start == inner.start && outer.end == inner.end) {
        return false;
      }
      return outer.contains(inner) || (!inner.contains(outer) && outer.holdsMiddleOf(inner));
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

    /** The innermost node around {@code t}, or null if no node of {@code nodes} holds it. */
    private static Node deepest(List<Node> nodes, long t) {
      Node found = null;
      List<Node> level = nodes;
      while (true) {
        int i = lastStartingAtOrBefore(level, t);
        if (i < 0 || level.get(i).end < t) {
          return found;
        }
        found = level.get(i);
        level = found.children;
      }
    }

    private static void sortByStart(List<Node> roots) {
      ArrayDeque<List<Node>> work = new ArrayDeque<>();
      work.push(roots);
      while (!work.isEmpty()) {
        List<Node> nodes = work.pop();
        nodes.sort(Comparator.comparingLong(n -> n.start));
        for (Node n : nodes) {
          if (!n.children.isEmpty()) {
            work.push(n.children);
          }
        }
      }
    }

    /**
     * The finished span of {@code root} and everything under it, top down with an explicit stack. A
     * child that sticks out of its parent (a calibration error the fit could not remove, a span
     * closed at the run's end) is clamped into the parent's final times and counted with its size:
     * the tree never shows a child outside its parent. The builder's nodes are released as they are
     * converted, so a deep tree is not held twice.
     */
    private SpanNode toSpanNode(Node root) {
      record Pending(Node node, SpanNode span) {}
      SpanNode top = root.finish(root.start, root.end);
      ArrayDeque<Pending> work = new ArrayDeque<>();
      work.push(new Pending(root, top));
      while (!work.isEmpty()) {
        Pending p = work.pop();
        Node node = p.node();
        SpanNode span = p.span();
        node.children.sort(Comparator.comparingLong(c -> c.start));
        for (Node c : node.children) {
          long s = Math.min(Math.max(c.start, span.startNanos()), span.endNanos());
          long e = Math.max(Math.min(c.end, span.endNanos()), s);
          if (s != c.start || e != c.end) {
            clamped(c, node, Math.max(s - c.start, c.end - e));
          }
          SpanNode child = c.finish(s, e);
          span.addChild(child);
          work.push(new Pending(c, child));
        }
        node.children.clear();
        node.events.sort(Comparator.comparingLong(SpanEvent::timeNanos));
        for (SpanEvent e : node.events) {
          span.addEvent(e);
        }
        node.events.clear();
      }
      return top;
    }

    private long clampedCount;
    private long clampedWorstNanos;
    private String clampedFirst;
    private int clampedFirstVcpu;

    private void clamped(Node child, Node parent, long overhangNanos) {
      if (clampedCount++ == 0) {
        clampedFirst =
            child.name
                + " ["
                + child.start
                + ", "
                + child.end
                + "] outside "
                + parent.name
                + " ["
                + parent.start
                + ", "
                + parent.end
                + "] by "
                + overhangNanos
                + " ns";
        clampedFirstVcpu = child.vcpu;
      }
      clampedWorstNanos = Math.max(clampedWorstNanos, overhangNanos);
    }

    private void reportClamped() {
      if (clampedCount > 0) {
        diagnostics.count(
            Diagnostics.SPAN_OUTSIDE_PARENT,
            clampedFirstVcpu,
            clampedCount,
            "child span outside its parent, clamped into it (worst by "
                + clampedWorstNanos
                + " ns): "
                + clampedFirst);
      }
    }
  }

  /**
   * The spans open on one vCPU, innermost on top, with the innermost open span of each name found
   * in constant time (each node links to the next one of its name below it): an end naming a span
   * far down does not scan the stack, however deep the guest nests.
   */
  private static final class OpenSpans {
    private final ArrayList<Node> stack = new ArrayList<>();
    private final HashMap<Integer, Node> innermostByName = new HashMap<>();

    boolean isEmpty() {
      return stack.isEmpty();
    }

    int size() {
      return stack.size();
    }

    Node top() {
      return stack.getLast();
    }

    void push(Node n) {
      n.sameNameBelow = innermostByName.put(n.nameId, n);
      stack.add(n);
    }

    Node pop() {
      Node n = stack.removeLast();
      if (n.sameNameBelow == null) {
        innermostByName.remove(n.nameId);
      } else {
        innermostByName.put(n.nameId, n.sameNameBelow);
      }
      n.sameNameBelow = null;
      return n;
    }

    Node innermostNamed(int nameId) {
      return innermostByName.get(nameId);
    }

    Node[] toArray() {
      return stack.toArray(new Node[0]);
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
    Node sameNameBelow;
    // Capacity 0: a deep chain has one child per node, and default lists reserve ten.
    final List<Node> children = new ArrayList<>(0);
    final List<SpanEvent> events = new ArrayList<>(0);

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

    /** The finished span of this node alone, with its (clamped) times. */
    SpanNode finish(long startNanos, long endNanos) {
      SpanNode n = new SpanNode(name, kind, vcpu, startNanos, endNanos, arg0, arg1);
      n.end(endNanos, unclosed);
      return n;
    }
  }
}
