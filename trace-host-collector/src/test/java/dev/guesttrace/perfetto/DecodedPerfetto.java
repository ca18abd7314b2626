package dev.guesttrace.perfetto;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.perfetto.proto.DebugAnnotation;
import dev.guesttrace.perfetto.proto.DebugAnnotationName;
import dev.guesttrace.perfetto.proto.EventCategory;
import dev.guesttrace.perfetto.proto.EventName;
import dev.guesttrace.perfetto.proto.Trace;
import dev.guesttrace.perfetto.proto.TracePacket;
import dev.guesttrace.perfetto.proto.TrackDescriptor;
import dev.guesttrace.perfetto.proto.TrackEvent;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.Inflater;

/**
 * A .pftrace decoded with the project's copy of Perfetto's messages the way Perfetto's trace
 * processor reads it: compressed groups inflated, interning tables per sequence (reset where a
 * packet clears incremental state, a reference to an unknown id fails the test), slices rebuilt
 * from BEGIN/END pairs per track.
 */
final class DecodedPerfetto {
  /** A slice: its track's name, its name and category, times, the enclosing slice on its track. */
  record Slice(
      String track,
      String name,
      String category,
      long start,
      long end,
      String parent,
      Map<String, String> args,
      List<Long> flowIds,
      List<Long> terminatingFlowIds) {
    String describe() {
      return track
          + ": "
          + name
          + " ["
          + start
          + ", "
          + end
          + "] in "
          + (start == end ? "?" : parent);
    }
  }

  final Map<Long, TrackDescriptor> tracks = new LinkedHashMap<>();
  final List<Slice> slices = new ArrayList<>();

  /** {@code track@ns=value} per counter sample, in file order. */
  final List<String> counters = new ArrayList<>();

  /** {@code track@ns name} per instant, in file order. */
  final List<String> instants = new ArrayList<>();

  int packets;
  int compressedGroups;

  /** How often each name was interned. */
  final Map<String, Integer> internedNames = new HashMap<>();

  static DecodedPerfetto decode(byte[] file) throws Exception {
    DecodedPerfetto d = new DecodedPerfetto();
    List<TracePacket> packets = new ArrayList<>();
    for (TracePacket p : Trace.parseFrom(file).getPacketList()) {
      if (p.hasCompressedPackets()) {
        d.compressedGroups++;
        assertThat(p.getSerializedSize()).isLessThan(512 * 1024);
        packets.addAll(
            Trace.parseFrom(inflate(p.getCompressedPackets().toByteArray())).getPacketList());
      } else {
        packets.add(p);
      }
    }
    d.read(packets);
    return d;
  }

  private static byte[] inflate(byte[] data) throws Exception {
    Inflater inflater = new Inflater();
    inflater.setInput(data);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[65536];
    while (!inflater.finished()) {
      int n = inflater.inflate(buffer);
      if (n == 0 && inflater.needsInput()) {
        throw new IllegalStateException("truncated compressed group");
      }
      out.write(buffer, 0, n);
    }
    inflater.end();
    return out.toByteArray();
  }

  private void read(List<TracePacket> list) {
    Map<Long, String> names = new HashMap<>();
    Map<Long, String> categories = new HashMap<>();
    Map<Long, String> annotationNames = new HashMap<>();
    Map<Long, Deque<Object[]>> open = new HashMap<>();
    boolean stateValid = false;
    for (TracePacket p : list) {
      packets++;
      check(p.getTrustedPacketSequenceId() == 1, "sequence id 1");
      if ((p.getSequenceFlags() & TracePacket.SequenceFlags.SEQ_INCREMENTAL_STATE_CLEARED_VALUE)
          != 0) {
        names.clear();
        categories.clear();
        annotationNames.clear();
        stateValid = true;
      }
      if ((p.getSequenceFlags() & TracePacket.SequenceFlags.SEQ_NEEDS_INCREMENTAL_STATE_VALUE)
          != 0) {
        check(stateValid, "incremental state cleared before it is needed");
      }
      for (EventName n : p.getInternedData().getEventNamesList()) {
        check(names.put(n.getIid(), n.getName()) == null, "name iid reused");
        internedNames.merge(n.getName(), 1, Integer::sum);
      }
      for (EventCategory c : p.getInternedData().getEventCategoriesList()) {
        check(categories.put(c.getIid(), c.getName()) == null, "category iid reused");
      }
      for (DebugAnnotationName n : p.getInternedData().getDebugAnnotationNamesList()) {
        check(annotationNames.put(n.getIid(), n.getName()) == null, "annotation iid reused");
      }
      if (p.hasTrackDescriptor()) {
        TrackDescriptor t = p.getTrackDescriptor();
        check(tracks.put(t.getUuid(), t) == null, "track described twice");
        check(
            !t.hasParentUuid() || tracks.containsKey(t.getParentUuid()), "parent described first");
        continue;
      }
      if (!p.hasTrackEvent()) {
        continue;
      }
      TrackEvent e = p.getTrackEvent();
      check(tracks.containsKey(e.getTrackUuid()), "track of an event described first");
      String track = trackName(e.getTrackUuid());
      long ts = p.getTimestamp();
      switch (e.getType()) {
        case TYPE_SLICE_BEGIN -> {
          check(names.containsKey(e.getNameIid()), "name iid known");
          Map<String, String> args = new TreeMap<>();
          for (DebugAnnotation a : e.getDebugAnnotationsList()) {
            check(annotationNames.containsKey(a.getNameIid()), "annotation iid known");
            args.put(
                annotationNames.get(a.getNameIid()),
                a.hasBoolValue()
                    ? Boolean.toString(a.getBoolValue())
                    : Long.toString(a.getIntValue()));
          }
          check(e.getCategoryIidsCount() == 1, "one category");
          check(categories.containsKey(e.getCategoryIids(0)), "category iid known");
          open.computeIfAbsent(e.getTrackUuid(), k -> new ArrayDeque<>())
              .push(
                  new Object[] {
                    names.get(e.getNameIid()),
                    categories.get(e.getCategoryIids(0)),
                    ts,
                    args,
                    e.getFlowIdsList(),
                    e.getTerminatingFlowIdsList()
                  });
        }
        case TYPE_SLICE_END -> {
          Deque<Object[]> stack = open.get(e.getTrackUuid());
          check(stack != null && !stack.isEmpty(), "END after a BEGIN");
          Object[] b = stack.pop();
          long start = (Long) b[2];
          check(ts >= start, "END at or after BEGIN");
          String parent = stack.isEmpty() ? null : (String) stack.peek()[0];
          @SuppressWarnings("unchecked")
          Slice slice =
              new Slice(
                  track,
                  (String) b[0],
                  (String) b[1],
                  start,
                  ts,
                  parent,
                  (Map<String, String>) b[3],
                  (List<Long>) b[4],
                  (List<Long>) b[5]);
          slices.add(slice);
        }
        case TYPE_INSTANT -> instants.add(track + "@" + ts + " " + e.getName());
        case TYPE_COUNTER -> counters.add(track + "@" + ts + "=" + e.getCounterValue());
        default -> throw new AssertionError("event type " + e.getType());
      }
    }
    for (Deque<Object[]> stack : open.values()) {
      assertThat(stack).as("every BEGIN ended").isEmpty();
    }
  }

  /** Cheap check for the per-packet path (millions of packets). */
  private static void check(boolean condition, String what) {
    if (!condition) {
      throw new AssertionError("not a valid trace: " + what);
    }
  }

  String trackName(long uuid) {
    TrackDescriptor t = tracks.get(uuid);
    if (t.hasThread()) {
      return t.getThread().getThreadName();
    }
    if (t.hasProcess()) {
      return t.getProcess().getProcessName();
    }
    return t.getName();
  }

  /** Slices per track, described and sorted. */
  Map<String, List<String>> describedSlices() {
    Map<String, List<String>> result = new TreeMap<>();
    for (Slice s : slices) {
      result.computeIfAbsent(s.track(), k -> new ArrayList<>()).add(s.describe());
    }
    result.values().forEach(l -> l.sort(null));
    return result;
  }

  /** Each flow as {@code source -> destination}, by slice names; each id used exactly twice. */
  List<String> flows() {
    Map<Long, String> sources = new HashMap<>();
    Map<Long, String> destinations = new HashMap<>();
    for (Slice s : slices) {
      for (long id : s.flowIds()) {
        assertThat(sources.put(id, s.name())).isNull();
      }
      for (long id : s.terminatingFlowIds()) {
        assertThat(destinations.put(id, s.name())).isNull();
      }
    }
    assertThat(destinations.keySet()).isEqualTo(sources.keySet());
    List<String> flows = new ArrayList<>();
    sources.forEach((id, source) -> flows.add(source + " -> " + destinations.get(id)));
    flows.sort(null);
    return flows;
  }
}
