package dev.guesttrace.render;

import dev.guesttrace.span.CallPaths;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code guesttrace allocs}: the guest's allocation records (alloc: address and size; free:
 * address, size if the guest gave it) replayed in time order over every vCPU (guest memory is
 * shared by the vCPUs): allocations and frees per call path, live bytes at their peak and when, the
 * blocks never freed with the path that allocated them, and frees the replay cannot match (an
 * address not live: never allocated in the trace, or freed twice), counted.
 *
 * <p>The path of a record is the path of the span it happened in. Paths are bounded as in {@link
 * StatsRenderer} ({@link StatsRenderer#MAX_ROWS}, the rest in {@code (other)}); the walk is
 * iterative. Memory grows with the records of the trace, which the reader already bounds.
 */
public final class AllocsRenderer {
  /** Version of the JSON and CSV layout, in docs/formats.md. */
  public static final String SCHEMA = "guesttrace.allocs/1";

  /** Blocks never freed that the text and JSON list one by one (largest first); all are counted. */
  public static final int LISTED_LEAKS = 20;

  private AllocsRenderer() {}

  /**
   * Allocations and frees of one call path.
   *
   * @param path span names from the root joined with {@code ;}, repeats as {@code name×N}
   * @param allocs allocation records in spans of this path
   * @param allocBytes their bytes
   * @param frees free records in spans of this path that matched a live block
   * @param freedBytes the bytes of the blocks they freed (the sizes given at allocation)
   * @param liveBlocks blocks allocated here and never freed
   * @param liveBytes their bytes
   */
  public record PathRow(
      String path,
      long allocs,
      long allocBytes,
      long frees,
      long freedBytes,
      long liveBlocks,
      long liveBytes) {}

  /**
   * A block never freed.
   *
   * @param address guest address
   * @param bytes size given at allocation
   * @param timeNanos when it was allocated, ns since the run's start
   * @param vcpu the vCPU that allocated it
   * @param path the call path that allocated it
   */
  public record Leak(long address, long bytes, long timeNanos, int vcpu, String path) {}

  /**
   * The replay's result.
   *
   * @param rows per call path, most bytes allocated first
   * @param allocs allocation records
   * @param allocBytes their bytes
   * @param frees free records that matched a live block
   * @param freedBytes the bytes of those blocks
   * @param unknownFrees free records of an address not live (never allocated in the trace, or
   *     already freed)
   * @param reallocatedLive allocation records at an address still live (the old block is counted as
   *     gone without a free)
   * @param peakLiveBytes the most bytes live at once
   * @param peakLiveBlocks blocks live at that moment
   * @param peakTimeNanos when the peak was first reached, ns since the run's start
   * @param leakBlocks blocks never freed
   * @param leakBytes their bytes
   * @param leaks the largest blocks never freed, at most {@link #LISTED_LEAKS}
   */
  public record Report(
      List<PathRow> rows,
      long allocs,
      long allocBytes,
      long frees,
      long freedBytes,
      long unknownFrees,
      long reallocatedLive,
      long peakLiveBytes,
      long peakLiveBlocks,
      long peakTimeNanos,
      long leakBlocks,
      long leakBytes,
      List<Leak> leaks) {
    /** Copies the lists. */
    public Report {
      rows = List.copyOf(rows);
      leaks = List.copyOf(leaks);
    }
  }

  /** Replays the allocation records of {@code tree}. */
  public static Report compute(TraceTree tree) {
    long origin = RunWindow.of(tree).originNanos();
    Paths paths = new Paths();
    List<Event> events = new ArrayList<>();
    for (TraceTree.VcpuTree v : tree.vcpus()) {
      // Explicit stack of (span, path key): a guest decides how deep its spans nest.
      ArrayDeque<SpanNode> nodes = new ArrayDeque<>();
      ArrayDeque<Integer> parents = new ArrayDeque<>();
      for (int i = v.roots().size() - 1; i >= 0; i--) {
        nodes.push(v.roots().get(i));
        parents.push(-1);
      }
      while (!nodes.isEmpty()) {
        SpanNode node = nodes.pop();
        int key = paths.key(parents.pop(), TextTreeRenderer.label(node));
        for (SpanEvent ev : node.events()) {
          if (ev.kind() == SpanEvent.Kind.ALLOC || ev.kind() == SpanEvent.Kind.FREE) {
            events.add(new Event(ev, v.vcpu(), key));
          }
        }
        for (int i = node.children().size() - 1; i >= 0; i--) {
          nodes.push(node.children().get(i));
          parents.push(key);
        }
      }
    }
    // Time order across vCPUs; a stable sort keeps each vCPU's own record order on ties.
    events.sort(Comparator.comparingLong(e -> e.event.timeNanos()));

    long[] allocs = new long[paths.size()];
    long[] allocBytes = new long[paths.size()];
    long[] frees = new long[paths.size()];
    long[] freedBytes = new long[paths.size()];
    Map<Long, Event> live = new HashMap<>();
    long liveBytes = 0;
    long peakBytes = 0;
    long peakBlocks = 0;
    long peakTime = 0;
    long unknownFrees = 0;
    long reallocated = 0;
    long totalAllocs = 0;
    long totalAllocBytes = 0;
    long totalFrees = 0;
    long totalFreedBytes = 0;
    for (Event e : events) {
      SpanEvent ev = e.event;
      long size = Math.max(0, ev.value());
      if (ev.kind() == SpanEvent.Kind.ALLOC) {
        allocs[e.key]++;
        allocBytes[e.key] += size;
        totalAllocs++;
        totalAllocBytes += size;
        Event old = live.put(ev.address(), e);
        if (old != null) {
          reallocated++;
          liveBytes -= Math.max(0, old.event.value());
        }
        liveBytes += size;
        if (liveBytes > peakBytes) {
          peakBytes = liveBytes;
          peakBlocks = live.size();
          peakTime = ev.timeNanos() - origin;
        }
      } else {
        Event block = live.remove(ev.address());
        if (block == null) {
          unknownFrees++;
          continue;
        }
        long blockSize = Math.max(0, block.event.value());
        frees[e.key]++;
        freedBytes[e.key] += blockSize;
        totalFrees++;
        totalFreedBytes += blockSize;
        liveBytes -= blockSize;
      }
    }
    long[] liveBlocksByPath = new long[paths.size()];
    long[] liveBytesByPath = new long[paths.size()];
    List<Event> leaked = new ArrayList<>(live.values());
    long leakBytes = 0;
    for (Event e : leaked) {
      liveBlocksByPath[e.key]++;
      liveBytesByPath[e.key] += Math.max(0, e.event.value());
      leakBytes += Math.max(0, e.event.value());
    }
    leaked.sort(
        Comparator.comparingLong((Event e) -> e.event.value())
            .reversed()
            .thenComparingLong(e -> e.event.timeNanos()));
    List<Leak> listed = new ArrayList<>();
    for (Event e : leaked.subList(0, Math.min(LISTED_LEAKS, leaked.size()))) {
      listed.add(
          new Leak(
              e.event.address(),
              e.event.value(),
              e.event.timeNanos() - origin,
              e.vcpu,
              paths.label(e.key)));
    }
    List<PathRow> rows = new ArrayList<>();
    for (int k = 0; k < paths.size(); k++) {
      if (allocs[k] + frees[k] > 0) {
        rows.add(
            new PathRow(
                paths.label(k),
                allocs[k],
                allocBytes[k],
                frees[k],
                freedBytes[k],
                liveBlocksByPath[k],
                liveBytesByPath[k]));
      }
    }
    rows.sort(
        Comparator.comparingLong(PathRow::allocBytes)
            .reversed()
            .thenComparing(Comparator.comparingLong(PathRow::freedBytes).reversed())
            .thenComparing(PathRow::path));
    return new Report(
        rows,
        totalAllocs,
        totalAllocBytes,
        totalFrees,
        totalFreedBytes,
        unknownFrees,
        reallocated,
        peakBytes,
        peakBlocks,
        peakTime,
        leaked.size(),
        leakBytes,
        listed);
  }

  /** Writes the report in {@code format}. */
  public static void render(Report r, OutputFormat format, PrintWriter out) {
    switch (format) {
      case TEXT -> text(r, out);
      case JSON -> json(r, out);
      case CSV -> csv(r, out);
    }
    out.flush();
  }

  private static void text(Report r, PrintWriter out) {
    if (r.allocs() == 0 && r.frees() == 0 && r.unknownFrees() == 0) {
      out.println("no allocation records in this trace (the guest records them with alloc/free)");
      return;
    }
    out.printf(
        "allocations  %d (%s), %d freed (%s)%n",
        r.allocs(), bytes(r.allocBytes()), r.frees(), bytes(r.freedBytes()));
    out.printf(
        "peak live    %s in %d block%s, first at %s after the run's start%n",
        bytes(r.peakLiveBytes()),
        r.peakLiveBlocks(),
        r.peakLiveBlocks() == 1 ? "" : "s",
        Durations.duration(r.peakTimeNanos()));
    out.printf(
        "never freed  %d block%s, %s%n",
        r.leakBlocks(), r.leakBlocks() == 1 ? "" : "s", bytes(r.leakBytes()));
    out.printf(
        "unmatched    %d free%s of an address not live (never allocated in the trace, or freed"
            + " twice)%s%n",
        r.unknownFrees(),
        r.unknownFrees() == 1 ? "" : "s",
        r.reallocatedLive() > 0
            ? "; " + r.reallocatedLive() + " allocations at an address still live"
            : "");
    out.println();
    int width = "call path".length();
    for (PathRow row : r.rows()) {
      width = Math.max(width, row.path().length());
    }
    String format = "%-" + width + "s %8s %10s %8s %10s %8s %10s%n";
    out.printf(format, "call path", "allocs", "bytes", "frees", "freed", "live", "live bytes");
    for (PathRow row : r.rows()) {
      out.printf(
          format,
          row.path(),
          row.allocs(),
          bytes(row.allocBytes()),
          row.frees(),
          bytes(row.freedBytes()),
          row.liveBlocks(),
          bytes(row.liveBytes()));
    }
    if (!r.leaks().isEmpty()) {
      out.println();
      out.printf(
          "blocks never freed, largest first (%d of %d):%n", r.leaks().size(), r.leakBlocks());
      for (Leak leak : r.leaks()) {
        out.printf(
            "  0x%x %s allocated at %s on vCPU %d in %s%n",
            leak.address(),
            bytes(leak.bytes()),
            Durations.duration(leak.timeNanos()),
            leak.vcpu(),
            leak.path());
      }
    }
  }

  /** Bytes as people read them: {@code 512 B}, {@code 3.5 KiB}, {@code 12.25 MiB}. */
  static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : "%.3g %s", v, units[u]);
  }

  private static void json(Report r, PrintWriter out) {
    List<String> rows = new ArrayList<>();
    for (PathRow row : r.rows()) {
      rows.add(
          "\n"
              + new Json.Obj()
                  .field("path", row.path())
                  .field("allocs", row.allocs())
                  .field("alloc_bytes", row.allocBytes())
                  .field("frees", row.frees())
                  .field("freed_bytes", row.freedBytes())
                  .field("live_blocks", row.liveBlocks())
                  .field("live_bytes", row.liveBytes()));
    }
    List<String> leaks = new ArrayList<>();
    for (Leak leak : r.leaks()) {
      leaks.add(
          "\n"
              + new Json.Obj()
                  .field("address", leak.address())
                  .field("bytes", leak.bytes())
                  .field("time_ns", leak.timeNanos())
                  .field("vcpu", (long) leak.vcpu())
                  .field("path", leak.path()));
    }
    out.println(
        new Json.Obj()
            .field("schema", SCHEMA)
            .field("allocs", r.allocs())
            .field("alloc_bytes", r.allocBytes())
            .field("frees", r.frees())
            .field("freed_bytes", r.freedBytes())
            .field("unknown_frees", r.unknownFrees())
            .field("allocs_at_live_address", r.reallocatedLive())
            .raw(
                "peak",
                new Json.Obj()
                    .field("live_bytes", r.peakLiveBytes())
                    .field("live_blocks", r.peakLiveBlocks())
                    .field("time_ns", r.peakTimeNanos())
                    .toString())
            .raw(
                "never_freed",
                new Json.Obj()
                    .field("blocks", r.leakBlocks())
                    .field("bytes", r.leakBytes())
                    .raw("largest", Json.array(leaks))
                    .toString())
            .raw("paths", Json.array(rows)));
  }

  private static void csv(Report r, PrintWriter out) {
    out.println("path,allocs,alloc_bytes,frees,freed_bytes,live_blocks,live_bytes");
    for (PathRow row : r.rows()) {
      out.println(
          Json.csv(row.path())
              + ','
              + row.allocs()
              + ','
              + row.allocBytes()
              + ','
              + row.frees()
              + ','
              + row.freedBytes()
              + ','
              + row.liveBlocks()
              + ','
              + row.liveBytes());
    }
  }

  /** An alloc or free record with where it happened. */
  private record Event(SpanEvent event, int vcpu, int key) {}

  /** Call paths interned as (parent key, name) pairs, bounded like the statistics' rows. */
  private static final class Paths {
    final Map<String, Integer> nameIds = new HashMap<>();
    final List<String> names = new ArrayList<>();
    final Map<Long, Integer> keys = new HashMap<>();
    final List<int[]> parentAndName = new ArrayList<>();
    int other = -1;

    int size() {
      return parentAndName.size();
    }

    int key(int parent, String name) {
      if (parent >= 0 && parent == other) {
        return other;
      }
      Integer nameId = nameIds.get(name);
      if (nameId == null) {
        if (parentAndName.size() >= StatsRenderer.MAX_ROWS) {
          return other();
        }
        nameId = names.size();
        nameIds.put(name, nameId);
        names.add(name);
      }
      long packed = ((long) (parent + 1) << 32) | nameId;
      Integer key = keys.get(packed);
      if (key == null) {
        if (parentAndName.size() >= StatsRenderer.MAX_ROWS) {
          return other();
        }
        key = parentAndName.size();
        keys.put(packed, key);
        parentAndName.add(new int[] {parent, nameId});
      }
      return key;
    }

    private int other() {
      if (other < 0) {
        other = parentAndName.size();
        parentAndName.add(new int[] {-1, -1});
      }
      return other;
    }

    String label(int key) {
      if (key == other) {
        return StatsRenderer.OTHER;
      }
      List<String> path = new ArrayList<>();
      for (int k = key; k >= 0; k = parentAndName.get(k)[0]) {
        path.add(names.get(parentAndName.get(k)[1]));
      }
      Collections.reverse(path);
      return String.join(";", CallPaths.collapse(path));
    }
  }
}
