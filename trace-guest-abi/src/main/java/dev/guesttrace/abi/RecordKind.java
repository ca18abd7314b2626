package dev.guesttrace.abi;

/**
 * The record kinds of ABI 1.0, as stored in byte 0 of a record slot. See {@link
 * TraceRecordDescriptor} for what each kind puts in the slot's fields.
 */
public final class RecordKind {
  /** Never written: a zeroed slot. Reading one inside the written range is a diagnostic. */
  public static final int EMPTY = 0;

  /** A span begins: {@code nameId} names it, {@code arg0}/{@code arg1} are free user arguments. */
  public static final int SPAN_BEGIN = 1;

  /**
   * The innermost open span ends: {@code nameId} repeats the begin's name so the host can check.
   */
  public static final int SPAN_END = 2;

  /**
   * A text message: {@code aux} is its length in bytes (UTF-8), the first {@link
   * TraceRecordDescriptor#MESSAGE_INLINE_BYTES} bytes sit in the slot and the rest in {@link
   * #CONTINUATION} slots that follow it.
   */
  public static final int MESSAGE = 3;

  /**
   * The rest of a message: byte 0 is this kind, bytes 1 to 31 carry text. Self-identifying so that
   * a reader that starts in the middle of a message (flight mode after an overwrite) can skip it.
   */
  public static final int CONTINUATION = 4;

  /** An allocation: {@code arg0} is the guest address, {@code arg1} the size in bytes. */
  public static final int ALLOC = 5;

  /** A free: {@code arg0} is the guest address, {@code arg1} the size in bytes or 0 if unknown. */
  public static final int FREE = 6;

  /** A counter sample: {@code nameId} names the counter, {@code arg0} is its signed value. */
  public static final int COUNTER = 7;

  /** The highest kind ABI 1.0 defines; higher kinds come from newer minor versions. */
  public static final int MAX_KNOWN = COUNTER;

  private RecordKind() {}

  /** A stable lower-case name for output and diagnostics, {@code "unknown(9)"} for others. */
  public static String name(int kind) {
    return switch (kind) {
      case EMPTY -> "empty";
      case SPAN_BEGIN -> "span_begin";
      case SPAN_END -> "span_end";
      case MESSAGE -> "message";
      case CONTINUATION -> "continuation";
      case ALLOC -> "alloc";
      case FREE -> "free";
      case COUNTER -> "counter";
      default -> "unknown(" + kind + ")";
    };
  }
}
