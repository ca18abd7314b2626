package dev.guesttrace.render;

import dev.guesttrace.clock.TscCalibration;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.ExitProfileRow;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.compare.TracingTime;
import dev.guesttrace.file.TraceFileReader;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code info --format json|csv}: what {@link InfoRenderer} shows, for scripts (schema {@value
 * #SCHEMA} in docs/formats.md).
 */
public final class InfoDataWriter {
  /** Version of the layout, in docs/formats.md. */
  public static final String SCHEMA = "guesttrace.info/1";

  private InfoDataWriter() {}

  /** Writes the report in {@code format} (JSON or CSV), for a file that lost nothing itself. */
  public static void write(
      TraceData data,
      TscCalibration calibration,
      List<Diagnostic> treeDiagnostics,
      List<String> fileNotes,
      TracingTime.Overhead tracing,
      OutputFormat format,
      PrintWriter out) {
    write(
        data,
        calibration,
        treeDiagnostics,
        new TraceFileReader.Report(0, fileNotes, 0),
        tracing,
        format,
        out);
  }

  /**
   * Writes the report in {@code format} (JSON or CSV) with what reading the file found ({@code
   * fileReport}: its notes, the records and the other chunks it lost).
   */
  public static void write(
      TraceData data,
      TscCalibration calibration,
      List<Diagnostic> treeDiagnostics,
      TraceFileReader.Report fileReport,
      TracingTime.Overhead tracing,
      OutputFormat format,
      PrintWriter out) {
    if (format == OutputFormat.JSON) {
      out.println(json(data, calibration, treeDiagnostics, fileReport, tracing));
    } else if (format == OutputFormat.CSV) {
      csv(data, calibration, treeDiagnostics, fileReport, tracing, out);
    } else {
      throw new IllegalArgumentException("format TEXT: use InfoRenderer");
    }
    out.flush();
  }

  static String json(
      TraceData data,
      TscCalibration calibration,
      List<Diagnostic> treeDiagnostics,
      TraceFileReader.Report fileReport,
      TracingTime.Overhead tracing) {
    List<String> fileNotes = fileReport.notes();
    List<String> unreadable = new ArrayList<>();
    for (TraceFileReader.ChunkLoss c : fileReport.unreadable()) {
      unreadable.add(
          new Json.Obj()
              .field("kind", c.kind().key)
              .field("chunks", c.chunks())
              .raw("items", c.items() >= 0 ? Long.toString(c.items()) : "null")
              .toString());
    }
    TraceHeader h = data.header();
    LossCounters l = data.losses();
    boolean lossesKnown = InfoRenderer.losses(data).startsWith("unknown") == false;
    List<String> diagnostics = new ArrayList<>();
    for (Diagnostic d : all(data, treeDiagnostics)) {
      diagnostics.add(
          new Json.Obj()
              .field("kind", d.kind())
              .field("count", d.count())
              .field("vcpu", (long) d.vcpu())
              .field("first", d.first())
              .toString());
    }
    List<String> exits = new ArrayList<>();
    for (ExitProfileRow r : data.exitProfile()) {
      exits.add(
          new Json.Obj()
              .field("reason", r.reason())
              .field("port", r.portName())
              .field("count", r.count())
              .field("errors", r.errors())
              .field("total_ns", r.totalNanos())
              .field("min_ns", r.minNanos())
              .field("median_ns", r.medianNanos())
              .field("p99_ns", r.p99Nanos())
              .field("max_ns", r.maxNanos())
              .field("significant_digits", (long) r.significantDigits())
              .field("overflow", r.overflow())
              .toString());
    }
    return new Json.Obj()
        .field("schema", SCHEMA)
        .field("guest", h.guest())
        .field("backend", h.backend())
        .field("vcpus", (long) h.vcpuCount())
        .field("mode", h.mode())
        .field("ring_bytes", h.ringBytes())
        .raw("args", Json.strings(h.args()))
        .field("start_epoch_ns", h.startEpochNanos())
        .field("outcome", data.outcome())
        .field("complete", data.end().isPresent())
        .field("failed", data.end().map(e -> e.failed()).orElse(false))
        .raw("file_notes", Json.strings(fileNotes))
        .raw(
            "host",
            new Json.Obj()
                .field("name", h.hostName())
                .field("os", h.os())
                .field("arch", h.arch())
                .field("cpu", h.cpuModel())
                .field("jvm", h.jvm())
                .field("abi", h.hostAbiVersion())
                .field("invariant_tsc", h.invariantTsc())
                .field("kvm_tsc_khz", h.kvmTscKhz())
                .toString())
        .raw(
            "calibration",
            new Json.Obj()
                .field("ticks_per_second", calibration.ticksPerSecond())
                .field("method", calibration.method())
                .field("ppm_error", calibration.ppmError())
                .field("worst_residual_ns", calibration.worstResidualNanos())
                .field("pairs", (long) calibration.pairCount())
                .field("pairs_used", (long) calibration.usedPairs())
                .field("host_pairs_used", (long) calibration.hostPairsUsed())
                .field("tsc_jumps", (long) calibration.jumpCount())
                .field("kvm_difference_ppm", calibration.kvmDifferencePpm())
                .raw("warnings", Json.strings(calibration.warnings()))
                .toString())
        .field("records", data.recordCount())
        .raw(
            "lost",
            new Json.Obj()
                .field("known", lossesKnown)
                .field("total", l.total())
                .field("flight_overwritten", l.flightOverwritten())
                .field("stream_overrun", l.streamOverrun())
                .field("undecodable", l.undecodable())
                .field("quota_dropped", l.quotaDropped())
                .field("guest_dropped", l.guestDropped())
                .field("in_file", fileReport.recordsLostToDamage())
                .field("in_file_estimated", fileReport.recordsLostEstimated())
                .raw("in_file_unreadable", Json.array(unreadable))
                .field("text", InfoRenderer.lostLine(data, fileReport))
                .toString())
        .raw("diagnostics", Json.array(diagnostics))
        .raw("vm_exits", Json.array(exits))
        .raw("tracing", tracing(tracing))
        .toString();
  }

  private static String tracing(TracingTime.Overhead o) {
    List<String> bySpan = new ArrayList<>();
    for (TracingTime.PerSpan r : o.bySpan()) {
      bySpan.add(
          new Json.Obj()
              .field("name", r.name())
              .field("exits", r.exits())
              .field("total_ns", r.nanos())
              .field("span_ns", r.spanNanos())
              .toString());
    }
    return new Json.Obj()
        .field("exits", o.exits())
        .field("total_ns", o.nanos())
        .field("in_guest_ns", o.inGuestNanos())
        .field("run_ns", o.runNanos())
        .raw("by_span", Json.array(bySpan))
        .toString();
  }

  private static List<Diagnostic> all(TraceData data, List<Diagnostic> treeDiagnostics) {
    List<Diagnostic> all = new ArrayList<>(data.diagnostics());
    all.addAll(treeDiagnostics);
    return all;
  }

  /** {@code field,value}, one row per scalar; lists as {@code diagnostic.KIND.count} and so on. */
  private static void csv(
      TraceData data,
      TscCalibration calibration,
      List<Diagnostic> treeDiagnostics,
      TraceFileReader.Report fileReport,
      TracingTime.Overhead tracing,
      PrintWriter out) {
    List<String> fileNotes = fileReport.notes();
    TraceHeader h = data.header();
    LossCounters l = data.losses();
    out.println("field,value");
    row(out, "guest", h.guest());
    row(out, "backend", h.backend());
    row(out, "vcpus", h.vcpuCount());
    row(out, "mode", h.mode());
    row(out, "ring_bytes", h.ringBytes());
    row(out, "args", String.join(" ", h.args()));
    row(out, "start_epoch_ns", h.startEpochNanos());
    row(out, "outcome", data.outcome());
    for (int i = 0; i < fileNotes.size(); i++) {
      row(out, "file_note." + i, fileNotes.get(i));
    }
    row(out, "host.name", h.hostName());
    row(out, "host.cpu", h.cpuModel());
    row(out, "calibration.ticks_per_second", calibration.ticksPerSecond());
    row(out, "calibration.method", calibration.method());
    row(out, "calibration.ppm_error", calibration.ppmError());
    row(out, "calibration.worst_residual_ns", calibration.worstResidualNanos());
    row(out, "calibration.pairs_used", calibration.usedPairs());
    row(out, "records", data.recordCount());
    row(out, "lost.total", l.total());
    row(out, "lost.in_file", fileReport.recordsLostToDamage());
    row(out, "lost.in_file_estimated", String.valueOf(fileReport.recordsLostEstimated()));
    for (TraceFileReader.ChunkLoss c : fileReport.unreadable()) {
      String key = "lost.in_file_unreadable." + c.kind().key;
      row(out, key + ".chunks", c.chunks());
      row(out, key + ".items", c.items() >= 0 ? String.valueOf(c.items()) : "");
    }
    row(out, "lost.text", InfoRenderer.lostLine(data, fileReport));
    for (Diagnostic d : all(data, treeDiagnostics)) {
      row(out, "diagnostic." + d.kind() + ".count", d.count());
    }
    row(out, "tracing.exits", tracing.exits());
    row(out, "tracing.total_ns", tracing.nanos());
    row(out, "tracing.in_guest_ns", tracing.inGuestNanos());
    for (ExitProfileRow r : data.exitProfile()) {
      String key = "vm_exit." + r.reason() + (r.portName().isEmpty() ? "" : "." + r.portName());
      row(out, key + ".count", r.count());
      row(out, key + ".total_ns", r.totalNanos());
      row(out, key + ".median_ns", r.medianNanos());
      row(out, key + ".p99_ns", r.p99Nanos());
      row(out, key + ".max_ns", r.maxNanos());
      row(out, key + ".significant_digits", r.significantDigits());
      row(out, key + ".overflow", r.overflow());
    }
  }

  private static void row(PrintWriter out, String field, Object value) {
    String v =
        value instanceof Double d && (d.isNaN() || d.isInfinite()) ? "" : String.valueOf(value);
    out.println(Json.csv(field) + "," + Json.csv(v));
  }
}
