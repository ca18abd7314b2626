package dev.guesttrace.span;

import java.util.AbstractList;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * One span of a span tree, with calibrated host times in nanoseconds since the run started. Built
 * once by the tree builder and then read-only to renderers and exporters.
 *
 * <p>A file of 10 M records makes 5 M of these, so a span is kept to 64 bytes (with compressed
 * references; it was 72 plus two lists of 24 each and their arrays): children and events in plain
 * arrays (none allocated for a leaf without events, trimmed to their size once the tree is built),
 * the kind, the unclosed flag and the vCPU in one int, the events' count not stored (their array is
 * null after the last one while it grows).
 */
public final class SpanNode {
  private static final SpanNode[] NO_CHILDREN = new SpanNode[0];
  private static final SpanEvent[] NO_EVENTS = new SpanEvent[0];
  private static final SpanKind[] KINDS = SpanKind.values();
  private static final int KIND_MASK = 0x7;
  private static final int UNCLOSED = 0x8;
  private static final int VCPU_SHIFT = 4;

  static {
    if (KINDS.length > KIND_MASK + 1) {
      throw new ExceptionInInitializerError("SpanKind has more kinds than SpanNode's bits hold");
    }
  }

  /** Lowest vCPU number a span can carry (the vCPU shares an int with the kind and a flag). */
  public static final int MIN_VCPU = Integer.MIN_VALUE >> VCPU_SHIFT;

  /** Highest vCPU number a span can carry. */
  public static final int MAX_VCPU = Integer.MAX_VALUE >> VCPU_SHIFT;

  private final String name;
  private long startNanos;
  private long endNanos;
  private final long arg0;
  private final long arg1;
  private SpanNode[] children = NO_CHILDREN;
  private int childCount;
  // Null after the last event while it grows; exact once trimmed.
  private SpanEvent[] events = NO_EVENTS;
  // vcpu << VCPU_SHIFT | UNCLOSED if unclosed | kind ordinal
  private int bits;

  /**
   * Creates a span; the builder adds children and events and sets the end.
   *
   * @param name the span's name
   * @param kind guest or host
   * @param vcpu the vCPU it ran on, {@link #MIN_VCPU} to {@link #MAX_VCPU}
   * @param startNanos start, ns since the run started
   * @param endNanos end, ns since the run started
   * @param arg0 first user argument of the begin record (0 for host spans)
   * @param arg1 second user argument
   */
  public SpanNode(
      String name, SpanKind kind, int vcpu, long startNanos, long endNanos, long arg0, long arg1) {
    this.name = Objects.requireNonNull(name, "name");
    Objects.requireNonNull(kind, "kind");
    if (vcpu < MIN_VCPU || vcpu > MAX_VCPU) {
      throw new IllegalArgumentException(
          "vcpu out of range " + MIN_VCPU + ".." + MAX_VCPU + ": vcpu=" + vcpu);
    }
    this.bits = vcpu << VCPU_SHIFT | kind.ordinal();
    this.startNanos = startNanos;
    this.endNanos = endNanos;
    this.arg0 = arg0;
    this.arg1 = arg1;
  }

  public String name() {
    return name;
  }

  public SpanKind kind() {
    return KINDS[bits & KIND_MASK];
  }

  public int vcpu() {
    return bits >> VCPU_SHIFT;
  }

  /** Start, nanoseconds since the run started (calibrated host time). */
  public long startNanos() {
    return startNanos;
  }

  /** End, nanoseconds since the run started (calibrated host time). */
  public long endNanos() {
    return endNanos;
  }

  /** {@code endNanos - startNanos}. */
  public long durationNanos() {
    return endNanos - startNanos;
  }

  /** Duration minus the children's durations, never negative. */
  public long selfNanos() {
    long self = durationNanos();
    for (int i = 0; i < childCount; i++) {
      self -= children[i].durationNanos();
    }
    return Math.max(0, self);
  }

  public long arg0() {
    return arg0;
  }

  public long arg1() {
    return arg1;
  }

  /**
   * Whether the guest never ended this span: it was closed where its guest call or the run ended.
   */
  public boolean unclosed() {
    return (bits & UNCLOSED) != 0;
  }

  /** Child spans in start order (a read-only view). */
  public List<SpanNode> children() {
    return childCount == 0 ? List.of() : new View<>(children, childCount);
  }

  /** Number of child spans. */
  public int childCount() {
    return childCount;
  }

  /** Point events in time order (a read-only view). */
  public List<SpanEvent> events() {
    int n = eventCount();
    return n == 0 ? List.of() : new View<>(events, n);
  }

  /** Events in the array: its length once trimmed, else the index of the first null. */
  private int eventCount() {
    SpanEvent[] e = events;
    int hi = e.length;
    if (hi == 0 || e[hi - 1] != null) {
      return hi;
    }
    int lo = 0;
    hi--; // e[hi] is null: find the first null in [lo, hi]
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (e[mid] == null) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  /** Builder use: appends a child. */
  public void addChild(SpanNode child) {
    Objects.requireNonNull(child, "child");
    if (childCount == children.length) {
      children = Arrays.copyOf(children, Math.max(2, childCount + (childCount >> 1) + 1));
    }
    children[childCount++] = child;
  }

  /** Builder use: appends an event. */
  public void addEvent(SpanEvent event) {
    Objects.requireNonNull(event, "event");
    int n = eventCount();
    if (n == events.length) {
      events = Arrays.copyOf(events, Math.max(2, n + (n >> 1) + 1));
    }
    events[n] = event;
  }

  /** Builder use: sets the end. */
  public void end(long endNanos, boolean unclosed) {
    this.endNanos = endNanos;
    this.bits = unclosed ? bits | UNCLOSED : bits & ~UNCLOSED;
  }

  /** Builder use (clamping into the parent): sets start and end. */
  void place(long startNanos, long endNanos) {
    this.startNanos = startNanos;
    this.endNanos = endNanos;
  }

  /** Builder use: child {@code i}. */
  SpanNode child(int i) {
    Objects.checkIndex(i, childCount);
    return children[i];
  }

  /**
   * Builder use: makes {@code n} empty places at {@code at} (null children), moving the children
   * from there on; the builder fills them or takes them out with {@link #closeGap}.
   */
  void openGap(int at, int n) {
    Objects.checkIndex(at, childCount + 1);
    if (childCount + n > children.length) {
      children = Arrays.copyOf(children, Math.max(childCount + n, childCount + (childCount >> 1)));
    }
    System.arraycopy(children, at, children, at + n, childCount - at);
    Arrays.fill(children, at, at + n, null);
    childCount += n;
  }

  /** Builder use: sets child {@code i} (a place of a gap, or one the builder moved). */
  void setChild(int i, SpanNode child) {
    Objects.checkIndex(i, childCount);
    children[i] = child;
  }

  /** Builder use: moves {@code n} children from {@code from} to {@code to} (may overlap). */
  void moveChildrenWithin(int from, int to, int n) {
    Objects.checkFromIndexSize(from, n, childCount);
    Objects.checkFromIndexSize(to, n, childCount);
    System.arraycopy(children, from, children, to, n);
  }

  /** Builder use: takes out the {@code n} places from {@code at}, moving the children after. */
  void closeGap(int at, int n) {
    Objects.checkFromIndexSize(at, n, childCount);
    System.arraycopy(children, at + n, children, at, childCount - at - n);
    Arrays.fill(children, childCount - n, childCount, null);
    childCount -= n;
  }

  /** Builder use: sorts the children by start, stable (as {@code List.sort}). */
  void sortChildren(Comparator<SpanNode> order) {
    Arrays.sort(children, 0, childCount, order);
  }

  /** Builder use: sorts the events by time, stable. */
  void sortEvents() {
    Arrays.sort(events, 0, eventCount(), Comparator.comparingLong(SpanEvent::timeNanos));
  }

  /** Builder use: drops the spare room of the arrays, once the tree is built. */
  void trim() {
    if (children.length != childCount) {
      children = childCount == 0 ? NO_CHILDREN : Arrays.copyOf(children, childCount);
    }
    int n = eventCount();
    if (events.length != n) {
      events = n == 0 ? NO_EVENTS : Arrays.copyOf(events, n);
    }
  }

  /** Number of spans in this subtree, this one included. */
  public long subtreeSize() {
    // An explicit stack: a guest decides how deep its spans nest.
    long n = 0;
    ArrayDeque<SpanNode> work = new ArrayDeque<>();
    work.push(this);
    while (!work.isEmpty()) {
      SpanNode node = work.pop();
      n++;
      for (int i = 0; i < node.childCount; i++) {
        work.push(node.children[i]);
      }
    }
    return n;
  }

  /** Sum of {@link #selfNanos()} over this subtree, this span included. */
  public long subtreeSelfNanos() {
    long self = 0;
    ArrayDeque<SpanNode> work = new ArrayDeque<>();
    work.push(this);
    while (!work.isEmpty()) {
      SpanNode node = work.pop();
      self += node.selfNanos();
      for (int i = 0; i < node.childCount; i++) {
        work.push(node.children[i]);
      }
    }
    return self;
  }

  @Override
  public String toString() {
    return kind() + " " + name + " vcpu=" + vcpu() + " [" + startNanos + ", " + endNanos + "]";
  }

  /** A read-only view of the first {@code size} elements of an array. */
  private static final class View<T> extends AbstractList<T> implements RandomAccess {
    private final T[] elements;
    private final int size;

    View(T[] elements, int size) {
      this.elements = elements;
      this.size = size;
    }

    @Override
    public T get(int index) {
      Objects.checkIndex(index, size);
      return elements[index];
    }

    @Override
    public int size() {
      return size;
    }
  }
}
