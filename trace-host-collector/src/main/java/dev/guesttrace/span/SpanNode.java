package dev.guesttrace.span;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * One span of a span tree, with calibrated host times in nanoseconds since the run started. Built
 * once by the tree builder and then read-only to renderers and exporters.
 */
public final class SpanNode {
  private final String name;
  private final SpanKind kind;
  private final int vcpu;
  private final long startNanos;
  private long endNanos;
  private final long arg0;
  private final long arg1;
  private boolean unclosed;
  // Capacity 0: most spans have no events and few children; a deep chain has one child each.
  private final List<SpanNode> children = new ArrayList<>(0);
  private final List<SpanEvent> events = new ArrayList<>(0);

  /**
   * Creates a span; the builder adds children and events and sets the end.
   *
   * @param name the span's name
   * @param kind guest or host
   * @param vcpu the vCPU it ran on
   * @param startNanos start, ns since the run started
   * @param endNanos end, ns since the run started
   * @param arg0 first user argument of the begin record (0 for host spans)
   * @param arg1 second user argument
   */
  public SpanNode(
      String name, SpanKind kind, int vcpu, long startNanos, long endNanos, long arg0, long arg1) {
    this.name = Objects.requireNonNull(name, "name");
    this.kind = Objects.requireNonNull(kind, "kind");
    this.vcpu = vcpu;
    this.startNanos = startNanos;
    this.endNanos = endNanos;
    this.arg0 = arg0;
    this.arg1 = arg1;
  }

  public String name() {
    return name;
  }

  public SpanKind kind() {
    return kind;
  }

  public int vcpu() {
    return vcpu;
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
    for (SpanNode child : children) {
      self -= child.durationNanos();
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
    return unclosed;
  }

  /** Child spans in start order. */
  public List<SpanNode> children() {
    return Collections.unmodifiableList(children);
  }

  /** Point events in time order. */
  public List<SpanEvent> events() {
    return Collections.unmodifiableList(events);
  }

  /** Builder use: appends a child. */
  public void addChild(SpanNode child) {
    children.add(child);
  }

  /** Builder use: appends an event. */
  public void addEvent(SpanEvent event) {
    events.add(event);
  }

  /** Builder use: sets the end. */
  public void end(long endNanos, boolean unclosed) {
    this.endNanos = endNanos;
    this.unclosed = unclosed;
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
      for (SpanNode child : node.children) {
        work.push(child);
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
      for (SpanNode child : node.children) {
        work.push(child);
      }
    }
    return self;
  }

  @Override
  public String toString() {
    return kind + " " + name + " vcpu=" + vcpu + " [" + startNanos + ", " + endNanos + "]";
  }
}
