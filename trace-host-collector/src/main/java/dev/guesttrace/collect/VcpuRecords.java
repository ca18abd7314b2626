package dev.guesttrace.collect;

import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.RecordKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Every record kept from one vCPU, in ring order, in columns (no object per record), and the names
 * its records refer to. Part of a {@link TraceData}; filled by {@link TraceData.Builder} and
 * read-only afterwards.
 */
public final class VcpuRecords {
  private static final int INITIAL_CAPACITY = 1024;

  private final int vcpu;
  private byte[] kinds = new byte[INITIAL_CAPACITY];
  private int[] nameIds = new int[INITIAL_CAPACITY];
  private long[] tscTicks = new long[INITIAL_CAPACITY];
  private long[] arg0 = new long[INITIAL_CAPACITY];
  private long[] arg1 = new long[INITIAL_CAPACITY];
  private final List<String> messages = new ArrayList<>();
  private String[] names = new String[16];
  private int size;

  VcpuRecords(int vcpu) {
    this.vcpu = vcpu;
  }

  /** The vCPU index. */
  public int vcpu() {
    return vcpu;
  }

  /** Records kept. */
  public int size() {
    return size;
  }

  /** The {@link RecordKind} of record {@code i}. */
  public int kind(int i) {
    return kinds[check(i)];
  }

  /** The name id of record {@code i} (0 = none); {@link #name} resolves it. */
  public int nameId(int i) {
    return nameIds[check(i)];
  }

  /** The guest TSC of record {@code i}. */
  public long tscTicks(int i) {
    return tscTicks[check(i)];
  }

  /** The first argument of record {@code i}; 0 for messages. */
  public long arg0(int i) {
    return kinds[check(i)] == RecordKind.MESSAGE ? 0 : arg0[i];
  }

  /** The second argument of record {@code i}. */
  public long arg1(int i) {
    return arg1[check(i)];
  }

  /** The text of record {@code i} if it is a MESSAGE, else {@code null}. */
  public String message(int i) {
    // A message keeps the index of its text in arg0: no column of references for every record.
    return kinds[check(i)] == RecordKind.MESSAGE ? messages.get((int) arg0[i]) : null;
  }

  /** The name with id {@code nameId}, or {@code null} if the guest never defined it. */
  public String name(int nameId) {
    return nameId > 0 && nameId < names.length ? names[nameId] : null;
  }

  /** Highest name id defined plus one (ids start at 1). */
  public int nameLimit() {
    for (int i = names.length - 1; i > 0; i--) {
      if (names[i] != null) {
        return i + 1;
      }
    }
    return 1;
  }

  void defineName(int nameId, String name) {
    if (nameId < 1 || nameId > NameTableDescriptor.MAX_NAMES) {
      throw new IllegalArgumentException(
          "name id out of range 1.." + NameTableDescriptor.MAX_NAMES + ": nameId=" + nameId);
    }
    if (nameId >= names.length) {
      names = Arrays.copyOf(names, Math.max(nameId + 1, names.length * 2));
    }
    names[nameId] = name;
  }

  void append(RecordBatch batch) {
    int n = batch.size();
    ensure(size + n);
    for (int j = 0; j < n; j++) {
      int i = size + j;
      int kind = batch.kind(j);
      kinds[i] = (byte) kind;
      nameIds[i] = batch.nameId(j);
      tscTicks[i] = batch.tscTicks(j);
      if (kind == RecordKind.MESSAGE) {
        arg0[i] = messages.size();
        messages.add(batch.message(j));
      } else {
        arg0[i] = batch.arg0(j);
      }
      arg1[i] = batch.arg1(j);
    }
    size += n;
  }

  private void ensure(int needed) {
    if (needed <= kinds.length) {
      return;
    }
    int capacity = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(needed, kinds.length * 2L));
    kinds = Arrays.copyOf(kinds, capacity);
    nameIds = Arrays.copyOf(nameIds, capacity);
    tscTicks = Arrays.copyOf(tscTicks, capacity);
    arg0 = Arrays.copyOf(arg0, capacity);
    arg1 = Arrays.copyOf(arg1, capacity);
  }

  private int check(int i) {
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException("record index out of range: i=" + i + " size=" + size);
    }
    return i;
  }
}
