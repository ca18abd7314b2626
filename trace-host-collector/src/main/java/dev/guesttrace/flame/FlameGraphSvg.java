package dev.guesttrace.flame;

import dev.guesttrace.compare.Durations;
import dev.guesttrace.render.Xml;
import dev.guesttrace.span.CallPaths;
import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;

/**
 * Draws a run as a self-contained SVG flame graph (no scripts, no external fonts): spans merged by
 * call path, the root at the bottom, each frame as wide as its inclusive time, children sorted by
 * name as flamegraph.pl does. Labels are cut to fit their frame; every frame's tooltip gives the
 * full name, its time, its share of the whole, its self time and how many spans it merges. Guest
 * frames are warm colors and host frames (run, guest call, host call) blue-green, each hue a stable
 * hash of the name, so the same function has the same color in every graph.
 */
public final class FlameGraphSvg {
  static final int WIDTH = 1200;
  static final int FRAME_HEIGHT = 18;
  private static final int PAD = 10;
  private static final int TOP = 62;
  private static final int BOTTOM = 30;
  private static final double FONT_SIZE = 12;

  /** Average advance of a Verdana/DejaVu Sans character at 12 px, for cutting labels to fit. */
  private static final double CHAR_WIDTH = 7.0;

  /** Frames narrower than this are not drawn (flamegraph.pl's minwidth). */
  private static final double MIN_WIDTH = 0.1;

  private static final String FONT = "Verdana, DejaVu Sans, Helvetica, Arial, sans-serif";

  private FlameGraphSvg() {}

  /** Draws the run with the vCPUs merged; does not close {@code out}. */
  public static void write(TraceTree tree, Writer out) throws IOException {
    write(tree, out, false);
  }

  /**
   * Draws the run; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the SVG document goes (UTF-8 text)
   * @param perVcpu whether each vCPU gets its own frame above the root
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, Writer out, boolean perVcpu) throws IOException {
    out.write(svg(tree, perVcpu));
    out.flush();
  }

  /** A call path merged over all its spans. */
  static final class Frame {
    final String name;
    boolean host;
    long totalNanos;
    long selfNanos;
    long count;
    final TreeMap<String, Frame> children = new TreeMap<>();

    Frame(String name, boolean host) {
      this.name = name;
      this.host = host;
    }

    Frame child(String name, boolean host) {
      Frame child = children.computeIfAbsent(name, n -> new Frame(n, host));
      // A path that is host in any run of spans stays host-colored: the host made it.
      child.host |= host;
      return child;
    }
  }

  /** Merges the run's spans by path under a synthetic {@code all} root. */
  static Frame merge(TraceTree tree, boolean perVcpu) {
    Frame all = new Frame("all", false);
    record Item(Frame parent, SpanNode node, int depth) {}
    for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
      Frame base = perVcpu ? all.child("vcpu " + vcpu.vcpu(), true) : all;
      ArrayList<Item> work = new ArrayList<>();
      for (SpanNode root : vcpu.roots()) {
        work.add(new Item(base, root, 0));
        base.totalNanos += perVcpu ? root.durationNanos() : 0;
        base.count += perVcpu ? 1 : 0;
      }
      while (!work.isEmpty()) {
        Item item = work.removeLast();
        SpanNode node = item.node();
        if (item.depth() == CallPaths.MAX_FRAMES) {
          // Deeper than a graph can show (or a path can name): one frame holds it all.
          Frame deeper = item.parent().child(CallPaths.DEEPER_FRAME, node.kind().isHost());
          deeper.totalNanos += node.durationNanos();
          deeper.selfNanos += node.subtreeSelfNanos();
          deeper.count += node.subtreeSize();
          continue;
        }
        Frame frame = item.parent().child(node.name(), node.kind().isHost());
        frame.totalNanos += node.durationNanos();
        frame.selfNanos += node.selfNanos();
        frame.count++;
        for (SpanNode child : node.children()) {
          work.add(new Item(frame, child, item.depth() + 1));
        }
      }
    }
    for (Frame top : all.children.values()) {
      all.totalNanos += top.totalNanos;
    }
    all.count = 1;
    return all;
  }

  private static String svg(TraceTree tree, boolean perVcpu) {
    Frame all = merge(tree, perVcpu);
    record Placed(Frame frame, double x, double width, int depth) {}
    List<Placed> placed = new ArrayList<>();
    double scale = (WIDTH - 2.0 * PAD) / Math.max(1, all.totalNanos);
    ArrayList<Placed> work = new ArrayList<>();
    work.add(new Placed(all, PAD, all.totalNanos * scale, 0));
    int maxDepth = 0;
    while (!work.isEmpty()) {
      Placed p = work.removeLast();
      placed.add(p);
      maxDepth = Math.max(maxDepth, p.depth());
      long childSum = 0;
      for (Frame child : p.frame().children.values()) {
        childSum += child.totalNanos;
      }
      // Children that overlap in bad data can add up to more than their parent: squeeze them.
      double childScale =
          childSum > p.frame().totalNanos && childSum > 0
              ? p.width() / childSum
              : p.width() / Math.max(1, p.frame().totalNanos);
      double x = p.x();
      for (Frame child : p.frame().children.values()) {
        double width = child.totalNanos * childScale;
        if (width >= MIN_WIDTH) {
          work.add(new Placed(child, x, width, p.depth() + 1));
        }
        x += width;
      }
    }

    int height = TOP + (maxDepth + 1) * FRAME_HEIGHT + BOTTOM;
    StringBuilder svg = new StringBuilder(128 * placed.size() + 1024);
    svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .append(WIDTH)
        .append("\" height=\"")
        .append(height)
        .append("\" viewBox=\"0 0 ")
        .append(WIDTH)
        .append(' ')
        .append(height)
        .append("\" font-family=\"")
        .append(FONT)
        .append("\" font-size=\"")
        .append(num(FONT_SIZE))
        .append("\">\n");
    RunSummary s = tree.summary();
    String title = "Flame graph: " + s.guest() + " (" + s.backend() + ") on " + s.hostName();
    svg.append("<title>").append(Xml.escape(title)).append("</title>\n");
    svg.append("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#f8f8f4\"/>\n");
    svg.append("<text x=\"")
        .append(WIDTH / 2)
        .append("\" y=\"24\" font-size=\"17\" font-weight=\"bold\" text-anchor=\"middle\">")
        .append(Xml.escape(title))
        .append("</text>\n");
    String subtitle =
        String.format(
            Locale.ROOT,
            "width = inclusive time, %s in all (calibrated, TSC %.3f GHz); %s; warm: guest,"
                + " blue-green: host; hover a frame for details",
            Durations.format(all.totalNanos),
            s.ticksPerSecond() / 1e9,
            perVcpu ? "one tower per vCPU" : "vCPUs merged");
    svg.append("<text x=\"")
        .append(WIDTH / 2)
        .append("\" y=\"46\" fill=\"#555\" text-anchor=\"middle\">")
        .append(Xml.escape(subtitle))
        .append("</text>\n");

    int baseY = height - BOTTOM - FRAME_HEIGHT;
    for (Placed p : placed) {
      Frame f = p.frame();
      double y = baseY - p.depth() * FRAME_HEIGHT;
      double percent = all.totalNanos == 0 ? 100 : 100.0 * f.totalNanos / all.totalNanos;
      String tooltip =
          String.format(
              Locale.ROOT,
              "%s (%s, %.2f%%; self %s; %d span%s)",
              f.name,
              Durations.format(f.totalNanos),
              percent,
              Durations.format(f.selfNanos),
              f.count,
              f.count == 1 ? "" : "s");
      svg.append("<g><title>").append(Xml.escape(tooltip)).append("</title>");
      svg.append("<rect x=\"")
          .append(num(p.x()))
          .append("\" y=\"")
          .append(num(y))
          .append("\" width=\"")
          .append(num(p.width()))
          .append("\" height=\"")
          .append(FRAME_HEIGHT - 1)
          .append("\" rx=\"2\" fill=\"")
          .append(p.depth() == 0 ? "rgb(200,200,200)" : color(f.name, f.host))
          .append("\"/>");
      String label = label(f.name, p.width());
      if (!label.isEmpty()) {
        svg.append("<text x=\"")
            .append(num(p.x() + 3))
            .append("\" y=\"")
            .append(num(y + FRAME_HEIGHT - 5))
            .append("\">")
            .append(Xml.escape(label))
            .append("</text>");
      }
      svg.append("</g>\n");
    }
    svg.append("</svg>\n");
    return svg.toString();
  }

  /** The name cut to fit {@code widthPx}, ending in {@code ..} when cut; empty if nothing fits. */
  static String label(String name, double widthPx) {
    int fits = (int) ((widthPx - 6) / CHAR_WIDTH);
    int length = name.codePointCount(0, name.length());
    if (fits >= length) {
      return name;
    }
    if (fits < 3) {
      return "";
    }
    return name.substring(0, name.offsetByCodePoints(0, fits - 2)) + "..";
  }

  /**
   * A stable color for a frame: guest frames in flamegraph.pl's warm palette, host frames in
   * blue-green, the exact shade from an FNV-1a hash of the name's UTF-8 bytes: the same name gets
   * the same color in every graph, and similar names (fib, fib2) still get different shades.
   */
  static String color(String name, boolean host) {
    int hash = 0x811c9dc5;
    for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
      hash ^= b & 0xff;
      hash *= 0x01000193;
    }
    double v1 = ((hash >>> 16) & 0xff) / 255.0;
    double v2 = ((hash >>> 8) & 0xff) / 255.0;
    double v3 = (hash & 0xff) / 255.0;
    int r;
    int g;
    int b;
    if (host) {
      r = (int) (40 + 60 * v1);
      g = (int) (150 + 70 * v2);
      b = (int) (180 + 60 * v3);
    } else {
      r = (int) (205 + 50 * v3);
      g = (int) (60 + 170 * v1);
      b = (int) (30 + 40 * v2);
    }
    return "rgb(" + r + "," + g + "," + b + ")";
  }

  private static String num(double v) {
    String s = String.format(Locale.ROOT, "%.2f", v);
    if (s.indexOf('.') >= 0) {
      s = s.replaceAll("0+$", "");
      s = s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }
    return s;
  }
}
