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
 */
public final class VcpuRecords {
  private static final int INITIAL_CAPACITY = 1024;

  // Columns start empty and grow with what arrives: a trace file's header can claim thousands of
  // vCPUs, and what a vCPU costs before it has records must not depend on that claim.
  private final int vcpu;
  private byte[] kinds = new byte[0];
  private int[] nameIds = new int[0];
  private long[] tscTicks = new long[0];
  private long[] arg0 = new long[0];
  private long[] arg1 = new long[0];
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
    int capacity =
        (int)
            Math.min(
                Integer.MAX_VALUE - 8,
                Math.max(needed, Math.max(INITIAL_CAPACITY, kinds.length * 2L)));
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
