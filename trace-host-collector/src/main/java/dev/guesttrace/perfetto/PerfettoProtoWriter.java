package dev.guesttrace.perfetto;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.guesttrace.perfetto.PerfettoJsonWriter.ClippedSpans;
import dev.guesttrace.perfetto.proto.CounterDescriptor;
import dev.guesttrace.perfetto.proto.DebugAnnotation;
import dev.guesttrace.perfetto.proto.DebugAnnotationName;
import dev.guesttrace.perfetto.proto.EventCategory;
import dev.guesttrace.perfetto.proto.EventName;
import dev.guesttrace.perfetto.proto.InternedData;
import dev.guesttrace.perfetto.proto.ProcessDescriptor;
import dev.guesttrace.perfetto.proto.ThreadDescriptor;
import dev.guesttrace.perfetto.proto.TracePacket;
import dev.guesttrace.perfetto.proto.TrackDescriptor;
import dev.guesttrace.perfetto.proto.TrackEvent;
import dev.guesttrace.span.RunSummary;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;

/**
 * Writes a run in Perfetto's native protobuf trace format ({@code .pftrace}), which ui.perfetto.dev
 * and Perfetto's trace processor open. The messages are the subset declared in {@code
 * guesttrace/perfetto/v1/perfetto_trace.proto}, with Perfetto's field numbers.
 *
 * <ul>
 *   <li>Tracks: the VM is a process (pid 1) named after guest, backend and host. Each vCPU has a
 *       thread track {@code vcpu N} (tid {@code N+1}, as in the JSON) with the guest's spans and
 *       messages; a track {@code host} holds one child track {@code vcpu N host} per vCPU with the
 *       host's spans (run, guest calls, host calls, trace exits). Counters are counter tracks under
 *       their vCPU's thread: {@code heap live bytes} (from allocations and frees) and one per
 *       counter name the guest used.
 *   <li>Spans are slices (a BEGIN and an END event) at the same clipped nanoseconds as the JSON
 *       ({@link PerfettoJsonWriter}): clipped into the parent, after the previous sibling, never
 *       before the run. A slice's category is its kind ({@code guest}, {@code host_call}, ...); its
 *       arguments are debug annotations ({@code arg0}, {@code arg1} when not zero, {@code
 *       unclosed}, {@code clipped} when true).
 *   <li>Where the span tree crosses between guest and host (a guest call's guest spans, a guest
 *       span's host calls and trace exits), the two slices are joined by a flow (an arrow in the
 *       UI), at most {@value #MAX_FLOWS_PER_SPAN} per span.
 *   <li>Names, categories and annotation names are interned on the one packet sequence: each is
 *       written once, in the packet that first uses it, and referred to by a small id after that.
 *   <li>The file is written as a stream, packet by packet while the tree is walked (iteratively);
 *       by default packets go out in deflate-compressed groups of about {@value #CHUNK_BYTES} bytes
 *       ({@code compressed_packets}, which Perfetto's trace processor inflates), so memory stays at
 *       one group plus the tree.
 * </ul>
 */
public final class PerfettoProtoWriter {
  /** Most flows drawn from one span; a guest span with more host calls links the first ones. */
  public static final int MAX_FLOWS_PER_SPAN = 1000;

  /** Uncompressed bytes of packets per compressed group; Perfetto wants groups under 512 KB. */
  static final int CHUNK_BYTES = 128 * 1024;

  /** The one packet sequence of the file. */
  static final int SEQUENCE_ID = 1;

  static final long PROCESS_UUID = 1;
  static final long HOST_UUID = 2;

  /**
   * How to write.
   *
   * @param compress whether packets go out deflate-compressed in groups (smaller; every Perfetto
   *     release of recent years reads it); off writes plain packets that any protobuf decoder reads
   */
  public record Options(boolean compress) {
    /** The default: compressed. */
    public static final Options DEFAULT = new Options(true);
  }

  private PerfettoProtoWriter() {}

  /**
   * Writes the trace with the default options; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the trace goes
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, OutputStream out) throws IOException {
    write(tree, out, Options.DEFAULT);
  }

  /**
   * Writes the trace; does not close {@code out}.
   *
   * @param tree the run
   * @param out where the trace goes
   * @param options how to write
   * @throws IOException if writing fails
   */
  public static void write(TraceTree tree, OutputStream out, Options options) throws IOException {
    PacketOut packets = options.compress() ? new CompressedPackets(out) : new PlainPackets(out);
    new Emitter(tree, packets).emit();
    packets.finish();
  }

  /** Where packets go: each as field 1 of the file's Trace message. */
  private interface PacketOut {
    void write(TracePacket packet) throws IOException;

    void finish() throws IOException;
  }

  private static final class PlainPackets implements PacketOut {
    private final OutputStream out;
    private final CodedOutputStream coded;

    PlainPackets(OutputStream out) {
      this.out = out;
      this.coded = CodedOutputStream.newInstance(out, 1 << 16);
    }

    @Override
    public void write(TracePacket packet) throws IOException {
      coded.writeMessage(1, packet);
    }

    @Override
    public void finish() throws IOException {
      coded.flush();
      out.flush();
    }
  }

  /** Groups packets, deflates each group into one {@code compressed_packets} packet. */
  private static final class CompressedPackets implements PacketOut {
    private final OutputStream out;
    private final CodedOutputStream coded;
    private final ByteArrayOutputStream group = new ByteArrayOutputStream(CHUNK_BYTES + 4096);
    private CodedOutputStream groupCoded = CodedOutputStream.newInstance(group, 4096);
    private final Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION);
    private final byte[] buffer = new byte[64 * 1024];
    private final ByteArrayOutputStream compressed = new ByteArrayOutputStream();

    CompressedPackets(OutputStream out) {
      this.out = out;
      this.coded = CodedOutputStream.newInstance(out, 1 << 16);
    }

    @Override
    public void write(TracePacket packet) throws IOException {
      groupCoded.writeMessage(1, packet);
      if (groupCoded.getTotalBytesWritten() >= CHUNK_BYTES) {
        flushGroup();
      }
    }

    private void flushGroup() throws IOException {
      groupCoded.flush();
      if (group.size() == 0) {
        return;
      }
      deflater.reset();
      deflater.setInput(group.toByteArray());
      deflater.finish();
      compressed.reset();
      while (!deflater.finished()) {
        int n = deflater.deflate(buffer);
        compressed.write(buffer, 0, n);
      }
      coded.writeMessage(
          1,
          TracePacket.newBuilder()
              .setCompressedPackets(ByteString.copyFrom(compressed.toByteArray()))
              .build());
      group.reset();
      // A fresh encoder: getTotalBytesWritten counts from its creation.
      groupCoded = CodedOutputStream.newInstance(group, 4096);
    }

    @Override
    public void finish() throws IOException {
      flushGroup();
      deflater.end();
      coded.flush();
      out.flush();
    }
  }

  /**
   * {@code value} with lone surrogates (never valid Unicode, and encoded as {@code ?} by protobuf)
   * replaced by U+FFFD, as the JSON writer does.
   */
  static String text(String value) {
    for (int i = 0; i < value.length(); i++) {
      if (Character.isSurrogate(value.charAt(i))) {
        StringBuilder out = new StringBuilder(value.length());
        for (int j = 0; j < value.length(); j++) {
          char c = value.charAt(j);
          if (Character.isHighSurrogate(c)
              && j + 1 < value.length()
              && Character.isLowSurrogate(value.charAt(j + 1))) {
            out.append(c).append(value.charAt(++j));
          } else {
            out.append(Character.isSurrogate(c) ? '\uFFFD' : c);
          }
        }
        return out.toString();
      }
    }
    return value;
  }

  private static final class Emitter {
    private final TraceTree tree;
    private final PacketOut out;
    private final Map<String, Long> names = new HashMap<>();
    private final Map<String, Long> categories = new HashMap<>();
    private final Map<String, Long> annotationNames = new HashMap<>();
    private final Map<String, Long> counterTracks = new HashMap<>();
    private final Map<SpanNode, Long> pendingFlows = new IdentityHashMap<>();
    private InternedData.Builder interned;
    private boolean firstPacket = true;
    private long nextUuid = HOST_UUID + 1;
    private long nextFlowId = 1;

    Emitter(TraceTree tree, PacketOut out) {
      this.tree = tree;
      this.out = out;
    }

    void emit() throws IOException {
      RunSummary s = tree.summary();
      String processName = s.guest() + " (" + s.backend() + ") on " + s.hostName();
      descriptor(
          TrackDescriptor.newBuilder()
              .setUuid(PROCESS_UUID)
              .setProcess(
                  ProcessDescriptor.newBuilder()
                      .setPid(PerfettoJsonWriter.PID)
                      .setProcessName(text(processName))));
      descriptor(
          TrackDescriptor.newBuilder()
              .setUuid(HOST_UUID)
              .setParentUuid(PROCESS_UUID)
              .setName("host"));
      for (TraceTree.VcpuTree vcpu : tree.vcpus()) {
        vcpu(vcpu);
      }
    }

    private void vcpu(TraceTree.VcpuTree vcpu) throws IOException {
      int v = vcpu.vcpu();
      long guestTrack = nextUuid++;
      long hostTrack = nextUuid++;
      descriptor(
          // A thread track names its process by pid, as Perfetto's examples do; no parent_uuid.
          TrackDescriptor.newBuilder()
              .setUuid(guestTrack)
              .setThread(
                  ThreadDescriptor.newBuilder()
                      .setPid(PerfettoJsonWriter.PID)
                      .setTid(PerfettoJsonWriter.tid(v))
                      .setThreadName("vcpu " + v)));
      descriptor(
          TrackDescriptor.newBuilder()
              .setUuid(hostTrack)
              .setParentUuid(HOST_UUID)
              .setName("vcpu " + v + " host"));
      record Timed(long timeNanos, SpanEvent event, long track) {}
      List<Timed> events = new ArrayList<>();
      ClippedSpans.walk(
          vcpu.roots(),
          new PerfettoJsonWriter.ClippedSpanVisitor() {
            @Override
            public void span(SpanNode node, int depth, long start, long end, boolean clipped)
                throws IOException {
              long track = node.kind().isHost() ? hostTrack : guestTrack;
              begin(node, track, start, clipped);
              for (SpanEvent e : node.events()) {
                events.add(new Timed(Math.min(Math.max(e.timeNanos(), start), end), e, track));
              }
            }

            @Override
            public void end(SpanNode node, int depth, long start, long end) throws IOException {
              long track = node.kind().isHost() ? hostTrack : guestTrack;
              TrackEvent.Builder event =
                  TrackEvent.newBuilder()
                      .setType(TrackEvent.Type.TYPE_SLICE_END)
                      .setTrackUuid(track);
              packet(end, event);
            }
          });
      // Stable: events of one span keep their recorded order when their times are equal.
      events.sort(Comparator.comparingLong(Timed::timeNanos));
      Map<Long, Long> liveByAddress = new HashMap<>();
      long live = 0;
      for (Timed timed : events) {
        SpanEvent e = timed.event();
        switch (e.kind()) {
          case MESSAGE ->
              packet(
                  timed.timeNanos(),
                  TrackEvent.newBuilder()
                      .setType(TrackEvent.Type.TYPE_INSTANT)
                      .setTrackUuid(timed.track())
                      .addCategoryIids(category("message"))
                      .setName(text(e.text())));
          case ALLOC, FREE -> {
            if (e.kind() == SpanEvent.Kind.ALLOC) {
              Long previous = liveByAddress.put(e.address(), e.value());
              live += e.value() - (previous == null ? 0 : previous);
            } else {
              Long size = liveByAddress.remove(e.address());
              live -= size != null ? size : e.value();
            }
            live = Math.max(0, live);
            counter(
                v,
                guestTrack,
                "heap live bytes",
                CounterDescriptor.Unit.UNIT_SIZE_BYTES,
                timed.timeNanos(),
                live);
          }
          case COUNTER ->
              counter(
                  v,
                  guestTrack,
                  e.text(),
                  CounterDescriptor.Unit.UNIT_UNSPECIFIED,
                  timed.timeNanos(),
                  e.value());
        }
      }
    }

    private void begin(SpanNode node, long track, long start, boolean clipped) throws IOException {
      TrackEvent.Builder event =
          TrackEvent.newBuilder()
              .setType(TrackEvent.Type.TYPE_SLICE_BEGIN)
              .setTrackUuid(track)
              .setNameIid(name(node.name()))
              .addCategoryIids(category(PerfettoJsonWriter.kindName(node)));
      if (!node.kind().isHost()) {
        if (node.arg0() != 0) {
          event.addDebugAnnotations(
              DebugAnnotation.newBuilder().setNameIid(annotation("arg0")).setIntValue(node.arg0()));
        }
        if (node.arg1() != 0) {
          event.addDebugAnnotations(
              DebugAnnotation.newBuilder().setNameIid(annotation("arg1")).setIntValue(node.arg1()));
        }
      }
      if (node.unclosed()) {
        event.addDebugAnnotations(
            DebugAnnotation.newBuilder().setNameIid(annotation("unclosed")).setBoolValue(true));
      }
      if (clipped) {
        event.addDebugAnnotations(
            DebugAnnotation.newBuilder().setNameIid(annotation("clipped")).setBoolValue(true));
      }
      Long incoming = pendingFlows.remove(node);
      if (incoming != null) {
        event.addTerminatingFlowIds(incoming);
      }
      int flows = 0;
      for (SpanNode child : node.children()) {
        if (child.kind().isHost() != node.kind().isHost() && flows < MAX_FLOWS_PER_SPAN) {
          long id = nextFlowId++;
          pendingFlows.put(child, id);
          event.addFlowIds(id);
          flows++;
        }
      }
      packet(start, event);
    }

    private void counter(
        int vcpu, long parent, String name, CounterDescriptor.Unit unit, long time, long value)
        throws IOException {
      String key = vcpu + "\u0000" + name;
      Long track = counterTracks.get(key);
      if (track == null) {
        track = nextUuid++;
        counterTracks.put(key, track);
        descriptor(
            TrackDescriptor.newBuilder()
                .setUuid(track)
                .setParentUuid(parent)
                .setName(text(name))
                .setCounter(CounterDescriptor.newBuilder().setUnit(unit)));
      }
      packet(
          time,
          TrackEvent.newBuilder()
              .setType(TrackEvent.Type.TYPE_COUNTER)
              .setTrackUuid(track)
              .setCounterValue(value));
    }

    private void descriptor(TrackDescriptor.Builder descriptor) throws IOException {
      TracePacket.Builder packet =
          TracePacket.newBuilder()
              .setTrustedPacketSequenceId(SEQUENCE_ID)
              .setTrackDescriptor(descriptor);
      flags(packet);
      out.write(packet.build());
    }

    private void packet(long time, TrackEvent.Builder event) throws IOException {
      TracePacket.Builder packet =
          TracePacket.newBuilder()
              .setTimestamp(time)
              .setTrustedPacketSequenceId(SEQUENCE_ID)
              .setTrackEvent(event);
      if (interned != null) {
        packet.setInternedData(interned);
        interned = null;
      }
      flags(packet);
      out.write(packet.build());
    }

    /** The first packet of the sequence clears incremental state, every later one relies on it. */
    private void flags(TracePacket.Builder packet) {
      packet.setSequenceFlags(
          firstPacket
              ? TracePacket.SequenceFlags.SEQ_INCREMENTAL_STATE_CLEARED_VALUE
              : TracePacket.SequenceFlags.SEQ_NEEDS_INCREMENTAL_STATE_VALUE);
      firstPacket = false;
    }

    private InternedData.Builder interned() {
      if (interned == null) {
        interned = InternedData.newBuilder();
      }
      return interned;
    }

    private long name(String name) {
      Long iid = names.get(name);
      if (iid == null) {
        iid = names.size() + 1L;
        names.put(name, iid);
        interned().addEventNames(EventName.newBuilder().setIid(iid).setName(text(name)));
      }
      return iid;
    }

    private long category(String name) {
      Long iid = categories.get(name);
      if (iid == null) {
        iid = categories.size() + 1L;
        categories.put(name, iid);
        interned().addEventCategories(EventCategory.newBuilder().setIid(iid).setName(name));
      }
      return iid;
    }

    private long annotation(String name) {
      Long iid = annotationNames.get(name);
      if (iid == null) {
        iid = annotationNames.size() + 1L;
        annotationNames.put(name, iid);
        interned()
            .addDebugAnnotationNames(DebugAnnotationName.newBuilder().setIid(iid).setName(name));
      }
      return iid;
    }
  }
}
