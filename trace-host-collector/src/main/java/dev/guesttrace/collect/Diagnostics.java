package dev.guesttrace.collect;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Counts diagnostics by kind and keeps each kind's first occurrence. Thread-safe: vCPU threads
 * report into one instance. The {@code KIND_*} names are stable: the trace file and {@code info}
 * show them.
 */
public final class Diagnostics {
  /** REGISTER named a region outside guest memory, or one that does not fit its own length. */
  public static final String REGION_OUTSIDE_MEMORY = "region_outside_memory";

  /** The region's magic is not {@code GTRC}. */
  public static final String BAD_MAGIC = "bad_magic";

  /** The region's ABI version is one this host cannot read. */
  public static final String ABI_INCOMPATIBLE = "abi_incompatible";

  /** Header length, record length, capacity or mode is not what ABI 1.x allows. */
  public static final String BAD_REGION_HEADER = "bad_region_header";

  /** The region says it belongs to another vCPU than the one that registered it. */
  public static final String VCPU_MISMATCH = "vcpu_mismatch";

  /** The name table is outside guest memory, or its header or an entry is malformed. */
  public static final String BAD_NAME_TABLE = "bad_name_table";

  /**
   * Names or name tables beyond what a run reads ({@code RegionRegistrar.MAX_NAMES_PER_RUN}, {@code
   * MAX_NAME_TABLES}): not read, their records keep the bare id.
   */
  public static final String NAMES_CAPPED = "names_capped";

  /** A name longer than {@code NAME_MAX_BYTES}; the table is not read further. */
  public static final String NAME_TOO_LONG = "name_too_long";

  /** A REGISTER in a run whose tracing mode is {@code off}: refused. */
  public static final String TRACING_OFF = "register_tracing_off";

  /**
   * Consecutive trace flushes of a vCPU with no record between them were merged into one host span
   * (a flush storm); the count is of flushes merged into an earlier one.
   */
  public static final String TRACE_EXITS_MERGED = "trace_exits_merged";

  /** Host spans beyond the run's limit were dropped. */
  public static final String HOST_SPANS_CAPPED = "host_spans_capped";

  /** Lossy mode: the collector fell behind and dropped the oldest copies of a vCPU (counted). */
  public static final String COLLECTOR_BEHIND = "collector_behind";

  /**
   * The collector failed (its thread died or never started, or a sink or the decoder threw): the
   * copies it had not decoded are counted as lost, and the run fails.
   */
  public static final String COLLECTOR_FAILED = "collector_failed";

  /** A FLUSH from a vCPU that registered no valid region, or naming another region. */
  public static final String UNREGISTERED_FLUSH = "unregistered_flush";

  /** An OUT on the trace port with an operation ABI 1.0 does not define. */
  public static final String UNKNOWN_TRACE_OP = "unknown_trace_op";

  /** The write sequence went below the host's cursor. */
  public static final String SEQUENCE_BACKWARDS = "sequence_backwards";

  /** The write sequence ran more than a ring ahead of the host's cursor. */
  public static final String SEQUENCE_JUMP = "sequence_jump";

  /**
   * Flight mode: the guest stopped (a fault, a timeout, an abort, an abandoned vCPU) while writing
   * a record over the oldest slots of its ring; those slots were dropped and counted as
   * overwritten.
   */
  public static final String FLIGHT_RECORD_TORN = "flight_record_torn";

  /** A record kind this host does not know (a newer guest, or garbage). */
  public static final String UNKNOWN_KIND = "unknown_kind";

  /** A record names an id the name table does not define. */
  public static final String UNDEFINED_NAME = "undefined_name";

  /** A zeroed slot inside the written range. */
  public static final String EMPTY_SLOT = "empty_slot";

  /** A message's text is not valid UTF-8; bad bytes were replaced with U+FFFD. */
  public static final String BAD_UTF8 = "bad_utf8";

  /** A message whose continuation slots are missing (not written, cut off, or overwritten). */
  public static final String CONTINUATION_MISSING = "continuation_missing";

  /** A continuation slot with no message before it. */
  public static final String CONTINUATION_DANGLING = "continuation_dangling";

  /** A message longer than {@code MESSAGE_MAX_BYTES}: cut to the limit. */
  public static final String MESSAGE_TOO_LONG = "message_too_long";

  /** Records beyond the run's memory quota were dropped. */
  public static final String QUOTA_EXCEEDED = "quota_exceeded";

  /** Guest TSC went backwards between consecutive records of a vCPU. */
  public static final String TIMESTAMP_BACKWARDS = "timestamp_backwards";

  /** A span end with no span open on its vCPU (tree builder). */
  public static final String SPAN_END_WITHOUT_BEGIN = "span_end_without_begin";

  /** A span end whose name is not the innermost open span's (tree builder). */
  public static final String SPAN_END_MISMATCH = "span_end_mismatch";

  /** A span never ended: closed at the end of the run and marked unclosed (tree builder). */
  public static final String SPAN_UNCLOSED = "span_unclosed";

  /**
   * A child span that started before or ended after its parent: clamped into the parent, the worst
   * overhang in the detail (tree builder).
   */
  public static final String SPAN_OUTSIDE_PARENT = "span_outside_parent";

  /** A calibration pair far off the fit: the guest TSC jumped. */
  public static final String TSC_JUMP = "tsc_jump";

  private final Map<String, Entry> entries = new LinkedHashMap<>();

  /**
   * Counts one occurrence of {@code kind}.
   *
   * @param vcpu the vCPU it concerns, -1 if none
   * @param detail one line describing it, kept if it is the first of its kind
   * @return the diagnostic with count 1 if this is the first of its kind, else {@code null}
   */
  public synchronized Diagnostic count(String kind, int vcpu, String detail) {
    return count(kind, vcpu, 1, detail);
  }

  /**
   * Counts {@code n} occurrences of {@code kind} at once.
   *
   * @return the diagnostic with count {@code n} if this is the first of its kind, else {@code null}
   */
  public synchronized Diagnostic count(String kind, int vcpu, long n, String detail) {
    Entry e = entries.get(kind);
    if (e != null) {
      e.count += n;
      return null;
    }
    entries.put(kind, new Entry(vcpu, n, detail));
    return new Diagnostic(kind, vcpu, n, detail);
  }

  /**
   * Counts one more occurrence of {@code kind} if it was seen before, so that a caller builds the
   * words of a diagnostic only for its first occurrence (a hostile guest may produce millions).
   *
   * @return whether {@code kind} had been seen (and is now counted once more)
   */
  public synchronized boolean countIfSeen(String kind) {
    Entry e = entries.get(kind);
    if (e == null) {
      return false;
    }
    e.count++;
    return true;
  }

  /** How many times {@code kind} occurred. */
  public synchronized long count(String kind) {
    Entry e = entries.get(kind);
    return e == null ? 0 : e.count;
  }

  /** Every kind seen, in order of first occurrence, with its count. */
  public synchronized List<Diagnostic> snapshot() {
    List<Diagnostic> list = new ArrayList<>(entries.size());
    entries.forEach((kind, e) -> list.add(new Diagnostic(kind, e.vcpu, e.count, e.first)));
    return list;
  }

  private static final class Entry {
    final int vcpu;
    long count;
    final String first;

    Entry(int vcpu, long count, String first) {
      this.vcpu = vcpu;
      this.count = count;
      this.first = first;
    }
  }
}
