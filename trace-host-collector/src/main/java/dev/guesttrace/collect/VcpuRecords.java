package dev.guesttrace.collect;

import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.RecordKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every record kept from one vCPU, in ring order, in columns (no object per record), and the names
 * its records refer to. Part of a {@link TraceData}; filled by {@link TraceData.Builder} and
 * read-only afterwards.
 *
 * <p>The columns are blocks of {@value #BLOCK_RECORDS} records: they grow by a block at a time (no
 * doubling, which left a 10 M-record file's columns 65 % larger than their records, and copied them
 * all at each step), and a view that needs each record once can {@link #releaseBefore free} them
 * behind it.
 */
public final class VcpuRecords {
  private static final int BLOCK_BITS = 14;

  /** Records per block of the columns: 16,384 (464 KiB of columns). */
  public static final int BLOCK_RECORDS = 1 << BLOCK_BITS;

  private static final int BLOCK_MASK = BLOCK_RECORDS - 1;
  private static final int FIRST_BLOCK_RECORDS = 256;

  // Blocks are allocated as records arrive: a trace file's header can claim thousands of vCPUs,
  // and what a vCPU costs before it has records must not depend on that claim.
  private final int vcpu;
  private byte[][] kinds = new byte[0][];
  private int[][] nameIds = new int[0][];
  private long[][] tscTicks = new long[0][];
  private long[][] arg0 = new long[0][];
  private long[][] arg1 = new long[0][];
  private int blocks;
  private int releasedBlocks;
  private final List<String> messages = new ArrayList<>(0);
  // Names by id: an array for the dense ids guests use (1, 2, 3, ...), a map for ids far beyond the
  // number of names defined, so that one name with id 65535 costs one entry, not 65536 slots.
  private String[] names = new String[16];
  private int definedNames;
  private Map<Integer, String> sparseNames;
  private int size;

  VcpuRecords(int vcpu) {
    this.vcpu = vcpu;
  }

  /** The vCPU index. */
  public int vcpu() {
    return vcpu;
  }

  /** Records kept (released ones included). */
  public int size() {
    return size;
  }

  /** The {@link RecordKind} of record {@code i}. */
  public int kind(int i) {
    return kinds[check(i) >>> BLOCK_BITS][i & BLOCK_MASK];
  }

  /** The name id of record {@code i} (0 = none); {@link #name} resolves it. */
  public int nameId(int i) {
    return nameIds[check(i) >>> BLOCK_BITS][i & BLOCK_MASK];
  }

  /** The guest TSC of record {@code i}. */
  public long tscTicks(int i) {
    return tscTicks[check(i) >>> BLOCK_BITS][i & BLOCK_MASK];
  }

  /** The first argument of record {@code i}; 0 for messages. */
  public long arg0(int i) {
    return kind(i) == RecordKind.MESSAGE ? 0 : arg0[i >>> BLOCK_BITS][i & BLOCK_MASK];
  }

  /** The second argument of record {@code i}. */
  public long arg1(int i) {
    return arg1[check(i) >>> BLOCK_BITS][i & BLOCK_MASK];
  }

  /** The text of record {@code i} if it is a MESSAGE, else {@code null}. */
  public String message(int i) {
    // A message keeps the index of its text in arg0: no column of references for every record.
    return kind(i) == RecordKind.MESSAGE
        ? messages.get((int) arg0[i >>> BLOCK_BITS][i & BLOCK_MASK])
        : null;
  }

  /**
   * Frees the columns of the records before {@code index} (whole blocks of them), for a reader that
   * needs each record once and keeps what it made of them: a view building its span tree from a
   * file. Reading a freed record afterwards throws {@link IllegalStateException}; {@link #size()},
   * the names and the messages stay.
   */
  public void releaseBefore(int index) {
    int upTo = Math.min(index, size) >>> BLOCK_BITS;
    for (int b = releasedBlocks; b < upTo; b++) {
      kinds[b] = null;
      nameIds[b] = null;
      tscTicks[b] = null;
      arg0[b] = null;
      arg1[b] = null;
    }
    releasedBlocks = Math.max(releasedBlocks, upTo);
  }

  /** The name with id {@code nameId}, or {@code null} if the guest never defined it. */
  public String name(int nameId) {
    String name = nameId > 0 && nameId < names.length ? names[nameId] : null;
    return name != null || sparseNames == null || nameId <= 0 ? name : sparseNames.get(nameId);
  }

  /** Highest name id defined plus one (ids start at 1). */
  public int nameLimit() {
    int limit = 1;
    for (int i = names.length - 1; i > 0; i--) {
      if (names[i] != null) {
        limit = i + 1;
        break;
      }
    }
    if (sparseNames != null) {
      for (int id : sparseNames.keySet()) {
        limit = Math.max(limit, id + 1);
      }
    }
    return limit;
  }

  void defineName(int nameId, String name) {
    if (nameId < 1 || nameId > NameTableDescriptor.MAX_NAMES) {
      throw new IllegalArgumentException(
          "name id out of range 1.." + NameTableDescriptor.MAX_NAMES + ": nameId=" + nameId);
    }
    if (nameId >= names.length) {
      if (nameId > 4 * (definedNames + 16)) {
        if (sparseNames == null) {
          sparseNames = new HashMap<>();
        }
        if (sparseNames.put(nameId, name) == null) {
          definedNames++;
        }
        return;
      }
      names = Arrays.copyOf(names, Math.max(nameId + 1, names.length * 2));
    }
    if (names[nameId] == null) {
      definedNames++;
    }
    names[nameId] = name;
  }

  void append(RecordBatch batch) {
    int n = batch.size();
    if (n > Integer.MAX_VALUE - 8 - size) {
      throw new IllegalStateException("too many records for one vCPU: size=" + size);
    }
    for (int j = 0; j < n; j++) {
      int i = size + j;
      int b = i >>> BLOCK_BITS;
      int at = i & BLOCK_MASK;
      if (b == blocks || at == kinds[b].length) {
        addRoom(b);
      }
      int kind = batch.kind(j);
      kinds[b][at] = (byte) kind;
      nameIds[b][at] = batch.nameId(j);
      tscTicks[b][at] = batch.tscTicks(j);
      if (kind == RecordKind.MESSAGE) {
        arg0[b][at] = messages.size();
        messages.add(batch.message(j));
      } else {
        arg0[b][at] = batch.arg0(j);
      }
      arg1[b][at] = batch.arg1(j);
    }
    size += n;
  }

  /**
   * Room for the next record, in block {@code b}: a new block, or a larger first block. The first
   * block starts small and doubles to full size: a trace of a few records per vCPU (a file can
   * claim thousands of vCPUs) does not cost a full block each.
   */
  private void addRoom(int b) {
    if (b < blocks) {
      int capacity = Math.min(BLOCK_RECORDS, kinds[b].length * 2);
      kinds[b] = Arrays.copyOf(kinds[b], capacity);
      nameIds[b] = Arrays.copyOf(nameIds[b], capacity);
      tscTicks[b] = Arrays.copyOf(tscTicks[b], capacity);
      arg0[b] = Arrays.copyOf(arg0[b], capacity);
      arg1[b] = Arrays.copyOf(arg1[b], capacity);
      return;
    }
    if (blocks == kinds.length) {
      int capacity = Math.max(4, blocks * 2);
      kinds = Arrays.copyOf(kinds, capacity);
      nameIds = Arrays.copyOf(nameIds, capacity);
      tscTicks = Arrays.copyOf(tscTicks, capacity);
      arg0 = Arrays.copyOf(arg0, capacity);
      arg1 = Arrays.copyOf(arg1, capacity);
    }
    int capacity = blocks == 0 ? FIRST_BLOCK_RECORDS : BLOCK_RECORDS;
    kinds[blocks] = new byte[capacity];
    nameIds[blocks] = new int[capacity];
    tscTicks[blocks] = new long[capacity];
    arg0[blocks] = new long[capacity];
    arg1[blocks] = new long[capacity];
    blocks++;
  }

  private int check(int i) {
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException("record index out of range: i=" + i + " size=" + size);
    }
    if (i >>> BLOCK_BITS < releasedBlocks) {
      throw new IllegalStateException("record " + i + " released (releaseBefore) after its use");
    }
    return i;
  }
}
