package dev.guesttrace.span;

import java.util.ArrayList;
import java.util.List;

/**
 * How deep the views that name a span by its call path (folded stacks, the flame graph, compare)
 * go. A path is the names from the root down, so its text grows with depth, and a guest that nests
 * a million spans would make a million paths of up to a million frames each: quadratic in the
 * input. Below {@link #MAX_FRAMES} frames, a span and everything under it is merged into one frame,
 * {@link #DEEPER_FRAME}, that carries their time: nothing is lost from the totals, only the detail
 * of what is deeper.
 */
public final class CallPaths {
  /** The deepest frame a path keeps; the frame below it is {@link #DEEPER_FRAME}. */
  public static final int MAX_FRAMES = 1024;

  /** The frame that stands for every span deeper than {@link #MAX_FRAMES} under a path. */
  public static final String DEEPER_FRAME = "(deeper than " + MAX_FRAMES + " frames)";

  private CallPaths() {}

  /**
   * Consecutive equal frames as one with a count: {@code fib;fib;fib} as {@code fib×3}, so a deep
   * recursion reads as one frame (stats, allocs and compare name paths this way).
   *
   * @param frames root first
   */
  public static List<String> collapse(List<String> frames) {
    List<String> out = new ArrayList<>();
    int i = 0;
    while (i < frames.size()) {
      int j = i;
      while (j < frames.size() && frames.get(j).equals(frames.get(i))) {
        j++;
      }
      out.add(j - i == 1 ? frames.get(i) : frames.get(i) + "×" + (j - i));
      i = j;
    }
    return out;
  }
}
