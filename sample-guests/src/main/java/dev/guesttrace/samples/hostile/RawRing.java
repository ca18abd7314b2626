package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Raw access to a vCPU's trace region, for guests that write exactly the bad bytes they want.
 *
 * <p>To stay in step with the well-behaved {@link Tracer} (which keeps its own write sequence), bad
 * records are written into slots the tracer itself reserved: {@link #reserve} flushes, has the
 * tracer publish {@code n} placeholder records, and hands back their sequences; the guest then
 * overwrites those slots before the next exit. The host reads slots only at exits, so it sees the
 * overwritten bytes, and the tracer carries on from the right sequence afterwards.
 */
final class RawRing {
  static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  final GuestCpu cpu;
  final Tracer tracer;
  final MemorySegment memory;
  final long region;
  final int capacity;

  RawRing(GuestRuntime runtime) {
    this.cpu = runtime.cpu();
    this.tracer = runtime.tracer();
    this.memory = cpu.memory();
    this.region = tracer.regionAddress();
    this.capacity = tracer.capacity();
  }

  /**
   * Flushes, then has the tracer publish {@code n} placeholder slots (COUNTER records with no name)
   * without an exit in between.
   *
   * @return the sequence of the first reserved slot
   */
  long reserve(int n) {
    if (n > capacity) {
      throw new IllegalArgumentException("reserve more than the ring: n=" + n);
    }
    tracer.flush();
    long first = tracer.writeSequence();
    for (int i = 0; i < n; i++) {
      tracer.counter(0, 0);
    }
    return first;
  }

  /** Guest physical address of the slot of {@code sequence}. */
  long slotAddress(long sequence) {
    return region + TraceRegionDescriptor.slotOffset(sequence, capacity);
  }

  /** Writes a whole slot: the header word, the TSC and both arguments. */
  void slot(long sequence, long headerWord, long tscTicks, long arg0, long arg1) {
    long slot = slotAddress(sequence);
    memory.set(U64, slot, headerWord);
    memory.set(U64, slot + TraceRecordDescriptor.TSC_OFFSET, tscTicks);
    memory.set(U64, slot + TraceRecordDescriptor.ARG0_OFFSET, arg0);
    memory.set(U64, slot + TraceRecordDescriptor.ARG1_OFFSET, arg1);
  }

  /** Writes a record of {@code kind} naming {@code nameId}, stamped now. */
  void record(long sequence, int kind, int nameId) {
    slot(sequence, TraceRecordDescriptor.header(kind, 0, 0, nameId), cpu.rdtsc(), 0, 0);
  }

  /** Writes a MESSAGE head declaring {@code declaredLength} bytes, with up to 16 inline bytes. */
  void messageHead(long sequence, int declaredLength, byte[] inline) {
    slot(
        sequence,
        TraceRecordDescriptor.header(RecordKind.MESSAGE, 0, declaredLength, 0),
        cpu.rdtsc(),
        0,
        0);
    MemorySegment.copy(
        inline,
        0,
        memory,
        ValueLayout.JAVA_BYTE,
        slotAddress(sequence) + TraceRecordDescriptor.MESSAGE_INLINE_OFFSET,
        Math.min(inline.length, TraceRecordDescriptor.MESSAGE_INLINE_BYTES));
  }

  /** Writes a CONTINUATION slot filled with {@code fill}. */
  void continuation(long sequence, byte fill) {
    long slot = slotAddress(sequence);
    memory.asSlice(slot, TraceRecordDescriptor.RECORD_LENGTH).fill(fill);
    memory.set(ValueLayout.JAVA_BYTE, slot, (byte) RecordKind.CONTINUATION);
  }

  /** The write sequence as the header holds it. */
  long headerWriteSequence() {
    return memory.get(U64, region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
  }

  /** Overwrites the header's write sequence (what the host reads at its next drain). */
  void headerWriteSequence(long sequence) {
    memory.set(U64, region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET, sequence);
  }

  /** A FLUSH exit naming {@code regionAddress}, with the guest TSC in RCX as the ABI asks. */
  void flushNaming(long regionAddress) {
    cpu.register(Register.RDI, regionAddress);
    cpu.register(Register.RCX, cpu.rdtsc());
    cpu.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_FLUSH);
  }

  /** A REGISTER exit for {@code length} bytes at {@code regionAddress}. */
  void register(long regionAddress, long length) {
    cpu.register(Register.RDI, regionAddress);
    cpu.register(Register.RSI, length);
    cpu.register(Register.RCX, cpu.rdtsc());
    cpu.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_REGISTER);
  }

  /** Guest physical address of the name table the region names. */
  long nameTable() {
    return memory.get(U64, region + TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET);
  }

  /**
   * Appends a name-table entry behind the guest library's back: a length prefix of {@code
   * declaredLength} and the bytes {@code utf8}, then publishes it by raising the count. Only safe
   * once the guest interns nothing more.
   *
   * @return the id the entry gets
   */
  int appendName(int declaredLength, byte[] utf8) {
    long table = nameTable();
    int used = memory.get(U32, table + NameTableDescriptor.USED_LENGTH_OFFSET);
    int count = memory.get(U32, table + NameTableDescriptor.NAME_COUNT_OFFSET);
    long entry = table + NameTableDescriptor.HEADER_LENGTH + used;
    memory.set(U16, entry, (short) declaredLength);
    MemorySegment.copy(
        utf8,
        0,
        memory,
        ValueLayout.JAVA_BYTE,
        entry + NameTableDescriptor.ENTRY_LENGTH_PREFIX,
        utf8.length);
    memory.set(
        U32,
        table + NameTableDescriptor.USED_LENGTH_OFFSET,
        used + NameTableDescriptor.entryLength(utf8.length));
    memory.set(U32, table + NameTableDescriptor.NAME_COUNT_OFFSET, count + 1);
    return count + 1;
  }
}
