package dev.guesttrace.flame;

import dev.guesttrace.span.CallPaths;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a run as folded stacks, the text format that flamegraph.pl, inferno and speedscope read:
 * one line per distinct stack, {@code frame;frame;frame weight}, the frames from the root down and
 * the weight the stack's summed self time in calibrated nanoseconds. Lines are sorted by stack, so
 * the output is the same for the same tree; stacks with zero self time are left out (their time is
 * all in their children, whose lines carry them as a prefix).
 *
 * <p>A stack is at most {@link CallPaths#MAX_FRAMES} spans deep: the self time of everything deeper
 * is in one {@link CallPaths#DEEPER_FRAME} frame at the end of its stack.
 *
 * <p>Frames are span names made safe for the format: {@code ;} (the frame separator) becomes {@code
 * :}, control characters (a newline would end the line) become a space, and lone surrogates become
 * U+FFFD.
 */
public final class FoldedStacks {
  private FoldedStacks() {}

  /** Writes the stacks with the vCPUs merged; does not close {@code out}. */
  public static void write(TraceTree tree, Writer out) throws IOException {
    write(tree, out, false);
  }

  /**
   * Writes the stacks; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the lines go
   * @param perVcpu whether each stack starts with a {@code vcpu N} frame
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, Writer out, boolean perVcpu) throws IOException {
    for (Map.Entry<String, Long> line : fold(tree, perVcpu).entrySet()) {
      out.write(line.getKey());
      out.write(' ');
      out.write(Long.toString(line.getValue()));
      out.write('\n');
    }
    out.flush();
  }

  /**
   * Stack → summed self nanoseconds, sorted by stack, zero weights left out.
   *
   * @param tree the run
   * @param perVcpu whether each stack starts with a {@code vcpu N} frame
   */
  public static TreeMap<String, Long> fold(TraceTree tree, boolean perVcpu) {
    TreeMap<String, Long> stacks = new TreeMap<>();
    record Item(String parent, SpanNode node, int depth) {}
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      ArrayList<Item> work = new ArrayList<>();
      for (SpanNode root : vcpu.roots()) {
        work.add(new Item(perVcpu ? "vcpu " + vcpu.vcpu() : null, root, 0));
      }
      // Iterative: recursive guests nest deeper than a comfortable Java stack.
      while (!work.isEmpty()) {
        Item item = work.removeLast();
        boolean cut = item.depth() == CallPaths.MAX_FRAMES;
        String frame = cut ? CallPaths.DEEPER_FRAME : frame(item.node().name());
        String stack = item.parent() == null ? frame : item.parent() + ";" + frame;
        long self = cut ? item.node().subtreeSelfNanos() : item.node().selfNanos();
        if (self > 0) {
          stacks.merge(stack, self, Long::sum);
        }
        if (!cut) {
          for (SpanNode child : item.node().children()) {
            work.add(new Item(stack, child, item.depth() + 1));
          }
        }
      }
    }
    return stacks;
  }

  /** A span name as one frame of a folded stack. */
  public static String frame(String name) {
    StringBuilder out = new StringBuilder(name.length());
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == ';') {
        out.append(':');
      } else if (Character.isISOControl(c)) {
        out.append(' ');
      } else if (Character.isHighSurrogate(c)
          && i + 1 < name.length()
          && Character.isLowSurrogate(name.charAt(i + 1))) {
        out.append(c).append(name.charAt(++i));
      } else if (Character.isSurrogate(c)) {
        out.append('\uFFFD');
      } else {
        out.append(c);
      }
    }
    return out.isEmpty() ? "?" : out.toString();
  }
}
