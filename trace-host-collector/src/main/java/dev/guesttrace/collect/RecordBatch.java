package dev.guesttrace.collect;

import dev.guesttrace.abi.RecordKind;
import java.util.Arrays;

/**
 * A reusable, columnar batch of decoded records of one vCPU: parallel arrays of kind, name id,
 * guest TSC and the two arguments, no object per record. Messages are reassembled from their
 * continuation slots, so a batch holds one MESSAGE record per message with its text, and no
 * CONTINUATION records.
 *
 * <p>The collector fills one batch, hands it to {@link TraceSink#onRecords} and clears it; a sink
 * copies what it keeps.
 */
public final class RecordBatch {
  private final byte[] kinds;
  private final int[] nameIds;
  private final long[] tscTicks;
  private final long[] arg0;
  private final long[] arg1;
  private final String[] messages;
  private int vcpu;
  private int size;

  /**
   * Where {@link #messages} holds a text since the last reset: the only places reset clears (a
   * batch is mostly spans, and clearing every place cost the collector 12 to 21 % of its time).
   */
  private int[] messageIndexes = new int[16];

  private int messageCount;

  /**
   * Creates an empty batch.
   *
   * @param capacity most records it holds
   */
  public RecordBatch(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1: capacity=" + capacity);
    }
    kinds = new byte[capacity];
    nameIds = new int[capacity];
    tscTicks = new long[capacity];
    arg0 = new long[capacity];
    arg1 = new long[capacity];
    messages = new String[capacity];
  }

  /** The vCPU whose records these are. */
  public int vcpu() {
    return vcpu;
  }

  /** Records in the batch. */
  public int size() {
    return size;
  }

  /** Most records the batch holds. */
  public int capacity() {
    return kinds.length;
  }

  /** Whether no more records fit. */
  public boolean isFull() {
    return size == kinds.length;
  }

  /** The {@link RecordKind} of record {@code i}. */
  public int kind(int i) {
    return kinds[check(i)];
  }

  /** The name id of record {@code i} as the guest wrote it (0 = none). */
  public int nameId(int i) {
    return nameIds[check(i)];
  }

  /** The guest TSC of record {@code i}. */
  public long tscTicks(int i) {
    return tscTicks[check(i)];
  }

  /** The first argument of record {@code i} (0 for messages). */
  public long arg0(int i) {
    return arg0[check(i)];
  }

  /** The second argument of record {@code i} (0 for messages). */
  public long arg1(int i) {
    return arg1[check(i)];
  }

  /** The text of record {@code i} if it is a MESSAGE, else {@code null}. */
  public String message(int i) {
    return messages[check(i)];
  }

  /** Empties the batch and sets the vCPU of the records to come. */
  public void reset(int vcpu) {
    for (int k = 0; k < messageCount; k++) {
      messages[messageIndexes[k]] = null;
    }
    messageCount = 0;
    this.vcpu = vcpu;
    this.size = 0;
  }

  /**
   * Appends a record that is not a message.
   *
   * @throws IllegalStateException if the batch is full
   */
  public void add(int kind, int nameId, long tscTicks, long arg0, long arg1) {
    int i = next();
    this.kinds[i] = (byte) kind;
    this.nameIds[i] = nameId;
    this.tscTicks[i] = tscTicks;
    this.arg0[i] = arg0;
    this.arg1[i] = arg1;
    // messages[i] is null already: reset clears what the last batch held.
  }

  /**
   * Appends a message.
   *
   * @throws IllegalStateException if the batch is full
   */
  public void addMessage(long tscTicks, String text) {
    int i = next();
    this.kinds[i] = (byte) RecordKind.MESSAGE;
    this.nameIds[i] = 0;
    this.tscTicks[i] = tscTicks;
    this.arg0[i] = 0;
    this.arg1[i] = 0;
    this.messages[i] = text;
    if (messageCount == messageIndexes.length) {
      // At most one per record: bounded by the capacity.
      messageIndexes = Arrays.copyOf(messageIndexes, Math.min(2 * messageCount, kinds.length));
    }
    messageIndexes[messageCount++] = i;
  }

  /**
   * The decoder's fast path ({@code RecordDecoder}): appends, from {@code words} (little-endian
   * slot words, slot {@code j} at {@code firstWord + 4 * j}), at most {@code max} records whose
   * kind is in the bit set {@code plainKinds}, whose TSC is not below the one before (the first:
   * not below {@code minTsc}) and whose name id is at most {@code knownNames} (unsigned); stops at
   * the first other one. Here, not in the decoder, so that the loop indexes these arrays directly
   * and the JIT checks their bounds once per call, not five times per record.
   *
   * @return how many records were appended
   */
  int addPlain(long[] words, int firstWord, int max, long minTsc, int knownNames, long plainKinds) {
    int start = size;
    int n = Math.min(max, kinds.length - start);
    byte[] k = kinds;
    int[] ids = nameIds;
    long[] tsc = tscTicks;
    long[] a0 = arg0;
    long[] a1 = arg1;
    long last = minTsc;
    int j = 0;
    for (; j < n; j++) {
      int w = firstWord + (j << 2);
      long word = words[w];
      int kind = (int) (word & 0xFF);
      long t = words[w + 1];
      int nameId = (int) (word >>> 32);
      if (kind >= Long.SIZE
          || (plainKinds >>> kind & 1) == 0
          || t < last
          || Integer.compareUnsigned(nameId, knownNames) > 0) {
        break;
      }
      int i = start + j;
      k[i] = (byte) kind;
      ids[i] = nameId;
      tsc[i] = t;
      a0[i] = words[w + 2];
      a1[i] = words[w + 3];
      last = t;
    }
    size = start + j;
    return j;
  }

  private int next() {
    if (size == kinds.length) {
      throw new IllegalStateException("record batch full: capacity=" + kinds.length);
    }
    return size++;
  }

  private int check(int i) {
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException("record index out of range: i=" + i + " size=" + size);
    }
    return i;
  }
}
