package dev.guesttrace.collect;

import static dev.guesttrace.abi.TraceRecordDescriptor.CONTINUATION_PAYLOAD_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.CONTINUATION_PAYLOAD_OFFSET;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_INLINE_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_INLINE_OFFSET;
import static dev.guesttrace.abi.TraceRecordDescriptor.MESSAGE_MAX_BYTES;
import static dev.guesttrace.abi.TraceRecordDescriptor.RECORD_SHIFT;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.ExitListener;
import dev.guesttrace.vm.PortHandler;
import dev.guesttrace.vm.VcpuState;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The host side of the guest trace rings: registers each vCPU's region, drains it at every exit,
 * recovers what is left at the end, and streams decoded records, names, calibration pairs and
 * diagnostics to a {@link TraceSink}.
 *
 * <p>The guest is untrusted. Registration validates the region once (inside guest memory, magic,
 * ABI version, lengths, capacity, mode, vCPU id, name table) and copies what the host needs;
 * afterwards the host trusts only its copy and its own read cursor. Every read is bounds-checked,
 * every anomaly becomes a counted {@link Diagnostic}, every record that does not make it into the
 * trace is counted in {@link LossCounters}, and the records kept per run are capped by a quota.
 *
 * <p>Wiring (the exit dispatcher calls these on the vCPU's thread, with the vCPU paused):
 *
 * <pre>{@code
 * TraceCollector collector = TraceCollector.builder(sink).build();
 * collector.start(header);
 * exits.addListener(collector)                      // every exit: calibration pair + drain
 *     .register(ExitPorts.TRACE, collector);          // register / flush
 * // the host measured something:
 * collector.hostSpan(new HostSpan(...));
 * // the run is over (halt, abort, fault, timeout):
 * collector.finish(vm.memory(), "halted", false, exitProfile.rows());
 * }</pre>
 *
 * <p>Thread-safe: vCPU threads may call it at once; calls are serialized, so the sink sees one
 * thread at a time.
 */
public final class TraceCollector implements ExitListener, PortHandler {
  /** Records kept per run unless {@link Builder#setMaxRecords} says otherwise (~230 MB). */
  public static final long DEFAULT_MAX_RECORDS = 8_000_000;

  /**
   * Calibration pairs kept per vCPU before thinning: beyond it every 2nd, then every 4th, ... pair
   * is kept, so a guest that exits a million times a second costs logarithmic memory, and the fit
   * still sees the whole run.
   */
  public static final int PAIRS_BEFORE_THINNING = 16_384;

  /** Records per batch handed to the sink unless {@link Builder#setBatchRecords} says otherwise. */
  public static final int DEFAULT_BATCH_RECORDS = 4096;

  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final TraceSink sink;
  private final long maxRecords;
  private final LongSupplier clock;
  private final RecordBatch batch;
  private final Diagnostics diagnostics = new Diagnostics();
  private final Map<Integer, Ring> rings = new HashMap<>();
  private final Map<Long, NameTableReader> tables = new HashMap<>();
  private final Map<Integer, long[]> pairsSeen = new HashMap<>();
  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
  private int vcpuCount;
  private boolean started;
  private boolean finished;
  private long keptRecords;
  private long[] keptByVcpu = new long[8];
  private long chargedSlots;
  private long flightOverwritten;
  private long streamOverrun;
  private long undecodable;
  private long quotaDropped;
  private String refusal;

  private TraceCollector(Builder b) {
    this.sink = b.sink;
    this.maxRecords = b.maxRecords;
    this.clock = b.clock;
    this.batch = new RecordBatch(b.batchRecords);
  }

  /** A builder for a collector that streams into {@code sink}. */
  public static Builder builder(TraceSink sink) {
    return new Builder(sink);
  }

  /**
   * Starts the trace: passes the header to the sink. Call once, before any exit.
   *
   * @throws IllegalStateException if already started
   */
  public synchronized void start(TraceHeader header) {
    Objects.requireNonNull(header, "header");
    if (started) {
      throw new IllegalStateException("collector already started");
    }
    started = true;
    vcpuCount = header.vcpuCount();
    sink.onHeader(header);
  }

  /**
   * Sees every OUT exit before its handler ({@link ExitListener}), with the host time taken now
   * from the collector's clock. See {@link #onExit(VcpuState, int, int, long)}.
   */
  @Override
  public void onExit(VcpuState vcpu, int port, int value) {
    onExit(vcpu, port, value, clock.getAsLong());
  }

  /**
   * Sees an OUT exit before its handler: on every guesttrace port, a calibration pair from the
   * guest TSC in {@code RCX}; on every port but {@link ExitPorts#TRACE} (whose operations {@link
   * #handle} carries out), a drain of the vCPU's ring, so records reach the host without extra
   * exits and without duplicates.
   *
   * @param vcpu the paused vCPU
   * @param port the OUT port
   * @param value the OUT value (EAX)
   * @param hostNanos {@link System#nanoTime()} when the exit was seen
   */
  public synchronized void onExit(VcpuState vcpu, int port, int value, long hostNanos) {
    requireStarted();
    int id = vcpu.vcpuId();
    if (isGuesttracePort(port)) {
      calibrationPair(id, vcpu.register(Register.RCX), hostNanos);
    }
    if (port != ExitPorts.TRACE) {
      drain(id, vcpu.memory());
    }
  }

  /**
   * The {@link ExitPorts#TRACE} port's handler ({@link PortHandler}): {@link
   * ExitPorts#TRACE_OP_REGISTER} validates and registers the region at {@code RDI} ({@code RSI}
   * bytes); {@link ExitPorts#TRACE_OP_FLUSH} drains the ring. A refused registration leaves the
   * vCPU with the ring it had, if any, else untraced (see {@link #refusal()}); the guest always
   * resumes.
   */
  @Override
  public synchronized ExitHandler.ExitAction handle(VcpuState vcpu, int op) {
    requireStarted();
    onTraceOp(vcpu, op);
    return ExitHandler.ExitAction.RESUME;
  }

  /**
   * Records a calibration pair and passes it to the sink (thinned beyond {@link
   * #PAIRS_BEFORE_THINNING} per vCPU).
   */
  public synchronized void calibrationPair(int vcpu, long guestTscTicks, long hostNanos) {
    requireStarted();
    if (vcpu < 0 || vcpu >= vcpuCount) {
      return;
    }
    long seen = pairsSeen.computeIfAbsent(vcpu, v -> new long[1])[0]++;
    if (seen >= PAIRS_BEFORE_THINNING) {
      long stride = Long.highestOneBit(seen / PAIRS_BEFORE_THINNING) * 2;
      if ((seen & (stride - 1)) != 0) {
        return;
      }
    }
    sink.onCalibration(new CalibrationPair(vcpu, guestTscTicks, hostNanos));
  }

  /**
   * Reads every record the vCPU's guest published since the last drain, up to the header's write
   * sequence. A no-op for a vCPU without a valid region.
   */
  public synchronized void drain(int vcpu, MemorySegment memory) {
    requireStarted();
    Ring ring = rings.get(vcpu);
    if (ring != null) {
      drainRing(ring, memory);
    }
  }

  /**
   * The last drain of a vCPU (at halt, abort, fault or timeout): recovers records the guest wrote
   * but never flushed; in flight mode reads the last {@code capacity} records and counts the
   * overwritten ones. Same bounds and the same cursor as {@link #drain}: nothing is read twice.
   */
  public synchronized void finalDrain(int vcpu, MemorySegment memory) {
    drain(vcpu, memory);
  }

  /** Passes a span the host measured to the sink. */
  public synchronized void hostSpan(HostSpan span) {
    requireStarted();
    sink.onHostSpan(Objects.requireNonNull(span, "span"));
  }

  /**
   * Ends the trace: a final drain of every registered vCPU, then the end with the outcome, the
   * losses, the diagnostics and the exit profile. Call once.
   *
   * @param memory guest memory (still mapped)
   * @param outcome one line, e.g. {@code halted}
   * @param failed whether the run failed (abort, fault, timeout)
   * @param exitProfile VM exits by reason and port ({@link ExitProfileRow#of})
   */
  public synchronized void finish(
      MemorySegment memory, String outcome, boolean failed, List<ExitProfileRow> exitProfile) {
    requireStarted();
    if (finished) {
      throw new IllegalStateException("collector already finished");
    }
    for (Ring ring : rings.values()) {
      drainRing(ring, memory);
    }
    finished = true;
    sink.onFinish(
        new TraceEnd(
            outcome, failed, clock.getAsLong(), losses(), diagnostics.snapshot(), exitProfile));
  }

  /** Losses so far, by cause. */
  public synchronized LossCounters losses() {
    long guestDropped = 0;
    for (Ring ring : rings.values()) {
      guestDropped += ring.guestDropped;
    }
    return new LossCounters(
        flightOverwritten, streamOverrun, undecodable, quotaDropped, guestDropped);
  }

  /** Diagnostics so far, in order of first occurrence. */
  public List<Diagnostic> diagnostics() {
    return diagnostics.snapshot();
  }

  /**
   * Records of {@code vcpu} kept so far: the index its next record will have in {@link
   * TraceData#records}. Read at an exit, after the drain, it places host work among the guest's
   * records ({@link HostSpan#recordPosition}).
   */
  public synchronized long recordCount(int vcpu) {
    return vcpu >= 0 && vcpu < keptByVcpu.length ? keptByVcpu[vcpu] : 0;
  }

  /** Records kept so far, all vCPUs. */
  public synchronized long recordCount() {
    return keptRecords;
  }

  /**
   * Why the first refused registration was refused, in one line (e.g. {@code trace ABI not
   * compatible: host=1.0.0 guest=2.0.0}); empty if none was refused. A run should report it.
   */
  public synchronized Optional<String> refusal() {
    return Optional.ofNullable(refusal);
  }

  /** Whether {@code port} is one of the ports whose OUT carries the guest TSC in RCX. */
  public static boolean isGuesttracePort(int port) {
    return port == ExitPorts.TRACE
        || port == ExitPorts.HOST_CALL
        || port == ExitPorts.LOG
        || port == ExitPorts.ABORT;
  }

  // ---------------------------------------------------------------------------------------------

  private void onTraceOp(VcpuState vcpu, int op) {
    int id = vcpu.vcpuId();
    switch (op) {
      case ExitPorts.TRACE_OP_REGISTER ->
          register(id, vcpu.memory(), vcpu.register(Register.RDI), vcpu.register(Register.RSI));
      case ExitPorts.TRACE_OP_FLUSH -> {
        Ring ring = rings.get(id);
        long address = vcpu.register(Register.RDI);
        if (ring == null) {
          diagnostic(
              Diagnostics.UNREGISTERED_FLUSH,
              id,
              "flush from vCPU "
                  + id
                  + " without a registered region: regionAddress="
                  + hex(address));
        } else {
          if (address != ring.address) {
            diagnostic(
                Diagnostics.UNREGISTERED_FLUSH,
                id,
                "flush names another region: regionAddress="
                    + hex(address)
                    + " registered="
                    + hex(ring.address));
          }
          drainRing(ring, vcpu.memory());
        }
      }
      default -> {
        diagnostic(Diagnostics.UNKNOWN_TRACE_OP, id, "unknown trace port operation: op=" + op);
        drain(id, vcpu.memory());
      }
    }
  }

  private void register(int vcpu, MemorySegment memory, long address, long length) {
    Ring previous = rings.get(vcpu);
    if (previous != null) {
      // A guest that registers again (a reboot, a new ring) keeps what the old ring held. A ring
      // elsewhere stays registered until the new one is accepted: a refused registration must not
      // make the host stop reading the ring the guest may still be writing (records lost
      // silently). The same region registered again is judged by its new header alone.
      drainRing(previous, memory);
      if (previous.address == address) {
        forget(vcpu, previous);
        previous = null;
      }
    }
    if (vcpu < 0 || vcpu >= vcpuCount) {
      refuse(Diagnostics.VCPU_MISMATCH, -1, "vCPU out of range: vcpu=" + vcpu);
      return;
    }
    long memoryBytes = memory.byteSize();
    if (!fits(address, length, memoryBytes) || length < TraceRegionDescriptor.HEADER_LENGTH) {
      refuse(
          Diagnostics.REGION_OUTSIDE_MEMORY,
          vcpu,
          "trace region outside guest memory: regionAddress="
              + hex(address)
              + " length="
              + length
              + " memoryBytes="
              + memoryBytes);
      return;
    }
    int magic = memory.get(U32, address + TraceRegionDescriptor.MAGIC_OFFSET);
    if (magic != TraceRegionDescriptor.MAGIC) {
      refuse(
          Diagnostics.BAD_MAGIC,
          vcpu,
          String.format(
              "trace region magic: expected 0x%08x, found 0x%08x",
              TraceRegionDescriptor.MAGIC, magic));
      return;
    }
    AbiVersion guestVersion =
        AbiVersion.fromPacked(memory.get(U32, address + TraceRegionDescriptor.ABI_VERSION_OFFSET));
    if (!AbiVersion.CURRENT.canRead(guestVersion)) {
      refuse(
          Diagnostics.ABI_INCOMPATIBLE,
          vcpu,
          AbiVersion.CURRENT.incompatibilityMessage(guestVersion));
      return;
    }
    int headerLength =
        Short.toUnsignedInt(memory.get(U16, address + TraceRegionDescriptor.HEADER_LENGTH_OFFSET));
    int recordLength =
        Short.toUnsignedInt(memory.get(U16, address + TraceRegionDescriptor.RECORD_LENGTH_OFFSET));
    long capacity =
        Integer.toUnsignedLong(memory.get(U32, address + TraceRegionDescriptor.CAPACITY_OFFSET));
    int mode = memory.get(U32, address + TraceRegionDescriptor.MODE_OFFSET);
    if (headerLength != TraceRegionDescriptor.HEADER_LENGTH
        || recordLength != TraceRecordDescriptor.RECORD_LENGTH) {
      refuse(
          Diagnostics.BAD_REGION_HEADER,
          vcpu,
          "trace region lengths: expected headerLength=64 recordLength=32, found headerLength="
              + headerLength
              + " recordLength="
              + recordLength);
      return;
    }
    if (!TraceRegionDescriptor.isValidCapacity(capacity)) {
      refuse(
          Diagnostics.BAD_REGION_HEADER,
          vcpu,
          "trace region capacity must be a power of two in ["
              + TraceRegionDescriptor.MIN_CAPACITY
              + ", "
              + TraceRegionDescriptor.MAX_CAPACITY
              + "]: capacity="
              + capacity);
      return;
    }
    long regionLength = TraceRegionDescriptor.regionLength((int) capacity);
    if (regionLength > length) {
      refuse(
          Diagnostics.REGION_OUTSIDE_MEMORY,
          vcpu,
          "trace region longer than registered: capacity="
              + capacity
              + " needs "
              + regionLength
              + " bytes, registered length="
              + length);
      return;
    }
    if (mode != TraceRegionDescriptor.MODE_STREAM && mode != TraceRegionDescriptor.MODE_FLIGHT) {
      refuse(Diagnostics.BAD_REGION_HEADER, vcpu, "trace region mode unknown: mode=" + mode);
      return;
    }
    int claimed = memory.get(U32, address + TraceRegionDescriptor.VCPU_ID_OFFSET);
    if (claimed != vcpu) {
      diagnostic(
          Diagnostics.VCPU_MISMATCH,
          vcpu,
          "trace region claims vcpuId=" + claimed + ", registered by vCPU " + vcpu);
    }
    if (previous != null) {
      forget(vcpu, previous);
    }
    Ring ring = new Ring(vcpu, address, (int) capacity, mode);
    // The cursor starts at 0, not at the guest's write sequence: records written before the
    // registration exit are the guest's too, and a garbage sequence shows up as a counted jump.
    long tableAddress = memory.get(U64, address + TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET);
    long tableLength =
        Integer.toUnsignedLong(
            memory.get(U32, address + TraceRegionDescriptor.NAME_TABLE_LENGTH_OFFSET));
    ring.table = Optional.ofNullable(nameTable(vcpu, memory, tableAddress, tableLength));
    rings.put(vcpu, ring);
    ring.table.ifPresent(
        t -> {
          for (int id = 1; id <= t.knownCount(); id++) {
            sink.onName(vcpu, id, t.name(id));
          }
          t.vcpus.add(vcpu);
          refreshNames(t, memory, vcpu);
        });
  }

  private void forget(int vcpu, Ring ring) {
    rings.remove(vcpu);
    ring.table.ifPresent(t -> t.vcpus.remove(Integer.valueOf(vcpu)));
  }

  private NameTableReader nameTable(int vcpu, MemorySegment memory, long address, long length) {
    if (address == 0 && length == 0) {
      return null; // a guest without names: records carry id 0 only
    }
    if (length < NameTableDescriptor.HEADER_LENGTH
        || length > NameTableDescriptor.MAX_TABLE_LENGTH
        || !fits(address, length, memory.byteSize())) {
      diagnostic(
          Diagnostics.BAD_NAME_TABLE,
          vcpu,
          "name table outside guest memory or its limits: nameTableAddress="
              + hex(address)
              + " nameTableLength="
              + length);
      return null;
    }
    int magic = memory.get(U32, address + NameTableDescriptor.MAGIC_OFFSET);
    if (magic != NameTableDescriptor.MAGIC) {
      diagnostic(
          Diagnostics.BAD_NAME_TABLE,
          vcpu,
          String.format(
              "name table magic: expected 0x%08x, found 0x%08x", NameTableDescriptor.MAGIC, magic));
      return null;
    }
    NameTableReader table = tables.get(address);
    if (table != null && table.length != length) {
      diagnostic(
          Diagnostics.BAD_NAME_TABLE,
          vcpu,
          "name table registered again with another length: nameTableAddress="
              + hex(address)
              + " nameTableLength="
              + length
              + " before="
              + table.length);
      return null;
    }
    if (table == null) {
      table = new NameTableReader(address, (int) length);
      tables.put(address, table);
    }
    return table;
  }

  private void refreshNames(NameTableReader table, MemorySegment memory, int vcpu) {
    if (!fits(table.address, table.length, memory.byteSize())) {
      return;
    }
    int first = table.refresh(memory, this, vcpu);
    for (int id = first; id <= table.knownCount(); id++) {
      for (int v : table.vcpus) {
        sink.onName(v, id, table.name(id));
      }
    }
  }

  private void drainRing(Ring ring, MemorySegment memory) {
    long regionLength = TraceRegionDescriptor.regionLength(ring.capacity);
    if (!fits(ring.address, regionLength, memory.byteSize())) {
      return; // memory shrank under us: nothing is safe to read
    }
    long base = ring.address;
    long written = memory.get(U64, base + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
    // Pairs with the guest's release fence before its store of the write sequence.
    VarHandle.acquireFence();
    long dropped = memory.get(U64, base + TraceRegionDescriptor.DROPPED_RECORDS_OFFSET);
    if (dropped > ring.guestDropped) {
      ring.guestDropped = dropped;
    }
    ring.table.ifPresent(t -> refreshNames(t, memory, ring.vcpu));
    if (written == ring.cursor) {
      return;
    }
    long beforeJump = ring.beforeJump;
    ring.beforeJump = -1;
    if (Long.compareUnsigned(written, ring.cursor) < 0) {
      diagnostic(
          Diagnostics.SEQUENCE_BACKWARDS,
          ring.vcpu,
          "write sequence went back: from=" + ring.cursor + " to=" + written);
      if (beforeJump >= 0
          && Long.compareUnsigned(written, beforeJump) > 0
          && written - beforeJump <= ring.capacity) {
        // Back from a jump to within a ring of where the guest was before it: the jump was the
        // lie, and what the guest wrote since is real. Skipping it would lose it uncounted.
        decode(ring, memory, beforeJump, written);
      }
      ring.cursor = written;
      return;
    }
    long from = ring.cursor;
    long pending = written - from;
    if (Long.compareUnsigned(pending, ring.capacity) > 0) {
      if (ring.mode != TraceRegionDescriptor.MODE_FLIGHT) {
        ring.beforeJump = from;
      }
      long lost = written - ring.capacity - from;
      if (lost < 0) {
        lost = Long.MAX_VALUE; // a sequence beyond 2^63: nothing sane was written
      }
      if (ring.mode == TraceRegionDescriptor.MODE_FLIGHT) {
        flightOverwritten = saturatedAdd(flightOverwritten, lost);
      } else {
        streamOverrun = saturatedAdd(streamOverrun, lost);
        diagnostic(
            Diagnostics.SEQUENCE_JUMP,
            ring.vcpu,
            "write sequence ran more than a ring ahead: cursor="
                + from
                + " writeSequence="
                + written
                + " capacity="
                + ring.capacity
                + " lost="
                + lost);
      }
      from = written - ring.capacity;
      ring.skipContinuations = true;
    }
    decode(ring, memory, from, written);
    ring.cursor = written;
  }

  private void decode(Ring ring, MemorySegment memory, long from, long to) {
    long slots = ring.address + TraceRegionDescriptor.HEADER_LENGTH;
    long mask = ring.capacity - 1L;
    int vcpu = ring.vcpu;
    NameTableReader table = ring.table.orElse(null);
    int knownNames = table == null ? 0 : table.knownCount();
    batch.reset(vcpu);
    long s = from;
    while (s < to) {
      long slot = slots + ((s & mask) << RECORD_SHIFT);
      long word = memory.get(U64, slot);
      int kind = (int) (word & 0xFF);
      long tsc = memory.get(U64, slot + TraceRecordDescriptor.TSC_OFFSET);
      if (kind == RecordKind.CONTINUATION && ring.skipContinuations) {
        // The head of this message was overwritten (flight mode) or lapped (stream overrun).
        if (ring.mode == TraceRegionDescriptor.MODE_FLIGHT) {
          flightOverwritten++;
        } else {
          streamOverrun++;
        }
        s++;
        continue;
      }
      ring.skipContinuations = false;
      switch (kind) {
        case RecordKind.SPAN_BEGIN,
            RecordKind.SPAN_END,
            RecordKind.ALLOC,
            RecordKind.FREE,
            RecordKind.COUNTER -> {
          int nameId = (int) (word >>> 32);
          if (nameId != 0
              && kind != RecordKind.ALLOC
              && kind != RecordKind.FREE
              && Integer.compareUnsigned(nameId, knownNames) > 0) {
            if (!diagnostics.countIfSeen(Diagnostics.UNDEFINED_NAME)) {
              diagnostic(
                  Diagnostics.UNDEFINED_NAME,
                  vcpu,
                  RecordKind.name(kind)
                      + " names an undefined id: nameId="
                      + Integer.toUnsignedString(nameId)
                      + " sequence="
                      + s
                      + " defined="
                      + knownNames);
            }
          }
          checkTime(ring, tsc, s);
          keep(
              kind,
              nameId,
              tsc,
              memory.get(U64, slot + TraceRecordDescriptor.ARG0_OFFSET),
              memory.get(U64, slot + TraceRecordDescriptor.ARG1_OFFSET),
              null);
          s++;
        }
        case RecordKind.MESSAGE -> {
          checkTime(ring, tsc, s);
          s = message(ring, memory, slots, mask, slot, word, tsc, s, to);
        }
        case RecordKind.EMPTY -> {
          undecodable++;
          if (!diagnostics.countIfSeen(Diagnostics.EMPTY_SLOT)) {
            diagnostic(
                Diagnostics.EMPTY_SLOT, vcpu, "empty slot in the written range: sequence=" + s);
          }
          s++;
        }
        case RecordKind.CONTINUATION -> {
          undecodable++;
          if (!diagnostics.countIfSeen(Diagnostics.CONTINUATION_DANGLING)) {
            diagnostic(
                Diagnostics.CONTINUATION_DANGLING,
                vcpu,
                "continuation slot without a message: sequence=" + s);
          }
          s++;
        }
        default -> {
          undecodable++;
          if (!diagnostics.countIfSeen(Diagnostics.UNKNOWN_KIND)) {
            diagnostic(
                Diagnostics.UNKNOWN_KIND,
                vcpu,
                "unknown record kind: kind=" + kind + " sequence=" + s);
          }
          s++;
        }
      }
    }
    flushBatch();
  }

  /** Decodes the message at {@code s}; returns the sequence after it. */
  private long message(
      Ring ring,
      MemorySegment memory,
      long slots,
      long mask,
      long slot,
      long word,
      long tsc,
      long s,
      long to) {
    int vcpu = ring.vcpu;
    int length = (int) ((word >>> 16) & 0xFFFF);
    if (length > MESSAGE_MAX_BYTES) {
      diagnostic(
          Diagnostics.MESSAGE_TOO_LONG,
          vcpu,
          "message longer than the limit: length="
              + length
              + " max="
              + MESSAGE_MAX_BYTES
              + " sequence="
              + s);
      length = MESSAGE_MAX_BYTES;
    }
    int continuations = TraceRecordDescriptor.continuationSlots(length);
    byte[] text = new byte[length];
    int inline = Math.min(length, MESSAGE_INLINE_BYTES);
    MemorySegment.copy(
        memory, ValueLayout.JAVA_BYTE, slot + MESSAGE_INLINE_OFFSET, text, 0, inline);
    int have = inline;
    long next = s + 1;
    for (int c = 0; c < continuations; c++, next++) {
      if (next >= to) {
        diagnostic(
            Diagnostics.CONTINUATION_MISSING,
            vcpu,
            "message continues past the written range: sequence=" + s + " length=" + length);
        break;
      }
      long cont = slots + ((next & mask) << RECORD_SHIFT);
      int contKind = memory.get(ValueLayout.JAVA_BYTE, cont) & 0xFF;
      if (contKind != RecordKind.CONTINUATION) {
        diagnostic(
            Diagnostics.CONTINUATION_MISSING,
            vcpu,
            "message continuation missing: sequence="
                + next
                + " holds "
                + RecordKind.name(contKind)
                + ", message at "
                + s);
        break;
      }
      int n = Math.min(CONTINUATION_PAYLOAD_BYTES, length - have);
      MemorySegment.copy(
          memory, ValueLayout.JAVA_BYTE, cont + CONTINUATION_PAYLOAD_OFFSET, text, have, n);
      have += n;
    }
    keep(
        RecordKind.MESSAGE,
        0,
        tsc,
        0,
        0,
        utf8(text, have, vcpu, "message at sequence " + s),
        next - s);
    return next;
  }

  private void keep(int kind, int nameId, long tsc, long arg0, long arg1, String message) {
    keep(kind, nameId, tsc, arg0, arg1, message, 1);
  }

  /**
   * Keeps a record that took {@code slots} ring slots. The quota counts slots, not records: a
   * message costs the slots its text took, so long messages cannot grow memory past the quota.
   */
  private void keep(
      int kind, int nameId, long tsc, long arg0, long arg1, String message, long slots) {
    if (chargedSlots + slots > maxRecords) {
      quotaDropped++;
      if (!diagnostics.countIfSeen(Diagnostics.QUOTA_EXCEEDED)) {
        diagnostic(
            Diagnostics.QUOTA_EXCEEDED,
            batch.vcpu(),
            "record quota reached, further records dropped: maxRecords=" + maxRecords);
      }
      return;
    }
    keptRecords++;
    int keptVcpu = batch.vcpu();
    if (keptVcpu >= keptByVcpu.length) {
      keptByVcpu =
          java.util.Arrays.copyOf(keptByVcpu, Math.max(keptVcpu + 1, keptByVcpu.length * 2));
    }
    keptByVcpu[keptVcpu]++;
    chargedSlots += slots;
    if (batch.isFull()) {
      int vcpu = batch.vcpu();
      flushBatch();
      batch.reset(vcpu);
    }
    if (message != null) {
      batch.addMessage(tsc, message);
    } else {
      batch.add(kind, nameId, tsc, arg0, arg1);
    }
  }

  private void flushBatch() {
    if (batch.size() > 0) {
      sink.onRecords(batch);
    }
    batch.reset(batch.vcpu());
  }

  private void checkTime(Ring ring, long tsc, long sequence) {
    if (tsc < ring.lastTsc) {
      if (!diagnostics.countIfSeen(Diagnostics.TIMESTAMP_BACKWARDS)) {
        diagnostic(
            Diagnostics.TIMESTAMP_BACKWARDS,
            ring.vcpu,
            "guest TSC went back: sequence="
                + sequence
                + " tscTicks="
                + tsc
                + " before="
                + ring.lastTsc);
      }
    }
    ring.lastTsc = tsc;
  }

  /** Decodes UTF-8, replacing bad bytes with U+FFFD and counting them. */
  String utf8(byte[] bytes, int length, int vcpu, String what) {
    boolean ascii = true;
    for (int i = 0; i < length; i++) {
      if (bytes[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
    }
    try {
      return utf8.decode(ByteBuffer.wrap(bytes, 0, length)).toString();
    } catch (CharacterCodingException e) {
      diagnostic(Diagnostics.BAD_UTF8, vcpu, what + " is not valid UTF-8: replaced");
      return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }
  }

  /** Counts a diagnostic; the first of its kind goes to the sink at once. */
  void diagnostic(String kind, int vcpu, String detail) {
    Diagnostic first = diagnostics.count(kind, vcpu, detail);
    if (first != null) {
      sink.onDiagnostic(first);
    }
  }

  private void refuse(String kind, int vcpu, String detail) {
    if (refusal == null) {
      refusal = detail;
    }
    diagnostic(kind, vcpu, detail);
  }

  private void requireStarted() {
    if (!started) {
      throw new IllegalStateException("collector not started: call start(header) first");
    }
  }

  private static boolean fits(long address, long length, long memoryBytes) {
    return address >= 0 && length >= 0 && address <= memoryBytes && length <= memoryBytes - address;
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return r < 0 ? Long.MAX_VALUE : r;
  }

  private static String hex(long value) {
    return "0x" + Long.toHexString(value);
  }

  /** The host's copy of one vCPU's region, taken at registration, and its cursor. */
  private static final class Ring {
    final int vcpu;
    final long address;
    final int capacity;
    final int mode;
    Optional<NameTableReader> table = Optional.empty();
    long cursor;
    long lastTsc = Long.MIN_VALUE;
    long guestDropped;

    /** Stream mode: the cursor before a jump seen at the last drain, else -1. */
    long beforeJump = -1;

    boolean skipContinuations;

    Ring(int vcpu, long address, int capacity, int mode) {
      this.vcpu = vcpu;
      this.address = address;
      this.capacity = capacity;
      this.mode = mode;
    }
  }

  /** Configures a {@link TraceCollector}. */
  public static final class Builder {
    private final TraceSink sink;
    private long maxRecords = DEFAULT_MAX_RECORDS;
    private int batchRecords = DEFAULT_BATCH_RECORDS;
    private LongSupplier clock = System::nanoTime;

    private Builder(TraceSink sink) {
      this.sink = Objects.requireNonNull(sink, "sink");
    }

    /**
     * Most records kept per run, counted in ring slots (a message counts the slots its text took);
     * the rest are counted as {@code quotaDropped}.
     */
    public Builder setMaxRecords(long maxRecords) {
      if (maxRecords < 0) {
        throw new IllegalArgumentException("maxRecords must be >= 0: maxRecords=" + maxRecords);
      }
      this.maxRecords = maxRecords;
      return this;
    }

    /** Records per batch handed to the sink. */
    public Builder setBatchRecords(int batchRecords) {
      if (batchRecords < 1) {
        throw new IllegalArgumentException(
            "batchRecords must be >= 1: batchRecords=" + batchRecords);
      }
      this.batchRecords = batchRecords;
      return this;
    }

    /**
     * The host monotonic clock, {@link System#nanoTime()} by default; tests pass a deterministic
     * one.
     */
    public Builder setClock(LongSupplier clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Builds the collector. */
    public TraceCollector build() {
      return new TraceCollector(this);
    }
  }
}
