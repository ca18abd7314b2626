package dev.guesttrace.render;

import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text tree, in the seed's format with durations added:
 *
 * <pre>
 * [58.197ms ] > entrypoint
 * [58.294ms ]   > load_gdt
 * [58.314ms ]   < load_gdt 20µs
 * [58.44ms  ]   hyperlight_main started
 * </pre>
 *
 * <p>Two spaces per level; {@code >} on entry, {@code <} and the duration on exit; messages and
 * other events as plain lines at the depth of the span they happened in. Host spans carry a {@code
 * [host]} prefix. The compact form prints one line per span with its duration and no events.
 *
 * <p>Times count from the run's start ({@link RunWindow}), in one unit for the whole column chosen
 * from the run's length (µs below 1 ms, ms below 100 s, else s), and the column is as wide as the
 * run's last time needs, so it never slips. Durations at the end of lines keep their own unit.
 *
 * <p>For big trees: {@code maxDepth} and {@code minDurationNanos} hide spans and say so on one line
 * per parent (how many, how long in total); {@code filter} keeps the spans whose name matches and
 * their ancestors; {@code fold} writes a run of identical consecutive sibling subtrees as one line
 * ({@code work ×30, total ..., min/median/max ...}); and {@code maxLines} stops the output with a
 * note on how to see more. A failed run's outcome is marked where it happened: inside the deepest
 * span left open on the vCPU that failed.
 *
 * <p>The walk is iterative: a guest decides how deep its spans nest.
 */
public final class TextTreeRenderer {
  /** Lines written before the output stops with a note, unless set otherwise. */
  public static final long DEFAULT_MAX_LINES = 2000;

  /** Runs of identical consecutive siblings at least this long are folded by default. */
  public static final int DEFAULT_FOLD = 3;

  /** Subtrees larger than this are never compared for folding (the comparison walks them). */
  static final int FOLD_MAX_SUBTREE = 4096;

  /** Levels indented; deeper lines say their level instead. */
  static final int MAX_INDENT = 100;

  private static final Pattern FAILED_VCPU = Pattern.compile("on vCPU (\\d+)");

  /** The unit of the time column. */
  public enum Unit {
    /** Chosen from the run's length. */
    AUTO,
    NS,
    US,
    MS,
    S;

    /** Parses {@code auto}, {@code ns}, {@code us} (or {@code µs}), {@code ms}, {@code s}. */
    public static Unit parse(String name) {
      return switch (name.toLowerCase(Locale.ROOT)) {
        case "auto" -> AUTO;
        case "ns" -> NS;
        case "us", "µs" -> US;
        case "ms" -> MS;
        case "s" -> S;
        default ->
            throw new IllegalArgumentException(
                "expected auto, ns, us, ms or s, found '" + name + "'");
      };
    }
  }

  private final boolean compact;
  private final OptionalInt vcpu;
  private final int maxDepth;
  private final long minDurationNanos;
  private final Pattern filter;
  private final int fold;
  private final Unit unit;
  private final long maxLines;
  private final String failure;

  private TextTreeRenderer(
      boolean compact,
      OptionalInt vcpu,
      int maxDepth,
      long minDurationNanos,
      Pattern filter,
      int fold,
      Unit unit,
      long maxLines,
      String failure) {
    this.compact = compact;
    this.vcpu = vcpu;
    this.maxDepth = maxDepth;
    this.minDurationNanos = minDurationNanos;
    this.filter = filter;
    this.fold = fold;
    this.unit = unit;
    this.maxLines = maxLines;
    this.failure = failure;
  }

  /**
   * The full tree of every vCPU, folding runs of {@link #DEFAULT_FOLD}, at most {@link
   * #DEFAULT_MAX_LINES} lines.
   */
  public static TextTreeRenderer full() {
    return new TextTreeRenderer(
        false, OptionalInt.empty(), 0, 0, null, DEFAULT_FOLD, Unit.AUTO, DEFAULT_MAX_LINES, null);
  }

  /** One line per span. */
  public TextTreeRenderer compact(boolean compact) {
    return new TextTreeRenderer(
        compact, vcpu, maxDepth, minDurationNanos, filter, fold, unit, maxLines, failure);
  }

  /** Only vCPU {@code vcpuId}. */
  public TextTreeRenderer onlyVcpu(int vcpuId) {
    return new TextTreeRenderer(
        compact,
        OptionalInt.of(vcpuId),
        maxDepth,
        minDurationNanos,
        filter,
        fold,
        unit,
        maxLines,
        failure);
  }

  /** At most {@code levels} levels of spans (top-level spans are level 1); 0 for all. */
  public TextTreeRenderer maxDepth(int levels) {
    if (levels < 0) {
      throw new IllegalArgumentException("maxDepth must be >= 0: " + levels);
    }
    return new TextTreeRenderer(
        compact, vcpu, levels, minDurationNanos, filter, fold, unit, maxLines, failure);
  }

  /** Hides spans shorter than {@code nanos} (top-level spans always show). */
  public TextTreeRenderer minDuration(long nanos) {
    if (nanos < 0) {
      throw new IllegalArgumentException("minDuration must be >= 0: " + nanos);
    }
    return new TextTreeRenderer(
        compact, vcpu, maxDepth, nanos, filter, fold, unit, maxLines, failure);
  }

  /**
   * Only spans whose name (with its {@code [host] } prefix) contains a match, and their ancestors.
   */
  public TextTreeRenderer filter(Pattern regex) {
    return new TextTreeRenderer(
        compact,
        vcpu,
        maxDepth,
        minDurationNanos,
        Objects.requireNonNull(regex, "regex"),
        fold,
        unit,
        maxLines,
        failure);
  }

  /** Folds runs of at least {@code minRun} (2 or more) identical consecutive siblings; 0: never. */
  public TextTreeRenderer fold(int minRun) {
    if (minRun < 0 || minRun == 1) {
      throw new IllegalArgumentException("fold must be 0 or >= 2: " + minRun);
    }
    return new TextTreeRenderer(
        compact, vcpu, maxDepth, minDurationNanos, filter, minRun, unit, maxLines, failure);
  }

  /** The unit of the time column. */
  public TextTreeRenderer unit(Unit unit) {
    return new TextTreeRenderer(
        compact,
        vcpu,
        maxDepth,
        minDurationNanos,
        filter,
        fold,
        Objects.requireNonNull(unit, "unit"),
        maxLines,
        failure);
  }

  /** Stops after {@code lines} lines with a note; 0 for no limit. */
  public TextTreeRenderer maxLines(long lines) {
    if (lines < 0) {
      throw new IllegalArgumentException("maxLines must be >= 0: " + lines);
    }
    return new TextTreeRenderer(
        compact, vcpu, maxDepth, minDurationNanos, filter, fold, unit, lines, failure);
  }

  /**
   * Marks a failed run's outcome (e.g. {@code aborted on vCPU 0 code=42: ...}) where it happened:
   * inside the deepest span left open on the vCPU it names (vCPU 0 if it names none).
   */
  public TextTreeRenderer failure(String outcome) {
    return new TextTreeRenderer(
        compact,
        vcpu,
        maxDepth,
        minDurationNanos,
        filter,
        fold,
        unit,
        maxLines,
        Objects.requireNonNull(outcome, "outcome"));
  }

  /**
   * Writes the tree. With more than one vCPU shown, each vCPU's tree follows a {@code == vCPU N ==}
   * line.
   *
   * @return the number of spans written (a folded run counts its spans)
   */
  public long render(TraceTree tree, PrintWriter out) {
    List<TraceTree.VcpuTree> shown =
        tree.vcpus().stream().filter(v -> vcpu.isEmpty() || v.vcpu() == vcpu.getAsInt()).toList();
    RunWindow window = RunWindow.of(tree);
    Writer w = new Writer(out, window, failureMarks(shown));
    for (TraceTree.VcpuTree v : shown) {
      if (shown.size() > 1 && !w.line("== vCPU " + v.vcpu() + " ==")) {
        break;
      }
      if (filter != null) {
        w.keep = matchesAndAncestors(v.roots(), filter);
      }
      for (SpanNode root : v.roots()) {
        if (w.keep != null && !w.keep.contains(root)) {
          continue;
        }
        if (!w.walk(root)) {
          break;
        }
      }
    }
    if (w.cut) {
      out.println(
          "... output cut at "
              + maxLines
              + " lines ("
              + w.spans
              + " spans shown): --max-lines 0 shows all; --max-depth, --min-duration, --filter and"
              + " --vcpu narrow the tree");
    }
    if (filter != null && w.spans == 0 && !w.cut) {
      out.println("(no span matches --filter " + filter.pattern() + ")");
    }
    out.flush();
    return w.spans;
  }

  /** The span under which a failure is marked: the deepest open span of the failed vCPU. */
  private IdentityHashMap<SpanNode, String> failureMarks(List<TraceTree.VcpuTree> shown) {
    IdentityHashMap<SpanNode, String> marks = new IdentityHashMap<>();
    if (failure == null) {
      return marks;
    }
    Matcher m = FAILED_VCPU.matcher(failure);
    int failed = m.find() ? parseVcpu(m.group(1)) : 0;
    for (TraceTree.VcpuTree v : shown) {
      if (v.vcpu() != failed || v.roots().isEmpty()) {
        continue;
      }
      SpanNode at = v.roots().get(v.roots().size() - 1);
      while (!at.children().isEmpty()) {
        SpanNode last = at.children().get(at.children().size() - 1);
        if (!last.unclosed() && !containsUnclosedLast(last)) {
          break;
        }
        at = last;
      }
      marks.put(at, "!! " + Printable.of(failure));
    }
    return marks;
  }

  private static boolean containsUnclosedLast(SpanNode node) {
    // A closed host span (the guest call) can hold the guest spans left open: look down the last
    // children, iteratively.
    SpanNode at = node;
    while (!at.children().isEmpty()) {
      at = at.children().get(at.children().size() - 1);
      if (at.unclosed()) {
        return true;
      }
    }
    return false;
  }

  private static int parseVcpu(String digits) {
    try {
      return Integer.parseInt(digits);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Spans whose label matches {@code filter}, and every ancestor of one. */
  static Set<SpanNode> matchesAndAncestors(List<SpanNode> roots, Pattern filter) {
    Set<SpanNode> keep = Collections.newSetFromMap(new IdentityHashMap<>());
    ArrayDeque<SpanNode> path = new ArrayDeque<>();
    ArrayDeque<Integer> next = new ArrayDeque<>();
    for (SpanNode root : roots) {
      path.push(root);
      next.push(0);
      visit(root, path, keep, filter);
      while (!path.isEmpty()) {
        SpanNode node = path.peek();
        int i = next.pop();
        if (i < node.children().size()) {
          next.push(i + 1);
          SpanNode child = node.children().get(i);
          path.push(child);
          next.push(0);
          visit(child, path, keep, filter);
        } else {
          path.pop();
        }
      }
    }
    return keep;
  }

  private static void visit(
      SpanNode node, ArrayDeque<SpanNode> path, Set<SpanNode> keep, Pattern filter) {
    if (!filter.matcher(label(node)).find()) {
      return;
    }
    // path iterates from the node up; stop at the first ancestor already kept.
    for (SpanNode up : path) {
      if (!keep.add(up)) {
        break;
      }
    }
  }

  /** One output: the line budget, the time column, and the walk. */
  private final class Writer {
    final PrintWriter out;
    final long origin;
    final Unit columnUnit;
    final int width;
    final IdentityHashMap<SpanNode, String> marks;
    Set<SpanNode> keep;
    long lines;
    long spans;
    boolean cut;

    Writer(PrintWriter out, RunWindow window, IdentityHashMap<SpanNode, String> marks) {
      this.out = out;
      this.origin = window.originNanos();
      this.columnUnit = unit == Unit.AUTO ? autoUnit(window.durationNanos()) : unit;
      this.width = Math.max(9, time(window.durationNanos(), columnUnit).length());
      this.marks = marks;
    }

    /** Writes one line unless the budget is spent; false once it is. */
    boolean line(String text) {
      if (maxLines > 0 && lines >= maxLines) {
        cut = true;
        return false;
      }
      out.println(text);
      lines++;
      return true;
    }

    String column(long nanos) {
      String t = time(nanos - origin, columnUnit);
      StringBuilder b = new StringBuilder(width + 2).append('[').append(t);
      for (int i = t.length(); i < width; i++) {
        b.append(' ');
      }
      return b.append(']').toString();
    }

    /** A span on the explicit stack, with what it shows in order. */
    final class Frame {
      final SpanNode node;
      final int depth;
      final List<Object> items;
      int next;

      Frame(SpanNode node, int depth, List<Object> items) {
        this.node = node;
        this.depth = depth;
        this.items = items;
      }
    }

    /** Writes one top-level span and what is under it; false once the budget is spent. */
    boolean walk(SpanNode root) {
      ArrayDeque<Frame> stack = new ArrayDeque<>();
      if (!open(root, 0, stack)) {
        return false;
      }
      while (!stack.isEmpty()) {
        Frame f = stack.peek();
        if (f.next < f.items.size()) {
          Object item = f.items.get(f.next++);
          String indent = indent(f.depth + 1);
          boolean ok =
              switch (item) {
                case SpanNode child -> open(child, f.depth + 1, stack);
                case SpanEvent ev -> line(column(ev.timeNanos()) + ' ' + indent + event(ev));
                case Folded run -> folded(run, indent);
                case Hidden h -> line(column(h.startNanos) + ' ' + indent + h.text());
                case Mark m -> line(column(m.timeNanos) + ' ' + indent + m.text);
                default -> throw new IllegalStateException("item " + item);
              };
          if (!ok) {
            return false;
          }
          continue;
        }
        stack.pop();
        if (!compact) {
          SpanNode node = f.node;
          if (!line(
              column(node.endNanos())
                  + ' '
                  + indent(f.depth)
                  + "< "
                  + label(node)
                  + ' '
                  + Durations.duration(node.durationNanos())
                  + (node.unclosed() ? " (never ended)" : ""))) {
            return false;
          }
        }
      }
      return true;
    }

    private boolean open(SpanNode node, int depth, ArrayDeque<Frame> stack) {
      String indent = indent(depth);
      String text =
          compact
              ? column(node.startNanos())
                  + ' '
                  + indent
                  + label(node)
                  + ' '
                  + Durations.duration(node.durationNanos())
                  + (node.unclosed() ? " (never ended)" : "")
              : column(node.startNanos()) + ' ' + indent + "> " + label(node);
      if (!line(text)) {
        return false;
      }
      spans++;
      stack.push(new Frame(node, depth, items(node, depth)));
      return true;
    }

    private boolean folded(Folded run, String indent) {
      if (!line(column(run.first.startNanos()) + ' ' + indent + run.text())) {
        return false;
      }
      spans += run.count * run.spansEach;
      return true;
    }

    /** What a span shows under it, in time order: events, children, folds, summaries, a mark. */
    private List<Object> items(SpanNode node, int depth) {
      List<SpanNode> children = node.children();
      List<SpanEvent> events = compact ? List.of() : node.events();
      boolean eventsShown = keep == null || filter.matcher(label(node)).find();
      if (!eventsShown) {
        events = List.of();
      }
      List<Object> items = new ArrayList<>(children.size() + events.size() + 2);
      boolean depthHidden = maxDepth > 0 && depth + 1 >= maxDepth;
      Hidden hidden = null;
      int c = 0;
      int e = 0;
      while (c < children.size() || e < events.size()) {
        boolean eventNext =
            e < events.size()
                && (c >= children.size()
                    || events.get(e).timeNanos() <= children.get(c).startNanos());
        if (eventNext) {
          items.add(events.get(e++));
          continue;
        }
        SpanNode child = children.get(c);
        if (keep != null && !keep.contains(child)) {
          c++;
          continue;
        }
        if (depthHidden || child.durationNanos() < minDurationNanos) {
          if (hidden == null) {
            // One line for all of them, where the first one was: time order holds.
            hidden = new Hidden(depthHidden, child.startNanos());
            items.add(hidden);
          }
          hidden.add(child);
          c++;
          continue;
        }
        int run = fold > 0 ? identicalRun(children, c, events, e) : 1;
        if (run >= fold && fold > 0) {
          items.add(new Folded(children.subList(c, c + run)));
          c += run;
        } else {
          items.add(child);
          c++;
        }
      }
      String mark = marks.get(node);
      if (mark != null) {
        items.add(new Mark(node.endNanos(), mark));
      }
      return items;
    }

    /**
     * How many siblings from {@code from} on are identical to it with no shown event between them
     * (shown siblings only: a hidden or filtered-out one ends the run).
     */
    private int identicalRun(List<SpanNode> children, int from, List<SpanEvent> events, int e) {
      SpanNode first = children.get(from);
      Signature sig = null;
      int run = 1;
      while (from + run < children.size()) {
        SpanNode next = children.get(from + run);
        if (e < events.size() && events.get(e).timeNanos() <= next.startNanos()) {
          break;
        }
        if (!next.name().equals(first.name())
            || next.kind() != first.kind()
            || next.children().size() != first.children().size()
            || next.events().size() != first.events().size()
            || next.unclosed() != first.unclosed()
            || next.durationNanos() < minDurationNanos
            || (keep != null && !keep.contains(next))) {
          break;
        }
        if (sig == null) {
          sig = Signature.of(first);
          if (sig == null) {
            break;
          }
        }
        if (!sig.equals(Signature.of(next))) {
          break;
        }
        run++;
      }
      return run;
    }
  }

  /** Spans hidden under one parent by depth or duration: one line, count and total. */
  private final class Hidden {
    final boolean byDepth;
    final long startNanos;
    long count;
    long totalNanos;
    long inside;

    Hidden(boolean byDepth, long startNanos) {
      this.byDepth = byDepth;
      this.startNanos = startNanos;
    }

    void add(SpanNode child) {
      count++;
      totalNanos += Math.max(0, child.durationNanos());
      if (byDepth) {
        inside += child.subtreeSize() - 1;
      }
    }

    String text() {
      String spans = count + (count == 1 ? " span" : " spans");
      return byDepth
          ? "... "
              + spans
              + (inside > 0 ? " (" + (count + inside) + " with theirs)" : "")
              + " below --max-depth "
              + maxDepth
              + ", "
              + Durations.duration(totalNanos)
              + " in all"
          : "... "
              + spans
              + " shorter than "
              + Durations.duration(minDurationNanos)
              + ", "
              + Durations.duration(totalNanos)
              + " in all";
    }
  }

  /** A run of identical siblings written as one line. */
  private static final class Folded {
    final SpanNode first;
    final int count;
    final long spansEach;
    final long totalNanos;
    final long minNanos;
    final long medianNanos;
    final long maxNanos;
    final boolean unclosed;

    Folded(List<SpanNode> run) {
      first = run.get(0);
      count = run.size();
      spansEach = first.subtreeSize();
      long[] d = new long[count];
      long total = 0;
      for (int i = 0; i < count; i++) {
        d[i] = run.get(i).durationNanos();
        total += d[i];
      }
      Arrays.sort(d);
      totalNanos = total;
      minNanos = d[0];
      medianNanos = d[(count + 1) / 2 - 1];
      maxNanos = d[count - 1];
      unclosed = first.unclosed();
    }

    String text() {
      return label(first)
          + " ×"
          + count
          + ", total "
          + Durations.duration(totalNanos)
          + ", min/median/max "
          + Durations.duration(minNanos)
          + "/"
          + Durations.duration(medianNanos)
          + "/"
          + Durations.duration(maxNanos)
          + (spansEach == 2 ? " (1 span inside each)" : "")
          + (spansEach > 2 ? " (" + (spansEach - 1) + " spans inside each)" : "")
          + (unclosed ? " (never ended)" : "");
    }
  }

  /** A failure marked in place. */
  private record Mark(long timeNanos, String text) {}

  /**
   * The shape of a subtree without its times: names, kinds, events' text, in order. Null for a
   * subtree over {@link #FOLD_MAX_SUBTREE} spans (never folded: comparing it would cost too much).
   */
  private record Signature(List<String> shape) {
    static Signature of(SpanNode root) {
      List<String> shape = new ArrayList<>();
      ArrayDeque<SpanNode> work = new ArrayDeque<>();
      ArrayDeque<Integer> depths = new ArrayDeque<>();
      work.push(root);
      depths.push(0);
      int spans = 0;
      while (!work.isEmpty()) {
        SpanNode node = work.pop();
        int depth = depths.pop();
        if (++spans > FOLD_MAX_SUBTREE) {
          return null;
        }
        shape.add(
            depth + " " + node.kind() + " " + node.name() + (node.unclosed() ? " unclosed" : ""));
        for (SpanEvent ev : node.events()) {
          shape.add(depth + " @" + ev.kind() + " " + event(ev));
        }
        List<SpanNode> children = node.children();
        for (int i = children.size() - 1; i >= 0; i--) {
          work.push(children.get(i));
          depths.push(depth + 1);
        }
      }
      return new Signature(shape);
    }
  }

  /**
   * Two spaces per level up to {@link #MAX_INDENT} levels, then the level written out: a guest that
   * nests a million spans must not make each line megabytes long.
   */
  static String indent(int depth) {
    if (depth <= MAX_INDENT) {
      return "  ".repeat(depth);
    }
    return "  ".repeat(MAX_INDENT) + "(level " + (depth + 1) + ") ";
  }

  /** The unit the time column uses for a run this long. */
  static Unit autoUnit(long runNanos) {
    if (runNanos < 1_000_000) {
      return Unit.US;
    }
    if (runNanos < 100_000_000_000L) {
      return Unit.MS;
    }
    return Unit.S;
  }

  /**
   * A time in {@code unit}, to the microsecond (ns: exact), trailing zeros dropped as the seed's
   * column does: {@code 338µs}, {@code 58.44ms}, {@code 0.338ms}, {@code 12.5s}.
   */
  static String time(long nanos, Unit unit) {
    if (unit == Unit.NS) {
      return nanos + "ns";
    }
    long micros = Math.round(nanos / 1000.0);
    return switch (unit) {
      case US -> micros + "µs";
      case MS ->
          java.math.BigDecimal.valueOf(micros, 3).stripTrailingZeros().toPlainString() + "ms";
      case S -> java.math.BigDecimal.valueOf(micros, 6).stripTrailingZeros().toPlainString() + "s";
      default -> throw new IllegalArgumentException("unit " + unit);
    };
  }

  static String label(SpanNode node) {
    String name = Printable.of(node.name());
    return node.kind().isHost() ? "[host] " + name : name;
  }

  /** An event as one line of text, without time or indentation. */
  static String event(SpanEvent ev) {
    return switch (ev.kind()) {
      case MESSAGE -> Printable.of(ev.text());
      case ALLOC -> String.format("alloc 0x%x %d B", ev.address(), ev.value());
      case FREE ->
          ev.value() == 0
              ? String.format("free 0x%x", ev.address())
              : String.format("free 0x%x %d B", ev.address(), ev.value());
      case COUNTER -> Printable.of(ev.text()) + " = " + ev.value();
    };
  }

  /** The outcome of a failed run, for {@link #failure(String)}, or empty. */
  public static Optional<String> failureOf(dev.guesttrace.collect.TraceData data) {
    return data.end().filter(end -> end.failed()).map(end -> end.outcome());
  }
}
