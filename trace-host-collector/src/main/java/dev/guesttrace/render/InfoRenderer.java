package dev.guesttrace.render;

import dev.guesttrace.clock.TscCalibration;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.ExitProfileRow;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.compare.TracingTime;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.file.TraceFileWriter;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;

/**
 * {@code guesttrace info}: what a trace is and how far to trust it: the run and the host it ran on,
 * the calibration with its error, records, losses by cause, diagnostics, and the VM-exit profile.
 */
public final class InfoRenderer {
  private InfoRenderer() {}

  /** Writes the report. */
  public static void render(TraceData data, TscCalibration calibration, PrintWriter out) {
    render(data, calibration, List.of(), out);
  }

  /**
   * Writes the report, with the diagnostics the span-tree builder found on top of the collector's
   * (spans ended without a begin, mismatched ends, spans never ended).
   */
  public static void render(
      TraceData data,
      TscCalibration calibration,
      List<Diagnostic> treeDiagnostics,
      PrintWriter out) {
    render(data, calibration, treeDiagnostics, List.of(), out);
  }

  /**
   * Writes the report, with what reading the file found about the file itself (a cut, damage, a
   * reader limit hit): one {@code file} line each, right after the outcome.
   */
  public static void render(
      TraceData data,
      TscCalibration calibration,
      List<Diagnostic> treeDiagnostics,
      List<String> fileNotes,
      PrintWriter out) {
    render(data, calibration, treeDiagnostics, new TraceFileReader.Report(0, fileNotes, 0), out);
  }

  /**
   * Writes the report with what reading the file found ({@code fileReport}): its notes as {@code
   * file} lines, the records and other chunks it lost on the {@code lost} line.
   */
  public static void render(
      TraceData data,
      TscCalibration calibration,
      List<Diagnostic> treeDiagnostics,
      TraceFileReader.Report fileReport,
      PrintWriter out) {
    List<String> fileNotes = fileReport.notes();
    TraceHeader h = data.header();
    out.printf("guest        %s%n", Printable.of(h.guest()));
    // A recovered trace's backend says where it came from ("recovered from DUMP (raw)").
    boolean recovered = h.backend().startsWith("recovered from ");
    out.printf(
        "run          %s%s, %d vCPU%s, %s mode, ring %s, args %s%n",
        Printable.of(h.backend()),
        recovered ? "" : " backend",
        h.vcpuCount(),
        h.vcpuCount() == 1 ? "" : "s",
        Printable.of(h.mode()),
        h.ringBytes() == 0 ? "guest default" : h.ringBytes() + " B",
        h.args().isEmpty() ? "none" : Printable.of(String.join(" ", h.args())));
    out.printf("started      %s%n", Instant.ofEpochSecond(0, h.startEpochNanos()));
    out.printf("outcome      %s%n", Printable.of(data.outcome()));
    for (String note : fileNotes) {
      out.printf("file         %s%n", Printable.of(note));
    }
    // A file's header is as untrusted as a guest's names: an escape sequence in the host name must
    // not forge lines (a fake "lost none") or drive the terminal.
    out.printf(
        "host         %s (%s, %s)%n",
        Printable.of(h.hostName()), Printable.of(h.os()), Printable.of(h.arch()));
    out.printf("cpu          %s%n", Printable.of(h.cpuModel()));
    out.printf(
        "jvm          %s, trace ABI %s%n", Printable.of(h.jvm()), Printable.of(h.hostAbiVersion()));
    out.printf(
        "tsc          %s%s%n",
        recovered
            ? "host unknown (a dump does not say)"
            : h.invariantTsc()
                ? "invariant (constant_tsc, nonstop_tsc)"
                : "NOT invariant on this host",
        h.kvmTscKhz() > 0
            ? (recovered ? ", guest rate given (--tsc-ghz) " : ", KVM_GET_TSC_KHZ ")
                + h.kvmTscKhz()
                + " kHz"
            : "");
    out.printf(
        "calibration  %.6f GHz (%s), error %s, worst residual %s, %d/%d pairs used%s%s%n",
        calibration.ticksPerSecond() / 1e9,
        calibration.method(),
        Double.isNaN(calibration.ppmError())
            ? "unknown (fewer than 3 pairs)"
            : String.format(java.util.Locale.ROOT, "%.2f ppm", calibration.ppmError()),
        Durations.duration(calibration.worstResidualNanos()),
        calibration.usedPairs(),
        calibration.pairCount(),
        calibration.hostPairsUsed() > 0 && calibration.hostPairsUsed() < calibration.usedPairs()
            ? " (" + calibration.hostPairsUsed() + " host-read)"
            : "",
        calibration.jumpCount() > 0 ? ", " + calibration.jumpCount() + " TSC jumps" : "");
    if (calibration.kvmTscKhz() > 0) {
      out.printf(
          "             %s %d kHz; %s%n",
          recovered ? "--tsc-ghz gives" : "KVM states",
          calibration.kvmTscKhz(),
          Double.isNaN(calibration.kvmDifferencePpm())
              ? "the pairs gave no rate to compare"
              : String.format(
                  java.util.Locale.ROOT,
                  "the pairs' own rate differs by %+.1f ppm",
                  calibration.kvmDifferencePpm()));
    }
    for (String warning : calibration.warnings()) {
      out.printf("             warning: %s%n", warning);
    }
    out.printf("records      %d%n", data.recordCount());
    out.printf("lost         %s%n", lostLine(data, fileReport));
    List<Diagnostic> diagnostics = new java.util.ArrayList<>(data.diagnostics());
    diagnostics.addAll(treeDiagnostics);
    out.printf("diagnostics  %s%n", diagnostics.isEmpty() ? "none" : diagnostics.size() + " kinds");
    for (Diagnostic d : diagnostics) {
      out.printf(
          "  %-28s %8d  first%s: %s%n",
          Printable.of(d.kind()),
          d.count(),
          d.vcpu() >= 0 ? " on vCPU " + d.vcpu() : "",
          Printable.of(d.first()));
    }
    exits(data.exitProfile(), out);
    out.flush();
  }

  /**
   * The {@code lost} line of a file read with {@code fileReport}: the records it lost in damaged or
   * missing chunks, the other chunks it could not read (pairs, host spans, names...: never {@code
   * none} when any was lost), then the run's own losses.
   */
  public static String lostLine(TraceData data, TraceFileReader.Report fileReport) {
    String lost = losses(data);
    long fileLostRecords = fileReport.recordsLostToDamage();
    List<String> chunks = new java.util.ArrayList<>();
    for (TraceFileReader.ChunkLoss c : fileReport.unreadable()) {
      chunks.add(c.text());
    }
    String unreadable = String.join(", ", chunks);
    if (fileLostRecords <= 0) {
      if (unreadable.isEmpty()) {
        return lost;
      }
      return (lost.equals("none") ? "none of " + data.recordCount() + " records" : lost)
          + "; unreadable in the file: "
          + unreadable;
    }
    return (fileReport.recordsLostEstimated() ? "~" : "")
        + fileLostRecords
        + " records in damaged or missing chunks of the file"
        + (unreadable.isEmpty() ? "" : ", and " + unreadable)
        + (lost.equals("none") ? "" : "; the run's own: " + lost);
  }

  /**
   * Losses of a trace in one line. Never {@code none} when the run did not finish: a file with no
   * end (cut short) or an interrupted run cannot know what the guest wrote after the last record
   * collected, so the losses are unknown, with what is known after them.
   */
  public static String losses(TraceData data) {
    String counted = losses(data.losses());
    if (data.end().isEmpty()) {
      return "unknown: the file has no end (the run was cut short), it holds "
          + data.recordCount()
          + " records";
    }
    if (data.outcome().startsWith(TraceFileWriter.INTERRUPTED)) {
      return "unknown: the run was interrupted, the file holds "
          + data.recordCount()
          + " records"
          + (data.losses().total() > 0 ? "; counted before: " + counted : "");
    }
    return counted;
  }

  /** Spans that paid for tracing listed by {@link #tracing}. */
  public static final int TRACING_ROWS = 5;

  /**
   * The tracer's own cost in the run: trace exits (ring registration, flushes), their time and
   * share of the run, the part inside guest spans, and the spans that paid most of it, each with
   * its share of the run and of its own time.
   */
  public static void tracing(TracingTime.Overhead o, PrintWriter out) {
    if (o.exits() == 0) {
      out.println("tracing      no trace exits recorded");
      out.flush();
      return;
    }
    out.printf(
        "tracing      %d trace exit%s, %s (%s of run), %s of it inside guest spans%n",
        o.exits(),
        o.exits() == 1 ? "" : "s",
        Durations.duration(o.nanos()),
        percent(o.percentOfRun()),
        Durations.duration(o.inGuestNanos()));
    List<TracingTime.PerSpan> rows = o.bySpan();
    if (!rows.isEmpty()) {
      out.printf(
          "  %-28s %8s %10s %8s %12s%n", "paid by", "exits", "time", "of run", "of its spans");
    }
    for (TracingTime.PerSpan r : rows.subList(0, Math.min(TRACING_ROWS, rows.size()))) {
      out.printf(
          "  %-28s %8d %10s %8s %12s%n",
          Printable.of(r.name()),
          r.exits(),
          Durations.duration(r.nanos()),
          percent(o.runNanos() <= 0 ? 0 : 100.0 * r.nanos() / o.runNanos()),
          percent(r.percentOfSpans()));
    }
    if (rows.size() > TRACING_ROWS) {
      out.printf("  ... %d more spans%n", rows.size() - TRACING_ROWS);
    }
    out.flush();
  }

  private static String percent(double percent) {
    return String.format(java.util.Locale.ROOT, "%.1f%%", percent);
  }

  /** Losses in one line: {@code none}, or the total and each non-zero cause. */
  public static String losses(LossCounters l) {
    if (l.total() == 0) {
      return "none";
    }
    StringBuilder b = new StringBuilder().append(l.total()).append(" records:");
    append(b, l.flightOverwritten(), "overwritten in flight mode");
    append(b, l.streamOverrun(), "overrun in stream mode");
    append(b, l.undecodable(), "undecodable");
    append(b, l.quotaDropped(), "dropped by the memory quota");
    append(b, l.guestDropped(), "dropped by the guest");
    return b.toString();
  }

  /**
   * The VM-exit profile table, with the precision of its median and p99 (the rows' histogram: an
   * HdrHistogram's significant digits, or the older files' log-linear one).
   */
  public static void exits(List<ExitProfileRow> rows, PrintWriter out) {
    if (rows.isEmpty()) {
      out.println("vm exits     none recorded");
      return;
    }
    long count = rows.stream().mapToLong(ExitProfileRow::count).sum();
    long total = rows.stream().mapToLong(ExitProfileRow::totalNanos).sum();
    List<String> precisions = rows.stream().map(ExitProfileRow::precision).distinct().toList();
    out.printf(
        "vm exits     %d, host time %s; median, p99 %s%n",
        count,
        Durations.duration(total),
        precisions.size() == 1
            ? (precisions.get(0).startsWith("within") ? "" : "from HdrHistogram, ")
                + precisions.get(0)
            : "to " + String.join(" or ", precisions));
    out.printf(
        "  %-8s %-10s %8s %10s %10s %10s %10s%n",
        "reason", "port", "count", "total", "median", "p99", "max");
    for (ExitProfileRow r : rows) {
      out.printf(
          "  %-8s %-10s %8d %10s %10s %10s %10s%s%n",
          r.reason(),
          r.portName().isEmpty() ? "-" : r.portName(),
          r.count(),
          Durations.duration(r.totalNanos()),
          Durations.duration(r.medianNanos()),
          Durations.duration(r.p99Nanos()),
          Durations.duration(r.maxNanos()),
          (r.errors() > 0 ? "  (" + r.errors() + " handler errors)" : "")
              + (r.overflow() > 0
                  ? "  ("
                      + r.overflow()
                      + " over the histogram's "
                      + Durations.duration(ExitProfileRow.HISTOGRAM_HIGHEST_NANOS)
                      + ", counted at it)"
                  : ""));
    }
  }

  private static void append(StringBuilder b, long n, String what) {
    if (n > 0) {
      b.append(b.charAt(b.length() - 1) == ':' ? " " : ", ").append(n).append(' ').append(what);
    }
  }
}
