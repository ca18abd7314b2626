package dev.guesttrace.file;

import static dev.guesttrace.file.TraceFileFormat.HAS_ARG0;
import static dev.guesttrace.file.TraceFileFormat.HAS_ARG1;
import static dev.guesttrace.file.TraceFileFormat.HAS_NAME;
import static dev.guesttrace.file.TraceFileFormat.KIND_MASK;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.clock.TscCalibration;
import dev.guesttrace.clock.TscClock;
import dev.guesttrace.collect.CalibrationPair;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.ExitProfileRow;
import dev.guesttrace.collect.HostSpan;
import dev.guesttrace.collect.LossCounters;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceEnd;
import dev.guesttrace.collect.TraceHeader;
import dev.guesttrace.file.proto.Calibration;
import dev.guesttrace.file.proto.Chunk;
import dev.guesttrace.file.proto.Clock;
import dev.guesttrace.file.proto.End;
import dev.guesttrace.file.proto.Header;
import dev.guesttrace.file.proto.Name;
import dev.guesttrace.file.proto.Records;
import dev.guesttrace.span.SpanKind;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Reads a .gtrace file into a {@link TraceData}. Checks the magic, then the format version, then
 * every length before allocating anything for it, and every value before it reaches the model.
 *
 * <p>A file cut off at any byte (a host that died mid-run) reads up to its last complete chunk,
 * with one warning line. Anything else wrong is a {@link TraceFileException} with a one-line
 * message; a reader never allocates more than {@link TraceFileFormat#MAX_CHUNK_BYTES} at a time nor
 * keeps more than its record limit.
 */
public final class TraceFileReader {
  /**
   * Records kept from one file unless told otherwise: about 1.2 GB of record columns, and about 2
   * GB of heap for a view's span tree of them (fib-shaped: a span per two records); a larger file
   * is refused in one line rather than exhausting the heap. (16 M before the views' tree took 46 B
   * of heap per record instead of 125.)
   */
  public static final long DEFAULT_MAX_RECORDS = 40_000_000;

  /** A file holds more records than the reader's {@link Limits#maxRecords() limit}. */
  public static final class TooManyRecordsException extends TraceFileException {
    private static final long serialVersionUID = 1L;

    /** The limit. */
    private final long limit;

    TooManyRecordsException(long limit) {
      super("trace file holds more records than this reader's limit: limit=" + limit);
      this.limit = limit;
    }

    /** The record limit the file went past. */
    public long limit() {
      return limit;
    }
  }

  private static final int BATCH = 4096;

  /**
   * Damage scanning may reread at most this many times the bytes of the file read (or of the
   * largest chunk, whichever is more) before it gives up on the rest of the file.
   */
  static final int SCAN_WORK_FACTOR = 8;

  private TraceFileReader() {}

  /**
   * What a reader keeps from one file at most. Every collection a file can grow has a bound here;
   * what is over a bound is dropped and counted (records: the file is refused), and {@link
   * Report#notes()} names the bound.
   *
   * @param maxRecords records; a file with more is refused in one line
   * @param maxNames names over all vCPUs
   * @param maxHostSpans host spans
   * @param maxCalibrationPairs calibration pairs
   * @param maxDiagnostics diagnostic kinds (as they come, and in the end chunk)
   * @param maxExitProfileRows rows of the VM-exit profile
   */
  public record Limits(
      long maxRecords,
      int maxNames,
      int maxHostSpans,
      int maxCalibrationPairs,
      int maxDiagnostics,
      int maxExitProfileRows) {
    /**
     * The defaults: {@link #DEFAULT_MAX_RECORDS} records, a million names, two million host spans
     * and calibration pairs (the collector thins both long before), 1024 diagnostic kinds and exit
     * profile rows.
     */
    public static final Limits DEFAULT =
        new Limits(DEFAULT_MAX_RECORDS, 1 << 20, 2 << 20, 2 << 20, 1024, 1024);

    /** These limits with another record limit. */
    public Limits withMaxRecords(long maxRecords) {
      return new Limits(
          maxRecords,
          maxNames,
          maxHostSpans,
          maxCalibrationPairs,
          maxDiagnostics,
          maxExitProfileRows);
    }
  }

  /**
   * What a read found about the file itself rather than the run: where it was cut, what was over a
   * limit. Each note is one line for {@code info}.
   *
   * @param bytesRead bytes read from the file
   * @param notes one line per finding, in the order found
   * @param recordsLostToDamage records in damaged chunks that were skipped (exact when a later
   *     chunk counts the file's records, else estimated from the skipped bytes), and records the
   *     file's own counts say are missing where no chunk was damaged
   * @param recordsLostEstimated whether that number is an estimate (damage that no later count
   *     followed, at the file's end): a {@code ~} goes before it
   */
  public record Report(
      long bytesRead,
      List<String> notes,
      long recordsLostToDamage,
      boolean recordsLostEstimated,
      List<ChunkLoss> unreadable) {
    /** Copies the lists. */
    public Report {
      notes = List.copyOf(notes);
      unreadable = List.copyOf(unreadable);
    }

    /** A report whose loss count, if any, is exact, and that lost no chunk other than records. */
    public Report(long bytesRead, List<String> notes, long recordsLostToDamage) {
      this(bytesRead, notes, recordsLostToDamage, false, List.of());
    }
  }

  /**
   * Damaged chunks of one kind other than records (records are counted one by one in {@link
   * Report#recordsLostToDamage()}), as their tag byte, the first byte of the body after the sync
   * mark, says: a damaged chunk is not checked, so that byte is its best witness; a chunk whose tag
   * is damaged too, or whose start was not found, is of kind {@code UNKNOWN} (listed only when the
   * file's counts say no records were lost: else it was most likely one of those).
   *
   * @param kind what the chunks held
   * @param chunks how many damaged chunks
   * @param items what they held that is now missing, when the file counts it (calibration pairs:
   *     the stored clock's pair total minus the pairs read), else -1
   */
  public record ChunkLoss(ChunkKind kind, long chunks, long items) {
    /** One phrase: {@code 1 chunk of calibration pairs (12 pairs)}. */
    public String text() {
      String what =
          switch (kind) {
            case CLOCK, END -> (chunks == 1 ? "the " : chunks + " ") + kind.label + " chunk";
            default -> chunks + (chunks == 1 ? " chunk of " : " chunks of ") + kind.label;
          };
      return items >= 0 ? what + " (" + items + " " + kind.itemLabel + ")" : what;
    }
  }

  /** The kinds of chunk a damaged region can be known to have held (not records, not header). */
  public enum ChunkKind {
    /** Names: records naming them show as undefined names. */
    NAMES(Chunk.NAMES_FIELD_NUMBER, "names", "names", "names"),
    /** Calibration pairs: the stored clock was fitted with them, a refit lacks them. */
    CALIBRATION(Chunk.CALIBRATION_FIELD_NUMBER, "calibration_pairs", "calibration pairs", "pairs"),
    /** Host spans: the runs, guest calls, host calls and trace exits they held are missing. */
    HOST_SPANS(Chunk.HOST_SPANS_FIELD_NUMBER, "host_spans", "host spans", "spans"),
    /** A diagnostic's first occurrence (the end chunk repeats the final counts). */
    DIAGNOSTIC(Chunk.DIAGNOSTIC_FIELD_NUMBER, "diagnostics", "diagnostics", "diagnostics"),
    /** The fitted clock: views fit the pairs again. */
    CLOCK(Chunk.CLOCK_FIELD_NUMBER, "clock", "clock", "clocks"),
    /** The end: how the run ended, its losses and exit profile are not known. */
    END(Chunk.END_FIELD_NUMBER, "end", "end", "ends"),
    /** A tag not one of these, or damaged itself. */
    UNKNOWN(0, "unknown", "unknown kind", "items");

    /** The name in JSON and CSV. */
    public final String key;

    // The Chunk body field (oneof) that holds this kind; 0 for UNKNOWN.
    final int field;
    final String label;
    final String itemLabel;

    ChunkKind(int field, String key, String label, String itemLabel) {
      this.field = field;
      this.key = key;
      this.label = label;
      this.itemLabel = itemLabel;
    }
  }

  /**
   * A trace and what its read found.
   *
   * @param data the trace
   * @param report the file's own findings
   */
  public record Result(TraceData data, Report report) {}

  /** Reads the file at {@code path}; warnings (one line each) go to {@code warnings}. */
  public static TraceData read(Path path, Consumer<String> warnings)
      throws IOException, TraceFileException {
    return readWithReport(path, warnings).data();
  }

  /** Reads the file at {@code path} with the default limits, and says what the read found. */
  public static Result readWithReport(Path path, Consumer<String> warnings)
      throws IOException, TraceFileException {
    try (InputStream in = Files.newInputStream(path)) {
      return read(in, warnings, Limits.DEFAULT);
    }
  }

  /**
   * Reads a trace from {@code in} (not closed).
   *
   * @param maxRecords most records accepted; a file with more is refused
   */
  public static TraceData read(InputStream in, Consumer<String> warnings, long maxRecords)
      throws IOException, TraceFileException {
    return read(in, warnings, Limits.DEFAULT.withMaxRecords(maxRecords)).data();
  }

  /** Reads a trace from {@code in} (not closed) within {@code limits}. */
  public static Result read(InputStream in, Consumer<String> warnings, Limits limits)
      throws IOException, TraceFileException {
    Objects.requireNonNull(warnings, "warnings");
    Objects.requireNonNull(limits, "limits");
    return new Reading(new BufferedInputStream(in, 64 * 1024), warnings, limits).read();
  }

  /** One read. */
  private static final class Reading {
    final Source in;
    final Consumer<String> warnings;
    final Limits limits;
    final long maxRecords;
    final TraceData.Builder data = TraceData.builder();
    final RecordBatch batch = new RecordBatch(BATCH);
    final List<String> notes = new ArrayList<>();
    long records;
    long recordChunkBytes;
    int vcpuCount;
    int minor;
    // Damaged regions of a checked file, as running totals (a crafted file can hold millions):
    // how many, the first one's offset, their bytes, the records they lost where a later count
    // says, and the bytes of those no count has followed yet.
    long damageCount;
    // Damaged chunks by the body field their tag byte names (Chunk's oneof, 1..8), 0: not known.
    final long[] damagedByField = new long[9];
    // The stored clock's pair total: with the pairs read, what damaged chunks of pairs held.
    long clockPairsTotal = -1;
    long firstDamageAt = -1;
    long damageBytes;
    long damageLost;
    long unsettledDamageBytes;
    // Records a later count says are missing where no chunk was damaged (a chunk cut out of the
    // file, or the chunks written twice): how many, in how many places, the first place.
    boolean damageEstimated;
    long missingRecords;
    long missingPlaces;
    long firstMissingAt = -1;
    long surplusRecords;
    long surplusPlaces;
    long firstSurplusAt = -1;
    // Bytes read to try chunk candidates that did not check: capped (see overScanBudget).
    long candidateBytes;
    boolean scanGaveUp;
    boolean invariantTsc;
    boolean header;
    boolean ended;
    long names;
    long hostSpans;
    long calibrationPairs;
    final java.util.Set<String> diagnosticKinds = new java.util.HashSet<>();
    // What was over a limit, by limit name: dropped, counted, one note each at the end.
    final java.util.Map<String, long[]> overLimit = new java.util.LinkedHashMap<>();
    // Host span names repeat (run, trace flush, the same host function): one string each.
    final java.util.Map<String, String> hostSpanNames = new java.util.HashMap<>();

    Reading(InputStream in, Consumer<String> warnings, Limits limits) {
      this.in = new Source(in);
      this.warnings = warnings;
      this.limits = limits;
      this.maxRecords = limits.maxRecords();
    }

    /** Whether one more of what {@code limit} bounds fits; if not, it is counted as dropped. */
    private boolean fits(String limit, long kept, long max) {
      if (kept < max) {
        return true;
      }
      overLimit.computeIfAbsent(limit, k -> new long[] {max, 0})[1]++;
      return false;
    }

    Result read() throws IOException, TraceFileException {
      preamble();
      if (minor >= TraceFileFormat.CHECKED_MINOR) {
        readChecked();
      } else {
        readUnchecked();
      }
      if (!header) {
        throw new TraceFileException(
            "trace file cut short before its header: " + in.offset + " bytes");
      }
      damageNotes();
      missingNotes();
      if (!ended && !cutWarned) {
        note(
            "trace file has no end: the run did not finish writing it; read "
                + records
                + " records");
      }
      for (var e : overLimit.entrySet()) {
        note(
            "reader limit hit: "
                + e.getKey()
                + " (limit "
                + e.getValue()[0]
                + "): "
                + e.getValue()[1]
                + " more dropped");
      }
      return new Result(
          data.build(),
          new Report(in.offset, notes, damageLost + missingRecords, damageEstimated, unreadable()));
    }

    /** The damaged chunks other than records, by kind, in the order of {@link ChunkKind}. */
    private List<ChunkLoss> unreadable() {
      List<ChunkLoss> out = new ArrayList<>();
      for (ChunkKind kind : ChunkKind.values()) {
        long chunks = kind == ChunkKind.UNKNOWN ? 0 : damagedByField[kind.field];
        if (chunks == 0) {
          continue;
        }
        long items = -1;
        if (kind == ChunkKind.CALIBRATION && clockPairsTotal >= 0) {
          long[] dropped = overLimit.get("calibration pairs");
          long read = calibrationPairs + (dropped == null ? 0 : dropped[1]);
          items = Math.max(0, clockPairsTotal - read);
        }
        out.add(new ChunkLoss(kind, chunks, items));
      }
      // A damaged tag (or a header tag after the header): most likely records, if any were lost.
      long unknown = damagedByField[0] + damagedByField[Chunk.HEADER_FIELD_NUMBER];
      if (unknown > 0 && damageLost + missingRecords == 0) {
        out.add(new ChunkLoss(ChunkKind.UNKNOWN, unknown, -1));
      }
      return out;
    }

    /**
     * The Chunk body field a chunk's bytes name: its tag byte right after the sync mark (field
     * number, wire type 2), or 0 if that byte is not one.
     */
    private static int bodyField(byte[] chunk) {
      if (chunk == null
          || chunk.length <= TraceFileFormat.SYNC_LENGTH
          || !TraceFileFormat.startsWithSync(chunk, 0)) {
        return 0;
      }
      int tag = chunk[TraceFileFormat.SYNC_LENGTH] & 0xFF;
      int field = tag >>> 3;
      return (tag & 7) == 2 && field >= 1 && field <= 8 ? field : 0;
    }

    /** A finding about the file: a warning now, a line of the report. */
    private void note(String line) {
      notes.add(line);
      warnings.accept(line);
    }

    boolean cutWarned;

    private void cut(long chunkOffset) throws TraceFileException {
      if (!header) {
        throw new TraceFileException(
            "trace file cut short before its header: " + in.offset + " bytes");
      }
      cutWarned = true;
      note(
          "trace file cut short at byte "
              + in.offset
              + ": read up to the last complete chunk (byte "
              + chunkOffset
              + ", "
              + records
              + " records)");
    }

    private void preamble() throws IOException, TraceFileException {
      byte[] p = in.readNBytes(TraceFileFormat.PREAMBLE_LENGTH);
      int magicBytes = Math.min(p.length, TraceFileFormat.MAGIC.length);
      for (int i = 0; i < magicBytes; i++) {
        if (p[i] != TraceFileFormat.MAGIC[i]) {
          throw new TraceFileException(
              "not a guesttrace trace file: expected magic GTRACE, found " + hex(p, magicBytes));
        }
      }
      if (p.length < TraceFileFormat.PREAMBLE_LENGTH) {
        throw new TraceFileException(
            "trace file cut short before its header: " + p.length + " bytes");
      }
      int major = p[6] & 0xFF;
      minor = p[7] & 0xFF;
      if (major != TraceFileFormat.MAJOR) {
        throw new TraceFileException(
            "trace file format "
                + major
                + "."
                + minor
                + " not supported: this guesttrace reads format "
                + TraceFileFormat.MAJOR
                + ".x");
      }
    }

    /**
     * Format 1.0 and 1.1: chunks are not checked, so the first one that does not parse ends the
     * read (an error: nothing says where the next one starts).
     */
    private void readUnchecked() throws IOException, TraceFileException {
      while (true) {
        long chunkOffset = in.offset;
        long length = varint(null);
        if (length == -1) {
          break; // a clean end between chunks
        }
        if (length == -2) {
          cut(chunkOffset);
          break;
        }
        if (length == -3) {
          throw new TraceFileException(
              "corrupt trace file: chunk length at byte " + chunkOffset + " is not a valid varint");
        }
        if (length > TraceFileFormat.MAX_CHUNK_BYTES) {
          throw new TraceFileException(
              "corrupt trace file: chunk at byte "
                  + chunkOffset
                  + " claims "
                  + length
                  + " bytes, more than the limit of "
                  + TraceFileFormat.MAX_CHUNK_BYTES);
        }
        // readNBytes grows its buffer as bytes arrive: a cut file claiming a large chunk costs
        // only what is really there.
        byte[] bytes = in.readNBytes((int) length);
        if (bytes.length < length) {
          cut(chunkOffset);
          break;
        }
        Chunk chunk;
        try {
          chunk = Chunk.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
          throw new TraceFileException(
              "corrupt trace file: chunk at byte " + chunkOffset + " does not parse: " + oneLine(e),
              e);
        }
        try {
          chunk(chunk, chunkOffset, bytes.length);
        } catch (IllegalArgumentException | IllegalStateException e) {
          throw new TraceFileException(
              "corrupt trace file: chunk at byte " + chunkOffset + ": " + oneLine(e), e);
        }
      }
    }

    /**
     * Format 1.2: every chunk opens with the sync mark and ends with its CRC-32C. A chunk that does
     * not check (or does not parse, or holds values out of range) is damaged: it is skipped, the
     * next chunk that checks is found by scanning for the sync mark, and the loss is counted. Only
     * damage to the header, which everything else needs, ends the read with an error.
     */
    private void readChecked() throws IOException, TraceFileException {
      while (true) {
        long chunkOffset = in.offset;
        ByteArrayOutputStream lengthBytes = new ByteArrayOutputStream(5);
        long length = varint(lengthBytes);
        if (length == -1) {
          break;
        }
        if (length == -2) {
          cut(chunkOffset);
          break;
        }
        byte[] bytes = null;
        boolean whole = true;
        if (length >= TraceFileFormat.SYNC_LENGTH + TraceFileFormat.CRC_LENGTH
            && length <= TraceFileFormat.MAX_CHUNK_BYTES) {
          bytes = in.readNBytes((int) length);
          whole = bytes.length == length;
        }
        if (bytes == null || !whole || !TraceFileFormat.checks(bytes, bytes.length)) {
          // Scan again from the byte after this chunk's start: its length may be what was hit.
          byte[] read = lengthBytes.toByteArray();
          int field = whole ? bodyField(bytes) : 0;
          if (bytes != null) {
            candidateBytes += bytes.length;
            in.unread(bytes, 0, bytes.length);
          }
          in.unread(read, 1, read.length);
          if (!header && whole && bytes != null) {
            throw new TraceFileException(
                "corrupt trace file: the header chunk at byte "
                    + chunkOffset
                    + " is damaged (its checksum does not match)");
          }
          Found next = resync();
          if (next == null) {
            if (!whole || length == -3 || length > TraceFileFormat.MAX_CHUNK_BYTES) {
              // Nothing checks after it: the file ends inside this chunk (a run cut short).
              in.skipToEnd();
              cut(chunkOffset);
            } else {
              in.skipToEnd();
              damaged(chunkOffset, in.offset, field);
            }
            break;
          }
          damaged(chunkOffset, next.offset(), field);
          chunkOffset = next.offset();
          bytes = next.bytes();
        }
        Chunk chunk;
        try {
          chunk = Chunk.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
          checkedButInvalid(chunkOffset, bytes, oneLine(e));
          continue;
        }
        try {
          chunk(chunk, chunkOffset, bytes.length);
        } catch (IllegalArgumentException e) {
          checkedButInvalid(chunkOffset, bytes, oneLine(e));
        } catch (IllegalStateException e) {
          throw new TraceFileException(
              "corrupt trace file: chunk at byte " + chunkOffset + ": " + oneLine(e), e);
        }
      }
    }

    /** A chunk whose CRC matched but whose content is not valid: skipped like damage. */
    private void checkedButInvalid(long chunkOffset, byte[] bytes, String why)
        throws TraceFileException {
      if (!header) {
        throw new TraceFileException(
            "corrupt trace file: header chunk at byte " + chunkOffset + ": " + why);
      }
      damaged(chunkOffset, chunkOffset + bytes.length, bodyField(bytes));
    }

    /** A chunk found by scanning: where its length prefix starts, and its bytes. */
    private record Found(long offset, byte[] bytes) {}

    /**
     * Scans from where the source is for the next sync mark whose chunk checks: the varint before
     * the mark gives the length, the CRC at its end confirms. Returns null at the end of the file.
     */
    private Found resync() throws IOException {
      byte[] window = new byte[TraceFileFormat.SYNC_LENGTH + 4];
      long seen = 0;
      int b;
      while ((b = in.read()) >= 0) {
        if (overScanBudget()) {
          return null;
        }
        System.arraycopy(window, 1, window, 0, window.length - 1);
        window[window.length - 1] = (byte) b;
        seen++;
        if (seen < TraceFileFormat.SYNC_LENGTH
            || !TraceFileFormat.startsWithSync(
                window, window.length - TraceFileFormat.SYNC_LENGTH)) {
          continue;
        }
        long syncAt = in.offset - TraceFileFormat.SYNC_LENGTH;
        int before = (int) Math.min(4, seen - TraceFileFormat.SYNC_LENGTH);
        for (int k = 1; k <= before; k++) {
          long length = varintEndingAt(window, window.length - TraceFileFormat.SYNC_LENGTH, k);
          if (length < TraceFileFormat.SYNC_LENGTH + TraceFileFormat.CRC_LENGTH
              || length > TraceFileFormat.MAX_CHUNK_BYTES) {
            continue;
          }
          byte[] rest = in.readNBytes((int) length - TraceFileFormat.SYNC_LENGTH);
          byte[] bytes = new byte[TraceFileFormat.SYNC_LENGTH + rest.length];
          System.arraycopy(
              window,
              window.length - TraceFileFormat.SYNC_LENGTH,
              bytes,
              0,
              TraceFileFormat.SYNC_LENGTH);
          System.arraycopy(rest, 0, bytes, TraceFileFormat.SYNC_LENGTH, rest.length);
          if (bytes.length == length && TraceFileFormat.checks(bytes, bytes.length)) {
            return new Found(syncAt - k, bytes);
          }
          candidateBytes += rest.length;
          in.unread(rest, 0, rest.length);
        }
      }
      return null;
    }

    /**
     * Whether the candidates that did not check have cost more than {@value #SCAN_WORK_FACTOR}
     * times the bytes of the file read so far (at least that times the largest chunk). Each
     * candidate rereads up to a chunk's length, so a file packed with fake sync marks and long
     * lengths would otherwise cost the square of its size; past the budget the rest of the file is
     * one damaged region, said so in the report.
     */
    private boolean overScanBudget() {
      if (candidateBytes
          <= SCAN_WORK_FACTOR * Math.max(in.offset, (long) TraceFileFormat.MAX_CHUNK_BYTES)) {
        return false;
      }
      if (!scanGaveUp) {
        scanGaveUp = true;
        note(
            "stopped looking for chunks after byte "
                + in.offset
                + ": the damage holds more fake chunk starts than the scan budget allows");
      }
      return true;
    }

    /**
     * The varint of exactly {@code k} bytes ending just before {@code end} in {@code w}, or -1 if
     * those bytes are not one.
     */
    private static long varintEndingAt(byte[] w, int end, int k) {
      if ((w[end - 1] & 0x80) != 0) {
        return -1;
      }
      long value = 0;
      for (int i = 0; i < k; i++) {
        int b = w[end - k + i] & 0xFF;
        if (i < k - 1 && (b & 0x80) == 0) {
          return -1;
        }
        value |= (long) (b & 0x7F) << (7 * i);
      }
      return value;
    }

    /**
     * A damaged region {@code [from, to)} skipped. The records it held are known exactly from the
     * next Records chunk's {@code records_before} or the End's {@code records_written}.
     */
    private void damaged(long from, long to, int field) {
      damagedByField[field]++;
      if (damageCount++ == 0) {
        firstDamageAt = from;
      }
      damageBytes += to - from;
      unsettledDamageBytes += to - from;
    }

    /**
     * Once a count of the file's records before this point (byte {@code at}) is known: what the
     * damage since the last count lost, or, with no damage, records missing from the file all the
     * same. Records already counted lost are not counted again.
     */
    private void settleCount(long recordsBefore, long at) {
      long gap = recordsBefore - records - damageLost - missingRecords + surplusRecords;
      if (unsettledDamageBytes > 0) {
        damageLost += Math.max(0, gap);
        unsettledDamageBytes = 0;
      } else if (gap > 0) {
        if (missingPlaces++ == 0) {
          firstMissingAt = at;
        }
        missingRecords += gap;
      } else if (gap < 0) {
        if (surplusPlaces++ == 0) {
          firstSurplusAt = at;
        }
        surplusRecords -= gap;
      }
    }

    private void missingNotes() {
      if (missingPlaces > 0) {
        note(
            missingRecords
                + " records missing "
                + (missingPlaces == 1
                    ? "before byte " + firstMissingAt
                    : "in " + missingPlaces + " places (first before byte " + firstMissingAt + ")")
                + " though no chunk there is damaged: the file's own counts say so (a chunk was"
                + " cut out of it)");
      }
      if (surplusPlaces > 0) {
        note(
            surplusRecords
                + " records more than the file's own counts "
                + (surplusPlaces == 1
                    ? "before byte " + firstSurplusAt
                    : "in " + surplusPlaces + " places (first before byte " + firstSurplusAt + ")")
                + ": some chunks appear twice");
      }
    }

    private void damageNotes() {
      if (damageCount == 0) {
        return;
      }
      boolean exact = unsettledDamageBytes == 0;
      damageEstimated = !exact;
      if (!exact) {
        // Nothing after it counts the file's records: estimate from the bytes per record read.
        double perRecord = records > 0 ? (double) recordChunkBytes / records : 4.0;
        damageLost += Math.round(unsettledDamageBytes / perRecord);
        unsettledDamageBytes = 0;
      }
      note(
          (damageCount == 1
                  ? "1 damaged chunk at byte " + firstDamageAt + " skipped"
                  : damageCount + " damaged chunks skipped (first at byte " + firstDamageAt + ")")
              + " ("
              + damageBytes
              + " bytes), "
              + (exact ? "" : "~")
              + damageLost
              + " records lost");
    }

    /**
     * A varint of at most 5 bytes, its bytes copied to {@code copy} if not null; -1 at a clean end
     * of file, -2 if cut inside it, -3 if it runs over 5 bytes.
     */
    private long varint(ByteArrayOutputStream copy) throws IOException {
      long value = 0;
      for (int i = 0; i < 5; i++) {
        int b = in.read();
        if (b < 0) {
          return i == 0 ? -1 : -2;
        }
        if (copy != null) {
          copy.write(b);
        }
        value |= (long) (b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) {
          return value;
        }
      }
      return -3;
    }

    private void chunk(Chunk c, long at, int length) throws TraceFileException {
      if (!header && c.getBodyCase() != Chunk.BodyCase.HEADER) {
        throw new TraceFileException(
            "corrupt trace file: expected the header chunk first, found " + c.getBodyCase());
      }
      if (ended && c.getBodyCase() != Chunk.BodyCase.BODY_NOT_SET) {
        throw new TraceFileException(
            "corrupt trace file: chunk at byte " + at + " after the end chunk");
      }
      switch (c.getBodyCase()) {
        case HEADER -> header(c.getHeader());
        case NAMES -> {
          for (Name n : c.getNames().getNamesList()) {
            vcpu(n.getVcpu());
            if (n.getId() < 1 || n.getId() > NameTableDescriptor.MAX_NAMES) {
              throw new IllegalArgumentException("name id out of range: id=" + n.getId());
            }
            if (fits("names", names, limits.maxNames())) {
              names++;
              data.onName(n.getVcpu(), n.getId(), n.getName());
            }
          }
        }
        case RECORDS -> {
          Records r = c.getRecords();
          if (minor >= TraceFileFormat.CHECKED_MINOR) {
            settleCount(r.getRecordsBefore(), at);
          }
          records(r);
          recordChunkBytes += length;
        }
        case CALIBRATION -> {
          Calibration k = c.getCalibration();
          int n = k.getVcpuCount();
          // Format 1.0 has no source column: every pair is then the guest's.
          boolean sources = k.getSourceCount() > 0;
          if (k.getGuestTscCount() != n
              || k.getHostNanosCount() != n
              || sources && k.getSourceCount() != n) {
            throw new IllegalArgumentException(
                "calibration columns differ in length: vcpu="
                    + n
                    + " guestTsc="
                    + k.getGuestTscCount()
                    + " hostNanos="
                    + k.getHostNanosCount()
                    + " source="
                    + k.getSourceCount());
          }
          for (int i = 0; i < n; i++) {
            CalibrationPair pair =
                new CalibrationPair(
                    vcpu(k.getVcpu(i)),
                    k.getGuestTsc(i),
                    k.getHostNanos(i),
                    sources ? source(k.getSourceValue(i)) : CalibrationPair.Source.GUEST_EXIT);
            if (fits("calibration pairs", calibrationPairs, limits.maxCalibrationPairs())) {
              calibrationPairs++;
              data.onCalibration(pair);
            }
          }
        }
        case HOST_SPANS -> {
          for (dev.guesttrace.file.proto.HostSpan s : c.getHostSpans().getSpansList()) {
            if (!fits("host spans", hostSpans, limits.maxHostSpans())) {
              continue;
            }
            hostSpans++;
            data.onHostSpan(
                new HostSpan(
                    vcpu(s.getVcpu()),
                    kind(s.getKind()),
                    hostSpanName(s.getName()),
                    s.getStartHostNanos(),
                    s.getEndHostNanos(),
                    // 0 is "unknown"; a value past Long.MAX_VALUE reads negative: unknown too.
                    s.getRecordPositionPlusOne() > 0 ? s.getRecordPositionPlusOne() - 1 : -1));
          }
        }
        case DIAGNOSTIC -> {
          Diagnostic d = diagnostic(c.getDiagnostic());
          if (diagnosticKinds.contains(d.kind())
              || fits("diagnostic kinds", diagnosticKinds.size(), limits.maxDiagnostics())) {
            diagnosticKinds.add(d.kind());
            data.onDiagnostic(d);
          }
        }
        case CLOCK -> data.onStoredClock(clock(c.getClock()));
        case END -> {
          if (minor >= TraceFileFormat.CHECKED_MINOR) {
            settleCount(c.getEnd().getRecordsWritten(), at);
          }
          end(c.getEnd());
          ended = true;
        }
        case BODY_NOT_SET -> {
          // A chunk from a newer minor version of the format: skipped.
        }
      }
    }

    private void header(Header h) throws TraceFileException {
      if (header) {
        throw new IllegalStateException("a second header chunk");
      }
      if (h.getVcpuCount() < 1 || h.getVcpuCount() > 4096) {
        throw new IllegalArgumentException("vcpu count out of range: " + h.getVcpuCount());
      }
      vcpuCount = h.getVcpuCount();
      invariantTsc = h.getInvariantTsc();
      data.onHeader(
          new TraceHeader(
              h.getGuest(),
              h.getBackend(),
              h.getVcpuCount(),
              h.getMode(),
              h.getRingBytes(),
              h.getArgsList(),
              h.getStartEpochNanos(),
              h.getStartMonotonicNanos(),
              h.getHostName(),
              h.getCpuModel(),
              h.getOs(),
              h.getArch(),
              h.getJvm(),
              h.getInvariantTsc(),
              h.getKvmTscKhz(),
              h.getHostAbiVersion()));
      header = true;
    }

    private void records(Records r) throws TraceFileException {
      int vcpu = vcpu(r.getVcpu());
      ByteString flags = r.getFlags();
      int n = flags.size();
      if (n == 0) {
        return;
      }
      if (r.getTscDeltasCount() != n - 1) {
        throw new IllegalArgumentException(
            "records: " + n + " records but " + r.getTscDeltasCount() + " time deltas");
      }
      if (records + n > maxRecords) {
        throw new TooManyRecordsException(maxRecords);
      }
      int names = 0;
      int args = 0;
      int messages = 0;
      long tsc = r.getFirstTsc();
      batch.reset(vcpu);
      for (int i = 0; i < n; i++) {
        int f = flags.byteAt(i) & 0xFF;
        int kind = f & KIND_MASK;
        if ((f & 0x80) != 0 || !storedKind(kind)) {
          throw new IllegalArgumentException(
              "record " + i + " has invalid flags: 0x" + Integer.toHexString(f));
        }
        if (i > 0) {
          tsc += r.getTscDeltas(i - 1);
        }
        if (batch.isFull()) {
          data.onRecords(batch);
          batch.reset(vcpu);
        }
        if (kind == RecordKind.MESSAGE) {
          if ((f & (HAS_NAME | HAS_ARG0 | HAS_ARG1)) != 0) {
            throw new IllegalArgumentException("message record " + i + " with name or arguments");
          }
          if (messages >= r.getMessagesCount()) {
            throw new IllegalArgumentException("records: more messages than texts");
          }
          batch.addMessage(tsc, r.getMessages(messages++));
          continue;
        }
        int nameId = 0;
        if ((f & HAS_NAME) != 0) {
          if (names >= r.getNameIdsCount()) {
            throw new IllegalArgumentException("records: more named records than name ids");
          }
          nameId = r.getNameIds(names++);
          // Any id but 0: the collector keeps records naming ids the guest never defined (counted
          // as undefined_name) and views show them as such; a range check here made the whole
          // file of such a run unreadable.
          if (nameId == 0) {
            throw new IllegalArgumentException("record " + i + " flagged as named has name id 0");
          }
        }
        long arg0 = 0;
        long arg1 = 0;
        if ((f & HAS_ARG0) != 0) {
          if (args >= r.getArgsCount()) {
            throw new IllegalArgumentException("records: more arguments flagged than stored");
          }
          arg0 = r.getArgs(args++);
        }
        if ((f & HAS_ARG1) != 0) {
          if (args >= r.getArgsCount()) {
            throw new IllegalArgumentException("records: more arguments flagged than stored");
          }
          arg1 = r.getArgs(args++);
        }
        batch.add(kind, nameId, tsc, arg0, arg1);
      }
      if (names != r.getNameIdsCount()
          || args != r.getArgsCount()
          || messages != r.getMessagesCount()) {
        throw new IllegalArgumentException(
            "records: columns left over: nameIds="
                + (r.getNameIdsCount() - names)
                + " args="
                + (r.getArgsCount() - args)
                + " messages="
                + (r.getMessagesCount() - messages));
      }
      if (batch.size() > 0) {
        data.onRecords(batch);
      }
      records += n;
    }

    private void end(End e) {
      dev.guesttrace.file.proto.Losses l = e.getLosses();
      List<Diagnostic> diagnostics = new ArrayList<>();
      for (dev.guesttrace.file.proto.Diagnostic d : e.getDiagnosticsList()) {
        if (fits("diagnostics in the end chunk", diagnostics.size(), limits.maxDiagnostics())) {
          diagnostics.add(diagnostic(d));
        }
      }
      List<ExitProfileRow> rows = new ArrayList<>();
      for (dev.guesttrace.file.proto.ExitProfileRow r : e.getExitProfileList()) {
        if (!fits("exit profile rows", rows.size(), limits.maxExitProfileRows())) {
          continue;
        }
        rows.add(
            new ExitProfileRow(
                r.getReason(),
                r.getPort(),
                r.getPortName(),
                r.getCount(),
                r.getErrors(),
                r.getTotalNanos(),
                r.getMinNanos(),
                r.getMedianNanos(),
                r.getP99Nanos(),
                r.getMaxNanos(),
                r.getSignificantDigits(),
                r.getOverflow()));
      }
      data.onFinish(
          new TraceEnd(
              e.getOutcome(),
              e.getFailed(),
              e.getEndMonotonicNanos(),
              new LossCounters(
                  l.getFlightOverwritten(),
                  l.getStreamOverrun(),
                  l.getUndecodable(),
                  l.getQuotaDropped(),
                  l.getGuestDropped()),
              diagnostics,
              rows));
    }

    /** A stored clock, every value checked: it places every record of the file. */
    private TscCalibration clock(Clock c) {
      double rate = c.getTicksPerSecond();
      if (!(rate > 0) || Double.isInfinite(rate)) {
        throw new IllegalArgumentException("clock: ticks per second not a positive rate: " + rate);
      }
      if (c.getVcpusCount() > vcpuCount) {
        throw new IllegalArgumentException(
            "clock: " + c.getVcpusCount() + " vCPU clocks for " + vcpuCount + " vCPUs");
      }
      if (c.getWarningsCount() > 64) {
        throw new IllegalArgumentException("clock: " + c.getWarningsCount() + " warnings");
      }
      TscCalibration.RateSource method =
          switch (c.getMethod()) {
            case FIT -> TscCalibration.RateSource.FIT;
            case FIT_WITH_KVM_PRIOR -> TscCalibration.RateSource.FIT_WITH_KVM_PRIOR;
            case KVM -> TscCalibration.RateSource.KVM;
            case ASSUMED -> TscCalibration.RateSource.ASSUMED;
            default ->
                throw new IllegalArgumentException("clock: method unknown: " + c.getMethod());
          };
      Map<Integer, TscClock> clocks = new TreeMap<>();
      for (Clock.VcpuClock v : c.getVcpusList()) {
        int vcpu = vcpu(v.getVcpu());
        if (clocks.put(vcpu, new TscClock(v.getReferenceTsc(), v.getReferenceHostNanos(), rate))
            != null) {
          throw new IllegalArgumentException("clock: vCPU " + vcpu + " twice");
        }
      }
      clockPairsTotal = count(c.getPairsTotal());
      return TscCalibration.of(
          new TscCalibration.Values(
              rate,
              method,
              c.getErrorPpm(),
              c.getWorstResidualNanos(),
              count(c.getPairsTotal()),
              count(c.getPairsUsed()),
              count(c.getHostPairsUsed()),
              count(c.getJumps()),
              count(c.getSlowPairs()),
              invariantTsc,
              c.getKvmTscKhz(),
              c.getFittedTicksPerSecond(),
              c.getKvmDifferencePpm(),
              count(c.getCausalityViolations()),
              c.getWorstViolationNanos(),
              clocks,
              c.getWarningsList()));
    }

    private static int count(int unsigned) {
      if (unsigned < 0) {
        throw new IllegalArgumentException(
            "clock: count out of range: " + (unsigned & 0xFFFFFFFFL));
      }
      return unsigned;
    }

    private static CalibrationPair.Source source(int value) {
      return switch (value) {
        case 0 -> CalibrationPair.Source.GUEST_EXIT;
        case 1 -> CalibrationPair.Source.HOST_AT_EXIT;
        case 2 -> CalibrationPair.Source.HOST_AT_ENTRY;
        default -> throw new IllegalArgumentException("calibration pair source unknown: " + value);
      };
    }

    private int vcpu(int vcpu) {
      if (vcpu < 0 || vcpu >= vcpuCount) {
        throw new IllegalArgumentException(
            "vcpu out of range 0.." + (vcpuCount - 1) + ": vcpu=" + Integer.toUnsignedString(vcpu));
      }
      return vcpu;
    }

    private String hostSpanName(String name) {
      String known = hostSpanNames.get(name);
      if (known != null) {
        return known;
      }
      if (hostSpanNames.size() < 4096) {
        hostSpanNames.put(name, name);
      }
      return name;
    }

    private static Diagnostic diagnostic(dev.guesttrace.file.proto.Diagnostic d) {
      return new Diagnostic(d.getKind(), d.getVcpu(), d.getCount(), d.getFirst());
    }

    private static SpanKind kind(dev.guesttrace.file.proto.HostSpan.Kind kind) {
      return switch (kind) {
        case RUN -> SpanKind.HOST_RUN;
        case GUEST_CALL -> SpanKind.HOST_GUEST_CALL;
        case HOST_CALL -> SpanKind.HOST_CALL;
        case EXIT -> SpanKind.HOST_EXIT;
        default -> throw new IllegalArgumentException("host span kind unknown: " + kind);
      };
    }

    private static boolean storedKind(int kind) {
      return kind == RecordKind.SPAN_BEGIN
          || kind == RecordKind.SPAN_END
          || kind == RecordKind.MESSAGE
          || kind == RecordKind.ALLOC
          || kind == RecordKind.FREE
          || kind == RecordKind.COUNTER;
    }

    private static String oneLine(Exception e) {
      String m = String.valueOf(e.getMessage());
      int nl = m.indexOf('\n');
      return nl < 0 ? m : m.substring(0, nl);
    }

    private static String hex(byte[] b, int n) {
      StringBuilder s = new StringBuilder("0x");
      for (int i = 0; i < n; i++) {
        s.append(String.format("%02x", b[i] & 0xFF));
      }
      return s.toString();
    }
  }

  /**
   * The file's bytes, with the offset of the next one and bytes put back to be read again (a scan
   * after damage rereads what a bad length swallowed). Put-back bytes are slices of arrays already
   * read: nothing is copied, nothing is allocated beyond what was read.
   */
  private static final class Source {
    private final InputStream in;
    private final ArrayDeque<int[]> backRanges = new ArrayDeque<>();
    private final ArrayDeque<byte[]> backArrays = new ArrayDeque<>();
    long offset;

    Source(InputStream in) {
      this.in = in;
    }

    int read() throws IOException {
      while (!backArrays.isEmpty()) {
        int[] range = backRanges.peek();
        if (range[0] < range[1]) {
          offset++;
          return backArrays.peek()[range[0]++] & 0xFF;
        }
        backRanges.pop();
        backArrays.pop();
      }
      int b = in.read();
      if (b >= 0) {
        offset++;
      }
      return b;
    }

    /** Up to {@code n} bytes, fewer only at the end of the file. */
    byte[] readNBytes(int n) throws IOException {
      if (backArrays.isEmpty()) {
        byte[] b = in.readNBytes(n);
        offset += b.length;
        return b;
      }
      long buffered = 0;
      java.util.Iterator<int[]> ranges = backRanges.iterator();
      while (ranges.hasNext() && buffered < n) {
        int[] r = ranges.next();
        buffered += r[1] - r[0];
      }
      byte[] head = new byte[(int) Math.min(n, buffered)];
      int filled = 0;
      while (filled < head.length) {
        int[] range = backRanges.peek();
        byte[] array = backArrays.peek();
        int take = Math.min(range[1] - range[0], head.length - filled);
        System.arraycopy(array, range[0], head, filled, take);
        range[0] += take;
        filled += take;
        if (range[0] == range[1]) {
          backRanges.pop();
          backArrays.pop();
        }
      }
      offset += filled;
      if (filled == n) {
        return head;
      }
      byte[] tail = in.readNBytes(n - filled);
      offset += tail.length;
      byte[] all = java.util.Arrays.copyOf(head, filled + tail.length);
      System.arraycopy(tail, 0, all, filled, tail.length);
      return all;
    }

    /** Puts {@code b[from, to)} back: the next reads return them first. */
    void unread(byte[] b, int from, int to) {
      if (from < to) {
        backArrays.push(b);
        backRanges.push(new int[] {from, to});
        offset -= to - from;
      }
    }

    /** Reads and drops the rest, so that {@link #offset} is the file's length. */
    void skipToEnd() throws IOException {
      while (read() >= 0) {
        // Only put-back bytes are read one by one; then the stream is skipped in bulk.
        if (backArrays.isEmpty()) {
          byte[] buffer = new byte[8192];
          int n;
          while ((n = in.read(buffer)) > 0) {
            offset += n;
          }
          return;
        }
      }
    }
  }
}
