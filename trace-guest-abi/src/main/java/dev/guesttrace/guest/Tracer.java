package dev.guesttrace.guest;

import static dev.guesttrace.abi.TraceRecordDescriptor.CONTINUATION_PAYLOAD_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.CONTINUATION_PAYLOAD_OFFSET;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_INLINE_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_INLINE_OFFSET;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_MAX_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.RECORD_SHIFT;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The guest's recorder for one vCPU: writes fixed-size records into the vCPU's trace region and
 * hands them to the host with one OUT per ring-full (stream mode) or never (flight mode).
 *
 * <p>The record path allocates nothing and takes no lock: one compare (a full stream ring, a flight
 * ring past its first lap or tracing off take the slow path, which stores the TSC word first and
 * counts the overwritten slot), one TSC read, four 8-byte stores into the slot, and a release store
 * of the write sequence. {@link #begin} and {@link #end} do nothing else; {@link #span} also
 * remembers the name for {@link Span#close()}. A tracer belongs to the thread running its vCPU.
 *
 * <pre>{@code
 * int parse = tracer.name("parse");          // once
 * try (Tracer.Span s = tracer.span(parse)) { // hot path
 *   ...
 * }
 * tracer.begin(parse); ... tracer.end(parse); // explicit, no object at all
 * }</pre>
 */
public final class Tracer {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * A slot as the record path writes it: four little-endian words (header, TSC, arg0, arg1) at the
   * offsets of {@link TraceRecordDescriptor}. Handles derived from one layout check the whole
   * 32-byte slot at its offset, the same check for all four, which the JIT does once per record
   * ({@code MemorySegment.set} checks each 8-byte store on its own).
   */
  private static final StructLayout SLOT_WORDS =
      MemoryLayout.structLayout(
          U64.withName("header"),
          U64.withName("tscTicks"),
          U64.withName("arg0"),
          U64.withName("arg1"));

  private static final VarHandle SLOT_HEADER = slotWord("header", 0);
  private static final VarHandle SLOT_TSC = slotWord("tscTicks", TraceRecordDescriptor.TSC_OFFSET);
  private static final VarHandle SLOT_ARG0 = slotWord("arg0", TraceRecordDescriptor.ARG0_OFFSET);
  private static final VarHandle SLOT_ARG1 = slotWord("arg1", TraceRecordDescriptor.ARG1_OFFSET);

  /**
   * The region header up to and with {@code writeSequence}, an aligned word (the ABI aligns the
   * region to 8 bytes; {@link #register} checks it), so that the sequence can be stored with {@code
   * setRelease}: its bounds and liveness checks come before the release barrier, not after it,
   * where the JIT would reload every field they read. 32 bytes, as a slot: the bounds checks of the
   * two layouts share their {@code byteSize - 31 >= 0} test.
   */
  private static final StructLayout REGION_WRITE_SEQUENCE =
      MemoryLayout.structLayout(
          MemoryLayout.paddingLayout(TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET),
          ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).withName("writeSequence"));

  /** {@code (MemorySegment, long regionAddress)}: the release store that publishes records. */
  private static final VarHandle WRITE_SEQUENCE =
      REGION_WRITE_SEQUENCE.varHandle(PathElement.groupElement("writeSequence"));

  /**
   * Deepest nesting of {@link #span} whose names {@link Span#close()} remembers; deeper ends carry
   * name id 0.
   */
  private static final int MAX_TRACKED_DEPTH = 4096;

  private final GuestCpu cpu;
  private final MemorySegment memory;
  private final NameTableWriter names;
  private final boolean enabled;
  private final long regionAddress;
  private final long slotsAddress;
  private final int capacity;
  private final long mask;
  private final boolean flight;

  /**
   * Names of the spans opened with {@link #span} by depth; index {@link #MAX_TRACKED_DEPTH} takes
   * those deeper than that, so {@link #span} stores without a branch (their ends carry name id 0).
   * {@link #begin} and {@link #end} name their span themselves and keep nothing here: a record and
   * nothing else.
   */
  private final int[] openNames = new int[MAX_TRACKED_DEPTH + 1];

  private final Span span = new Span();
  private int spanDepth;
  private long writeSequence;

  /**
   * The one per-record test: a record at a sequence {@code >= slowPathSequence} takes {@link
   * #writeSlowly}. Stream mode: the ring is full ({@code flushedSequence + capacity}). Flight mode:
   * the ring wraps ({@code capacity}), after which every record counts an overwritten slot.
   * Disabled: -1, every record. So "enabled", "flight" and "full" cost one compare together.
   */
  private long slowPathSequence;

  private long flushedSequence;
  private long overwrittenSlots;
  private int flushCount;
  private int registerStatus;

  private Tracer(
      GuestCpu cpu,
      NameTableWriter names,
      long regionAddress,
      int capacity,
      int mode,
      boolean enabled) {
    this.cpu = cpu;
    this.memory = cpu.memory();
    this.names = names;
    this.enabled = enabled;
    this.regionAddress = regionAddress;
    this.slotsAddress = regionAddress + TraceRegionDescriptor.HEADER_LENGTH;
    this.capacity = capacity;
    this.mask = capacity - 1L;
    this.flight = mode == TraceRegionDescriptor.MODE_FLIGHT;
    this.slowPathSequence = enabled ? capacity : -1;
  }

  /**
   * Formats a trace region at {@code regionAddress} with {@code capacity} slots and registers it
   * with the host (one OUT).
   *
   * @param mode {@link TraceRegionDescriptor#MODE_STREAM} or {@link
   *     TraceRegionDescriptor#MODE_FLIGHT}
   * @throws IllegalArgumentException if the capacity is not valid or the region does not fit memory
   */
  public static Tracer register(
      GuestCpu cpu, NameTableWriter names, long regionAddress, int capacity, int mode) {
    if (!TraceRegionDescriptor.isValidCapacity(capacity)) {
      throw new IllegalArgumentException(
          "capacity must be a power of two in range: capacity=" + capacity);
    }
    long length = TraceRegionDescriptor.regionLength(capacity);
    MemorySegment memory = cpu.memory();
    if (regionAddress < 0 || regionAddress + length > memory.byteSize()) {
      throw new IllegalArgumentException(
          "trace region does not fit guest memory: regionAddress="
              + regionAddress
              + " length="
              + length);
    }
    MemorySegment region = memory.asSlice(regionAddress, length);
    if (region.address() % Long.BYTES != 0 || region.maxByteAlignment() < Long.BYTES) {
      // The ABI's alignment, which the aligned release store of writeSequence relies on.
      throw new IllegalArgumentException(
          "trace region must be 8-byte aligned: regionAddress=" + regionAddress);
    }
    region.fill((byte) 0);
    TraceRegionDescriptor.MAGIC_HANDLE.set(memory, regionAddress, TraceRegionDescriptor.MAGIC);
    TraceRegionDescriptor.ABI_VERSION_HANDLE.set(
        memory, regionAddress, AbiVersion.CURRENT.packed());
    TraceRegionDescriptor.HEADER_LENGTH_HANDLE.set(
        memory, regionAddress, (short) TraceRegionDescriptor.HEADER_LENGTH);
    TraceRegionDescriptor.RECORD_LENGTH_HANDLE.set(
        memory, regionAddress, (short) TraceRecordDescriptor.RECORD_LENGTH);
    TraceRegionDescriptor.CAPACITY_HANDLE.set(memory, regionAddress, capacity);
    TraceRegionDescriptor.MODE_HANDLE.set(memory, regionAddress, mode);
    TraceRegionDescriptor.VCPU_ID_HANDLE.set(memory, regionAddress, cpu.vcpuId());
    TraceRegionDescriptor.NAME_TABLE_ADDRESS_HANDLE.set(memory, regionAddress, names.address());
    TraceRegionDescriptor.NAME_TABLE_LENGTH_HANDLE.set(memory, regionAddress, names.length());
    Tracer tracer = new Tracer(cpu, names, regionAddress, capacity, mode, true);
    cpu.register(Register.RDI, regionAddress);
    cpu.register(Register.RSI, length);
    cpu.register(Register.RCX, cpu.rdtsc());
    cpu.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_REGISTER);
    int status = (int) cpu.register(Register.RAX);
    if (isRefusal(status)) {
      // Refused: the host never reads this ring, so records and flush exits would only cost time.
      Tracer refused = disabled(cpu, names);
      refused.registerStatus = status;
      return refused;
    }
    tracer.registerStatus = status;
    return tracer;
  }

  /**
   * What the host answered in RAX at REGISTER (docs/abi.md, "REGISTER status"): 0 accepted, 1 no
   * answer (RAX still the OUT value; traced as if accepted), anything else refused, and this tracer
   * records nothing. 0 for a tracer that never registered ({@link #disabled}).
   */
  public int registerStatus() {
    return registerStatus;
  }

  /** Whether the host refused this tracer's region at REGISTER, so that it records nothing. */
  public boolean refused() {
    return isRefusal(registerStatus);
  }

  private static boolean isRefusal(int status) {
    return status != ExitPorts.REGISTER_ACCEPTED && status != ExitPorts.REGISTER_NO_ANSWER;
  }

  /** A tracer that records nothing: tracing switched off. Every call returns at once. */
  public static Tracer disabled(GuestCpu cpu, NameTableWriter names) {
    return new Tracer(cpu, names, 0, TraceRegionDescriptor.MIN_CAPACITY, 0, false);
  }

  /** Whether records are being written. */
  public boolean enabled() {
    return enabled;
  }

  /** The id of {@code name}, interning it the first time (not for the hot path: keep the id). */
  public int name(String name) {
    return names.intern(name);
  }

  /**
   * Begins a span now and returns the object whose {@code close()} ends it, with this name.
   * Allocates nothing: the name is remembered on a stack of the spans opened this way.
   */
  public Span span(int nameId) {
    int d = spanDepth;
    // No branch: past the tracked depth every name lands in the spare last entry, never read.
    openNames[Math.min(d, MAX_TRACKED_DEPTH)] = nameId;
    spanDepth = d + 1;
    write(RecordKind.SPAN_BEGIN, nameId, 0, 0);
    return span;
  }

  /**
   * Begins a span; {@link #end} with the same name ends it. Only a record: nothing is remembered.
   */
  public void begin(int nameId) {
    write(RecordKind.SPAN_BEGIN, nameId, 0, 0);
  }

  /** Begins a span with two user arguments. */
  public void begin(int nameId, long arg0, long arg1) {
    write(RecordKind.SPAN_BEGIN, nameId, arg0, arg1);
  }

  /** Ends the innermost open span, which {@code nameId} names. */
  public void end(int nameId) {
    write(RecordKind.SPAN_END, nameId, 0, 0);
  }

  /**
   * Ends the innermost open span begun with {@link #span}, with its name; a span deeper than the
   * 4096 names remembered ends with name id 0 (so does a call with no such span open).
   */
  public void endInnermost() {
    int d = spanDepth;
    int nameId = d > 0 && d <= MAX_TRACKED_DEPTH ? openNames[d - 1] : 0;
    spanDepth = Math.max(d - 1, 0);
    write(RecordKind.SPAN_END, nameId, 0, 0);
  }

  /** Records an allocation of {@code sizeBytes} at guest address {@code address}. */
  public void alloc(long address, long sizeBytes) {
    write(RecordKind.ALLOC, 0, address, sizeBytes);
  }

  /** Records a free of {@code sizeBytes} (0 if unknown) at guest address {@code address}. */
  public void free(long address, long sizeBytes) {
    write(RecordKind.FREE, 0, address, sizeBytes);
  }

  /** Records a sample of the counter {@code nameId}. */
  public void counter(int nameId, long value) {
    write(RecordKind.COUNTER, nameId, value, 0);
  }

  /**
   * Records a text message, cut at a character boundary to {@link
   * TraceRecordDescriptor#MESSAGE_MAX_BYTES} bytes of UTF-8. Allocates nothing.
   */
  public void message(CharSequence text) {
    if (!enabled) {
      return;
    }
    int length = Utf8.encodedLength(text, MESSAGE_MAX_BYTES);
    int slots = 1 + TraceRecordDescriptor.continuationSlots(length);
    reserve(slots);
    long first = writeSequence;
    long tsc = cpu.rdtsc();
    long slot = slotAddress(first);
    // The TSC word first: over a slot of the flight ring's last lap it is what tells the host, if
    // the guest stops before publishing, that the slot no longer holds the old record (abi.md).
    memory.set(U64, slot + TraceRecordDescriptor.TSC_OFFSET, tsc);
    memory.set(U64, slot, TraceRecordDescriptor.header(RecordKind.MESSAGE, 0, length, 0));
    memory.set(U64, slot + TraceRecordDescriptor.ARG0_OFFSET, 0L);
    memory.set(U64, slot + TraceRecordDescriptor.ARG1_OFFSET, 0L);
    for (int s = 1; s < slots; s++) {
      // Four stores instead of asSlice(..).fill(..): a slice is an object, and the record path
      // allocates nothing. Byte 0 is the kind, bytes 1 to 31 start zeroed for the text.
      long cont = slotAddress(first + s);
      memory.set(U64, cont, RecordKind.CONTINUATION);
      memory.set(U64, cont + 8, 0L);
      memory.set(U64, cont + 16, 0L);
      memory.set(U64, cont + 24, 0L);
    }
    int written = 0;
    for (int i = 0; i < text.length() && written < length; i++) {
      char c = text.charAt(i);
      if (c < 0x80) {
        putTextByte(first, written++, c);
      } else if (c < 0x800) {
        putTextByte(first, written++, 0xC0 | c >> 6);
        putTextByte(first, written++, 0x80 | c & 0x3F);
      } else if (Character.isSurrogate(c)) {
        if (Utf8.isPairAt(text, i)) {
          int cp = Character.toCodePoint(c, text.charAt(++i));
          putTextByte(first, written++, 0xF0 | cp >> 18);
          putTextByte(first, written++, 0x80 | cp >> 12 & 0x3F);
          putTextByte(first, written++, 0x80 | cp >> 6 & 0x3F);
          putTextByte(first, written++, 0x80 | cp & 0x3F);
        } else {
          putTextByte(first, written++, '?');
        }
      } else {
        putTextByte(first, written++, 0xE0 | c >> 12);
        putTextByte(first, written++, 0x80 | c >> 6 & 0x3F);
        putTextByte(first, written++, 0x80 | c & 0x3F);
      }
    }
    publish(first + slots);
  }

  /**
   * Records {@code text}, encoded once by {@link Text#of}: the same slots as {@link
   * #message(CharSequence)} with the same text, written as whole words (no encoding, no byte
   * stores). Allocates nothing.
   */
  public void message(Text text) {
    if (!enabled) {
      return;
    }
    long[] words = text.words;
    int slots = words.length >> 2;
    reserve(slots);
    long first = writeSequence;
    long tsc = cpu.rdtsc();
    MemorySegment m = memory;
    long slot = slotAddress(first);
    // The TSC word first (see message(CharSequence)).
    SLOT_TSC.set(m, slot, tsc);
    SLOT_HEADER.set(m, slot, words[0]);
    SLOT_ARG0.set(m, slot, words[2]);
    SLOT_ARG1.set(m, slot, words[3]);
    for (int s = 1; s < slots; s++) {
      long cont = slotAddress(first + s);
      int w = s << 2;
      SLOT_HEADER.set(m, cont, words[w]);
      SLOT_TSC.set(m, cont, words[w + 1]);
      SLOT_ARG0.set(m, cont, words[w + 2]);
      SLOT_ARG1.set(m, cont, words[w + 3]);
    }
    publish(first + slots);
  }

  /**
   * Hands every written record to the host now (one OUT), passing the guest TSC for calibration. A
   * no-op in flight mode, which never exits.
   */
  public void flush() {
    if (!enabled || flight) {
      return;
    }
    forceFlush();
  }

  /** Current write sequence: slots written since registration. */
  public long writeSequence() {
    return writeSequence;
  }

  /** Flight mode: slots written over before the host read them, as far as the guest knows. */
  public long overwrittenSlots() {
    return overwrittenSlots;
  }

  /** Guest physical address of this tracer's region, 0 if disabled. */
  public long regionAddress() {
    return regionAddress;
  }

  /** Ring slots, a power of two. */
  public int capacity() {
    return capacity;
  }

  /** Whether this tracer is in flight-recorder mode. */
  public boolean flightMode() {
    return flight;
  }

  /**
   * The record path: one compare, the TSC read, four 8-byte stores into the slot and the release
   * store of the write sequence. Everything that is not every record's business (a full ring, a
   * wrapped flight ring, a disabled tracer) is behind the one compare, in {@link #writeSlowly}.
   */
  private void write(int kind, int nameId, long arg0, long arg1) {
    long sequence = writeSequence;
    if (sequence >= slowPathSequence) {
      writeSlowly(kind, nameId, arg0, arg1);
      return;
    }
    // The TSC is read first and the slot worked out after it: this order measured 0.8 ns per span
    // less than the reverse, in interleaved runs (docs/performance.md, "The record path").
    long tsc = cpu.rdtsc();
    long next = sequence + 1;
    writeSequence = next;
    MemorySegment m = memory;
    long slot = slotsAddress + ((sequence & mask) << RECORD_SHIFT);
    long header = TraceRecordDescriptor.header(kind, 0, 0, nameId);
    SLOT_HEADER.set(m, slot, header);
    SLOT_TSC.set(m, slot, tsc);
    SLOT_ARG0.set(m, slot, arg0);
    SLOT_ARG1.set(m, slot, arg1);
    // The release store: the slot's words become visible before the sequence that publishes them.
    WRITE_SEQUENCE.setRelease(m, regionAddress, next);
  }

  /** {@link #write} when the ring is full (stream), wraps (flight) or the tracer is disabled. */
  private void writeSlowly(int kind, int nameId, long arg0, long arg1) {
    if (!enabled) {
      return;
    }
    reserve(1);
    long sequence = writeSequence;
    long tsc = cpu.rdtsc();
    long slot = slotAddress(sequence);
    // The TSC word first (see message()): a wrapped flight ring writes over its oldest record here.
    SLOT_TSC.set(memory, slot, tsc);
    SLOT_HEADER.set(memory, slot, TraceRecordDescriptor.header(kind, 0, 0, nameId));
    SLOT_ARG0.set(memory, slot, arg0);
    SLOT_ARG1.set(memory, slot, arg1);
    publish(sequence + 1);
  }

  private void reserve(int slots) {
    if (!flight && writeSequence + slots - flushedSequence > capacity) {
      forceFlush();
    }
  }

  private void publish(long newSequence) {
    if (flight) {
      // Slots at sequences >= capacity reuse a slot written before.
      long reused = newSequence - Math.max(writeSequence, capacity);
      if (reused > 0) {
        overwrittenSlots += reused;
        TraceRegionDescriptor.OVERWRITTEN_SLOTS_HANDLE.set(memory, regionAddress, overwrittenSlots);
      }
    }
    writeSequence = newSequence;
    WRITE_SEQUENCE.setRelease(memory, regionAddress, newSequence); // see write()
  }

  private void forceFlush() {
    flushCount++;
    TraceRegionDescriptor.FLUSH_COUNT_HANDLE.set(memory, regionAddress, flushCount);
    cpu.register(Register.RDI, regionAddress);
    cpu.register(Register.RCX, cpu.rdtsc());
    cpu.out(ExitPorts.TRACE, ExitPorts.TRACE_OP_FLUSH);
    // The OUT is synchronous: when it returns the host has read everything up to writeSequence.
    flushedSequence = writeSequence;
    slowPathSequence = flushedSequence + capacity;
  }

  private static VarHandle slotWord(String name, long offset) {
    if (SLOT_WORDS.byteOffset(PathElement.groupElement(name)) != offset) {
      throw new AssertionError("slot word " + name + " not at offset " + offset);
    }
    return SLOT_WORDS.varHandle(PathElement.groupElement(name));
  }

  private long slotAddress(long sequence) {
    return slotsAddress + ((sequence & mask) << RECORD_SHIFT);
  }

  private void putTextByte(long firstSequence, int index, int value) {
    long address;
    if (index < MESSAGE_INLINE_BYTES) {
      address = slotAddress(firstSequence) + MESSAGE_INLINE_OFFSET + index;
    } else {
      int rest = index - MESSAGE_INLINE_BYTES;
      address =
          slotAddress(firstSequence + 1 + rest / CONTINUATION_PAYLOAD_BYTES)
              + CONTINUATION_PAYLOAD_OFFSET
              + rest % CONTINUATION_PAYLOAD_BYTES;
    }
    memory.set(ValueLayout.JAVA_BYTE, address, (byte) value);
  }

  /**
   * Message text that does not change, encoded once: the slots of its MESSAGE record as the ring
   * holds them (TSC word aside), for {@link #message(Text)}. Immutable; one instance serves every
   * tracer and vCPU.
   *
   * <pre>{@code
   * static final Tracer.Text DONE = Tracer.Text.of("copy done");
   * ...
   * tracer.message(DONE);
   * }</pre>
   */
  public static final class Text {
    /** The slots as little-endian words, four per slot; word 1 (the TSC) is 0. */
    final long[] words;

    private final String text;

    private Text(String text, long[] words) {
      this.text = text;
      this.words = words;
    }

    /**
     * Encodes {@code text} as {@link #message(CharSequence)} would: UTF-8, cut at a character
     * boundary to {@link TraceRecordDescriptor#MESSAGE_MAX_BYTES} bytes, an unpaired surrogate as
     * {@code '?'}.
     */
    public static Text of(String text) {
      byte[] utf8 = Utf8.encode(text, MESSAGE_MAX_BYTES);
      int length = utf8.length;
      int slots = 1 + TraceRecordDescriptor.continuationSlots(length);
      byte[] ring = new byte[slots << RECORD_SHIFT];
      MemorySegment bytes = MemorySegment.ofArray(ring);
      bytes.set(U64, 0, TraceRecordDescriptor.header(RecordKind.MESSAGE, 0, length, 0));
      int inline = Math.min(length, MESSAGE_INLINE_BYTES);
      System.arraycopy(utf8, 0, ring, MESSAGE_INLINE_OFFSET, inline);
      for (int s = 1, at = inline; s < slots; s++) {
        int base = s << RECORD_SHIFT;
        ring[base] = (byte) RecordKind.CONTINUATION;
        int n = Math.min(CONTINUATION_PAYLOAD_BYTES, length - at);
        System.arraycopy(utf8, at, ring, base + CONTINUATION_PAYLOAD_OFFSET, n);
        at += n;
      }
      long[] words = new long[slots << 2];
      for (int w = 0; w < words.length; w++) {
        words[w] = bytes.get(U64, (long) w * Long.BYTES);
      }
      return new Text(text, words);
    }

    /** The text as given to {@link #of} (before any cut). */
    @Override
    public String toString() {
      return text;
    }
  }

  /** The reusable handle returned by {@link #span(int)}; closing it ends the innermost span. */
  public final class Span implements AutoCloseable {
    private Span() {}

    /** Ends the innermost open span. */
    @Override
    public void close() {
      endInnermost();
    }
  }
}
