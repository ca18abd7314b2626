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
import java.util.IdentityHashMap;
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
    return buildWithDetails(data, false);
  }

  /**
   * The trees of {@code data}, with the calibration used and the repairs made; with {@code
   * releaseRecords}, each vCPU's records are freed as the tree takes them ({@link
   * VcpuRecords#releaseBefore}), so that the records and the tree are not both whole in memory at
   * once: for a view that reads a file once and needs only the tree and the data's other parts
   * (header, end, losses, counts) afterwards.
   */
  public static Result buildWithDetails(TraceData data, boolean releaseRecords) {
    Objects.requireNonNull(data, "data");
    return new Run(data, releaseRecords).build();
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
    final boolean releaseRecords;
    TscCalibration calibration;

    Run(TraceData data, boolean releaseRecords) {
      this.data = data;
      this.releaseRecords = releaseRecords;
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
      List<SpanNode> roots = new ArrayList<>();
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
        if (releaseRecords && i > 0 && i % VcpuRecords.BLOCK_RECORDS == 0) {
          r.releaseBefore(i);
        }
        while (nextPositioned < positioned.size()
            && positioned.get(nextPositioned).recordPosition() <= i) {
          attach(hostNode(positioned.get(nextPositioned++), vcpu), stack, roots);
        }
        int kind = r.kind(i);
        long t = clock.toHostNanos(r.tscTicks(i)) - start;
        last = Math.max(last, t);
        switch (kind) {
          case RecordKind.SPAN_BEGIN -> {
            SpanNode n =
                new SpanNode(
                    name(r, r.nameId(i)), SpanKind.GUEST, vcpu, t, t, r.arg0(i), r.arg1(i));
            if (stack.isEmpty()) {
              roots.add(n);
            } else {
              stack.top().addChild(n);
            }
            stack.push(n, r.nameId(i));
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
      if (releaseRecords) {
        r.releaseBefore(r.size());
      }
      while (nextPositioned < positioned.size()) {
        attach(hostNode(positioned.get(nextPositioned++), vcpu), stack, roots);
      }
      if (!stack.isEmpty()) {
        closeUnclosed(stack, vcpu, vcpuHostSpans, Math.max(runEnd, last));
      }
      List<SpanNode> hosts = new ArrayList<>();
      for (HostSpan h : vcpuHostSpans) {
        if (!isPositioned(h)) {
          hosts.add(hostNode(h, vcpu));
        }
      }
      hosts.sort(
          Comparator.comparingLong(SpanNode::startNanos)
              .thenComparing(Comparator.comparingLong(SpanNode::endNanos).reversed())
              .thenComparingInt(n -> n.kind().ordinal()));
      // Guest timestamps that went backwards can leave a list out of order; insertion needs order.
      sortByStart(roots);
      if (!hosts.isEmpty()) {
        // The roots as the children of a node of their own while host spans go in: every level
        // is then a node's children, with a gap where the last insertion left it (Gaps).
        SpanNode top =
            new SpanNode("", SpanKind.HOST_RUN, vcpu, Long.MIN_VALUE, Long.MAX_VALUE, 0, 0);
        for (SpanNode root : roots) {
          top.addChild(root);
        }
        Gaps gaps = new Gaps();
        ArrayDeque<SpanNode> finger = new ArrayDeque<>();
        for (SpanNode h : hosts) {
          insert(top, h, finger, gaps);
        }
        gaps.closeAll();
        roots.clear();
        roots.addAll(top.children());
      }
      // In time order, so that each one's innermost span is found from the last one's path down
      // the tree, which only moves forward (Deepest): from the roots each time, events a guest
      // placed back in time inside a deep chain of spans cost the depth each (quadratic).
      // finish() sorts each span's events by time (stably): the same order as before.
      loose.sort(Comparator.comparingLong(SpanEvent::timeNanos));
      Deepest deepest = new Deepest(roots);
      for (SpanEvent e : loose) {
        SpanNode at = deepest.at(e.timeNanos());
        if (at == null) {
          // Outside every span: the span just before it in time keeps it, else the first one.
          int before = lastStartingAtOrBefore(roots, null, e.timeNanos());
          at = roots.isEmpty() ? null : roots.get(Math.max(0, before));
        }
        if (at != null) {
          at.addEvent(e);
        }
      }
      roots.sort(BY_START);
      for (SpanNode n : roots) {
        finish(n);
      }
      return new TraceTree.VcpuTree(vcpu, roots);
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
              + stack.top().name()
              + " on vCPU "
              + vcpu);
      List<long[]> calls = new ArrayList<>();
      for (HostSpan h : hostSpans) {
        if (h.kind() == SpanKind.HOST_RUN || h.kind() == SpanKind.HOST_GUEST_CALL) {
          calls.add(new long[] {h.startHostNanos() - start, h.endHostNanos() - start});
        }
      }
      calls.sort(Comparator.comparingLong(c -> c[0]));
      SpanNode[] open = stack.toArray();
      Arrays.sort(open, BY_START);
      PriorityQueue<Long> ends = new PriorityQueue<>();
      int next = 0;
      for (SpanNode n : open) {
        while (next < calls.size() && calls.get(next)[0] <= n.startNanos()) {
          ends.add(calls.get(next++)[1]);
        }
        while (!ends.isEmpty() && ends.peek() < n.startNanos()) {
          ends.poll(); // ended before this span began: before every later one too
        }
        n.end(Math.max(n.startNanos(), ends.isEmpty() ? end : ends.peek()), true);
      }
    }

    private static boolean isPositioned(HostSpan h) {
      return h.recordPosition() >= 0
          && (h.kind() == SpanKind.HOST_CALL || h.kind() == SpanKind.HOST_EXIT);
    }

    private SpanNode hostNode(HostSpan h, int vcpu) {
      return new SpanNode(
          h.name(), h.kind(), vcpu, h.startHostNanos() - start, h.endHostNanos() - start, 0, 0);
    }

    private static void attach(SpanNode host, OpenSpans stack, List<SpanNode> roots) {
      if (stack.isEmpty()) {
        roots.add(host);
      } else {
        stack.top().addChild(host);
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
      SpanNode top = stack.top();
      SpanNode match = top;
      if (nameId != 0 && stack.topNameId() != nameId) {
        match = stack.innermostNamed(nameId);
        if (!diagnostics.countIfSeen(Diagnostics.SPAN_END_MISMATCH)) {
          diagnostics.count(
              Diagnostics.SPAN_END_MISMATCH,
              vcpu,
              "span end names "
                  + name(r, nameId)
                  + " but the innermost open span is "
                  + top.name()
                  + " on vCPU "
                  + vcpu
                  + " record "
                  + i);
        }
        if (match == null) {
          match = top; // it names nothing open: take it as the end of the innermost span
        }
      }
      SpanNode n;
      do {
        n = stack.pop();
        n.end(Math.max(n.startNanos(), t), n != match);
      } while (n != match);
    }

    private static void event(OpenSpans stack, List<SpanEvent> loose, SpanEvent e) {
      if (stack.isEmpty()) {
        loose.add(e);
      } else {
        stack.top().addEvent(e);
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
    private static void insert(SpanNode top, SpanNode h, ArrayDeque<SpanNode> finger, Gaps gaps) {
      while (!finger.isEmpty() && !holds(finger.peek(), h)) {
        finger.pop();
      }
      // The siblings: the children of parent (top's are the roots).
      SpanNode parent = finger.isEmpty() ? top : finger.peek();
      descend:
      while (true) {
        int size = gaps.size(parent);
        int i = gaps.lastStartingAtOrBefore(parent, h.startNanos());
        for (int k = Math.max(0, i); k <= i + 1 && k < size; k++) {
          SpanNode s = gaps.child(parent, k);
          if (holds(s, h)) {
            finger.push(s);
            parent = s;
            continue descend;
          }
        }
        int from = i >= 0 && holds(h, gaps.child(parent, i)) ? i : i + 1;
        int to = from;
        while (to < size && holds(h, gaps.child(parent, to))) {
          to++;
        }
        gaps.replace(parent, from, to, h);
        finger.push(h);
        return;
      }
    }

    /**
     * The children of the nodes host spans go into, each with a gap (empty places) where the last
     * insertion into it left it: a host span that adopts several siblings leaves their places as
     * gap, one that adopts none takes a place of the gap, and the gap moves only as far as the next
     * insertion is from the last. Host spans come sorted by start, so insertions move forward
     * through each list: a run's hundreds of thousands of guest calls, each around its call's
     * spans, cost their spans once, where closing each place at once moved every later sibling for
     * each call (quadratic). {@link #closeAll} takes the gaps out at the end.
     */
    private static final class Gaps {
      /** Each node's gap: {start, length}, in places of its children array. */
      private final IdentityHashMap<SpanNode, int[]> gaps = new IdentityHashMap<>();

      private static final int[] NONE = {0, 0};

      private int[] gap(SpanNode parent) {
        return gaps.getOrDefault(parent, NONE);
      }

      int size(SpanNode parent) {
        return parent.childCount() - gap(parent)[1];
      }

      SpanNode child(SpanNode parent, int i) {
        return child(parent, gap(parent), i);
      }

      private static SpanNode child(SpanNode parent, int[] g, int i) {
        return parent.child(i < g[0] ? i : i + g[1]);
      }

      /** Index of the last child starting at or before {@code t}, -1 if none. */
      int lastStartingAtOrBefore(SpanNode parent, long t) {
        int[] g = gap(parent); // looked up once, not at each step of the search
        int lo = 0;
        int hi = parent.childCount() - g[1] - 1;
        int found = -1;
        while (lo <= hi) {
          int mid = (lo + hi) >>> 1;
          if (child(parent, g, mid).startNanos() <= t) {
            found = mid;
            lo = mid + 1;
          } else {
            hi = mid - 1;
          }
        }
        return found;
      }

      /**
       * Moves {@code parent}'s children {@code [from, to)} into {@code h}, and h in their place.
       */
      void replace(SpanNode parent, int from, int to, SpanNode h) {
        int[] g = gaps.get(parent);
        if (g == null) {
          g = new int[] {parent.childCount(), 0};
          gaps.put(parent, g);
        }
        // The gap to just before child `from`: children between move across it.
        if (from < g[0]) {
          parent.moveChildrenWithin(from, from + g[1], g[0] - from);
        } else if (from > g[0]) {
          parent.moveChildrenWithin(g[0] + g[1], g[0], from - g[0]);
        }
        g[0] = from; // the gap's places may hold stale children: never read, closeAll drops them
        if (from == to) {
          if (g[1] == 0) {
            int more = Math.max(16, (parent.childCount() >> 3));
            parent.openGap(from, more);
            g[1] = more;
          }
          parent.setChild(g[0], h);
          g[0]++;
          g[1]--;
          return;
        }
        // Children [from, to) now sit right after the gap: h takes the last one's place, the
        // others' places join the gap.
        int first = g[0] + g[1];
        int n = to - from;
        for (int i = first; i < first + n; i++) {
          h.addChild(parent.child(i));
          parent.setChild(i, null);
        }
        parent.setChild(first + n - 1, h);
        g[1] += n - 1;
      }

      void closeAll() {
        for (var e : gaps.entrySet()) {
          int[] g = e.getValue();
          if (g[1] > 0) {
            e.getKey().closeGap(g[0], g[1]);
          }
        }
        gaps.clear();
      }
    }

    private static SpanNode sibling(List<SpanNode> roots, SpanNode parent, int i) {
      return parent == null ? roots.get(i) : parent.child(i);
    }

    /**
     * Whether {@code outer} takes {@code inner} as a descendant. Twins (same kind, same times, e.g.
     * thousands of identical zero-length host spans) are siblings, not a chain as deep as their
     * number.
     */
    private static boolean holds(SpanNode outer, SpanNode inner) {
      if (outer.kind() == inner.kind()
          && outer.startNanos() == inner.startNanos()
          && outer.endNanos() == inner.endNanos()) {
        return false;
      }
      return contains(outer, inner) || (!contains(inner, outer) && holdsMiddleOf(outer, inner));
    }

    private static boolean contains(SpanNode outer, SpanNode o) {
      return outer.startNanos() <= o.startNanos() && o.endNanos() <= outer.endNanos();
    }

    /**
     * Whether {@code o}, shorter than {@code outer}, has its middle inside it: how a span that
     * sticks out by a calibration error (or was closed at the run's end) still finds its parent.
     */
    private static boolean holdsMiddleOf(SpanNode outer, SpanNode o) {
      long middle = o.startNanos() + (o.endNanos() - o.startNanos()) / 2;
      return o.endNanos() - o.startNanos() < outer.endNanos() - outer.startNanos()
          && outer.startNanos() <= middle
          && middle <= outer.endNanos();
    }

    /**
     * Index of the last of the siblings (the roots if {@code parent} is null, else its children)
     * starting at or before {@code t}, -1 if none (sorted by start).
     */
    private static int lastStartingAtOrBefore(List<SpanNode> roots, SpanNode parent, long t) {
      int lo = 0;
      int hi = (parent == null ? roots.size() : parent.childCount()) - 1;
      int found = -1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        if (sibling(roots, parent, mid).startNanos() <= t) {
          found = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return found;
    }

    /**
     * The innermost node around a time, for times asked in non-decreasing order: at each level the
     * last node starting at or before the time, while it has not ended before it; null if no root
     * holds it. The path found last is kept with, for each level, the first time it no longer holds
     * for (its node ended, or a later sibling started); a later time keeps the path's levels that
     * still hold (found by binary search: those times never grow down the path) and descends from
     * there. A node left behind is never on the path again, so all the times together cost the
     * nodes of the tree once, not the depth each.
     */
    private static final class Deepest {
      private final List<SpanNode> roots;
      private SpanNode[] path = new SpanNode[16];

      /** Level {@code j} of the path, and every level above it, hold for times below this. */
      private long[] holdsBelow = new long[16];

      private int size;

      Deepest(List<SpanNode> roots) {
        this.roots = roots;
      }

      SpanNode at(long t) {
        int lo = 0;
        int hi = size;
        while (lo < hi) {
          int mid = (lo + hi) >>> 1;
          if (holdsBelow[mid] <= t) {
            hi = mid;
          } else {
            lo = mid + 1;
          }
        }
        Arrays.fill(path, lo, size, null);
        size = lo;
        SpanNode found = size == 0 ? null : path[size - 1];
        while (true) {
          int i = lastStartingAtOrBefore(roots, found, t);
          if (i < 0 || sibling(roots, found, i).endNanos() < t) {
            return found;
          }
          SpanNode next = sibling(roots, found, i);
          long until = next.endNanos() == Long.MAX_VALUE ? Long.MAX_VALUE : next.endNanos() + 1;
          if (i + 1 < (found == null ? roots.size() : found.childCount())) {
            until = Math.min(until, sibling(roots, found, i + 1).startNanos());
          }
          if (size > 0) {
            until = Math.min(until, holdsBelow[size - 1]);
          }
          if (size == path.length) {
            path = Arrays.copyOf(path, 2 * size);
            holdsBelow = Arrays.copyOf(holdsBelow, 2 * size);
          }
          path[size] = next;
          holdsBelow[size++] = until;
          found = next;
        }
      }
    }

    private static void sortByStart(List<SpanNode> roots) {
      roots.sort(BY_START);
      ArrayDeque<SpanNode> work = new ArrayDeque<>(roots);
      while (!work.isEmpty()) {
        SpanNode n = work.pop();
        if (n.childCount() > 0) {
          n.sortChildren(BY_START);
          for (int i = 0; i < n.childCount(); i++) {
            work.push(n.child(i));
          }
        }
      }
    }

    /**
     * Finishes the span of {@code root} and everything under it, top down with an explicit stack,
     * in place: children sorted by start, events by time, arrays trimmed. A child that sticks out
     * of its parent (a calibration error the fit could not remove, a span closed at the run's end)
     * is clamped into the parent's final times and counted with its size: the tree never shows a
     * child outside its parent.
     */
    private void finish(SpanNode root) {
      // The times a node had before it was clamped: what the diagnostic names.
      record Pending(SpanNode node, long start, long end) {}
      ArrayDeque<Pending> work = new ArrayDeque<>();
      work.push(new Pending(root, root.startNanos(), root.endNanos()));
      while (!work.isEmpty()) {
        Pending p = work.pop();
        SpanNode span = p.node();
        span.sortChildren(BY_START);
        for (int k = 0; k < span.childCount(); k++) {
          SpanNode c = span.child(k);
          long cs = c.startNanos();
          long ce = c.endNanos();
          long s = Math.min(Math.max(cs, span.startNanos()), span.endNanos());
          long e = Math.max(Math.min(ce, span.endNanos()), s);
          if (s != cs || e != ce) {
            clamped(c, cs, ce, span, p.start(), p.end(), Math.max(s - cs, ce - e));
          }
          c.place(s, e);
          work.push(new Pending(c, cs, ce));
        }
        span.sortEvents();
        span.trim();
      }
    }

    private long clampedCount;
    private long clampedWorstNanos;
    private String clampedFirst;
    private int clampedFirstVcpu;

    private void clamped(
        SpanNode child,
        long childStart,
        long childEnd,
        SpanNode parent,
        long parentStart,
        long parentEnd,
        long overhangNanos) {
      if (clampedCount++ == 0) {
        clampedFirst =
            child.name()
                + " ["
                + childStart
                + ", "
                + childEnd
                + "] outside "
                + parent.name()
                + " ["
                + parentStart
                + ", "
                + parentEnd
                + "] by "
                + overhangNanos
                + " ns";
        clampedFirstVcpu = child.vcpu();
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

  private static final Comparator<SpanNode> BY_START =
      Comparator.comparingLong(SpanNode::startNanos);

  /**
   * The spans open on one vCPU, innermost on top, with their name ids, and the innermost open span
   * of each name found in constant time (each entry links to the next one of its name below it): an
   * end naming a span far down does not scan the stack, however deep the guest nests.
   */
  private static final class OpenSpans {
    private SpanNode[] nodes = new SpanNode[16];
    private int[] nameIds = new int[16];
    // The index of the next open span of the same name below each entry, -1 if none.
    private int[] sameNameBelow = new int[16];
    private int size;
    private final HashMap<Integer, Integer> innermostByName = new HashMap<>();

    boolean isEmpty() {
      return size == 0;
    }

    int size() {
      return size;
    }

    SpanNode top() {
      return nodes[size - 1];
    }

    int topNameId() {
      return nameIds[size - 1];
    }

    void push(SpanNode n, int nameId) {
      if (size == nodes.length) {
        int capacity = size * 2;
        nodes = Arrays.copyOf(nodes, capacity);
        nameIds = Arrays.copyOf(nameIds, capacity);
        sameNameBelow = Arrays.copyOf(sameNameBelow, capacity);
      }
      Integer below = innermostByName.put(nameId, size);
      nodes[size] = n;
      nameIds[size] = nameId;
      sameNameBelow[size] = below == null ? -1 : below;
      size++;
    }

    SpanNode pop() {
      size--;
      SpanNode n = nodes[size];
      nodes[size] = null;
      if (sameNameBelow[size] < 0) {
        innermostByName.remove(nameIds[size]);
      } else {
        innermostByName.put(nameIds[size], sameNameBelow[size]);
      }
      return n;
    }

    SpanNode innermostNamed(int nameId) {
      Integer i = innermostByName.get(nameId);
      return i == null ? null : nodes[i];
    }

    SpanNode[] toArray() {
      return Arrays.copyOf(nodes, size);
    }
  }
}
