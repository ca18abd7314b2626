package dev.guesttrace.collect;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Judges a REGISTER: checks the region once, in the order docs/abi.md gives (vCPU, inside guest
 * memory, magic, ABI version, lengths, capacity, mode), and copies what the host needs into a
 * {@link RingReader}. A refusal is a counted diagnostic and a status for the guest ({@code
 * ExitPorts.REGISTER_REFUSED_*}). Name tables are shared by address: one reader per table.
 */
final class RegionRegistrar {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * Most name tables one run reads. A guest needs one per vCPU at most (Java guests share one); a
   * guest that re-registers with a table at ever new addresses would otherwise grow the host's
   * tables, and the trace file, without end.
   */
  static final int MAX_NAME_TABLES = 256;

  /** Most names one run reads from all its tables together: what a trace file reader keeps. */
  static final int MAX_NAMES_PER_RUN = 1 << 20;

  private final int vcpuCount;
  private final Reporter report;
  private final Map<Long, NameTableReader> tables = new ConcurrentHashMap<>();
  private final AtomicInteger namesLeft = new AtomicInteger(MAX_NAMES_PER_RUN);
  private volatile String refusal;

  RegionRegistrar(int vcpuCount, Reporter report) {
    this.vcpuCount = vcpuCount;
    this.report = report;
  }

  /**
   * The outcome of a REGISTER.
   *
   * @param ring the accepted region, null if refused
   * @param status what the guest finds in RAX ({@code ExitPorts.REGISTER_*})
   */
  record Result(RingReader ring, int status) {}

  /** Why the first refused registration was refused, null if none was. */
  String refusal() {
    return refusal;
  }

  /** Refuses a region because the run traces nothing (mode {@code off}), counted. */
  Result refuseTracingOff(int vcpu, long address) {
    return refuse(
        Diagnostics.TRACING_OFF,
        vcpu,
        ExitPorts.REGISTER_REFUSED_TRACING_OFF,
        "trace region registered while tracing is off: regionAddress=" + Reporter.hex(address));
  }

  /** Validates the region at {@code address} ({@code length} bytes) registered by {@code vcpu}. */
  Result register(int vcpu, MemorySegment memory, long address, long length) {
    if (vcpu < 0 || vcpu >= vcpuCount) {
      return refuse(
          Diagnostics.VCPU_MISMATCH,
          -1,
          ExitPorts.REGISTER_REFUSED_VCPU,
          "vCPU out of range: vcpu=" + vcpu);
    }
    long memoryBytes = memory.byteSize();
    if (!Reporter.fits(address, length, memoryBytes)
        || length < TraceRegionDescriptor.HEADER_LENGTH) {
      return refuse(
          Diagnostics.REGION_OUTSIDE_MEMORY,
          vcpu,
          ExitPorts.REGISTER_REFUSED_OUTSIDE_MEMORY,
          "trace region outside guest memory: regionAddress="
              + Reporter.hex(address)
              + " length="
              + length
              + " memoryBytes="
              + memoryBytes);
    }
    int magic = memory.get(U32, address + TraceRegionDescriptor.MAGIC_OFFSET);
    if (magic != TraceRegionDescriptor.MAGIC) {
      return refuse(
          Diagnostics.BAD_MAGIC,
          vcpu,
          ExitPorts.REGISTER_REFUSED_BAD_MAGIC,
          String.format(
              "trace region magic: expected 0x%08x, found 0x%08x",
              TraceRegionDescriptor.MAGIC, magic));
    }
    AbiVersion guestVersion =
        AbiVersion.fromPacked(memory.get(U32, address + TraceRegionDescriptor.ABI_VERSION_OFFSET));
    if (!AbiVersion.CURRENT.canRead(guestVersion)) {
      return refuse(
          Diagnostics.ABI_INCOMPATIBLE,
          vcpu,
          ExitPorts.REGISTER_REFUSED_ABI_INCOMPATIBLE,
          AbiVersion.CURRENT.incompatibilityMessage(guestVersion));
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
      return refuse(
          Diagnostics.BAD_REGION_HEADER,
          vcpu,
          ExitPorts.REGISTER_REFUSED_BAD_HEADER,
          "trace region lengths: expected headerLength=64 recordLength=32, found headerLength="
              + headerLength
              + " recordLength="
              + recordLength);
    }
    if (!TraceRegionDescriptor.isValidCapacity(capacity)) {
      return refuse(
          Diagnostics.BAD_REGION_HEADER,
          vcpu,
          ExitPorts.REGISTER_REFUSED_BAD_HEADER,
          "trace region capacity must be a power of two in ["
              + TraceRegionDescriptor.MIN_CAPACITY
              + ", "
              + TraceRegionDescriptor.MAX_CAPACITY
              + "]: capacity="
              + capacity);
    }
    long regionLength = TraceRegionDescriptor.regionLength((int) capacity);
    if (regionLength > length) {
      return refuse(
          Diagnostics.REGION_OUTSIDE_MEMORY,
          vcpu,
          ExitPorts.REGISTER_REFUSED_OUTSIDE_MEMORY,
          "trace region longer than registered: capacity="
              + capacity
              + " needs "
              + regionLength
              + " bytes, registered length="
              + length);
    }
    if (mode != TraceRegionDescriptor.MODE_STREAM && mode != TraceRegionDescriptor.MODE_FLIGHT) {
      return refuse(
          Diagnostics.BAD_REGION_HEADER,
          vcpu,
          ExitPorts.REGISTER_REFUSED_BAD_HEADER,
          "trace region mode unknown: mode=" + mode);
    }
    int claimed = memory.get(U32, address + TraceRegionDescriptor.VCPU_ID_OFFSET);
    if (claimed != vcpu) {
      report.report(
          Diagnostics.VCPU_MISMATCH,
          vcpu,
          "trace region claims vcpuId=" + claimed + ", registered by vCPU " + vcpu);
    }
    long tableAddress = memory.get(U64, address + TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET);
    long tableLength =
        Integer.toUnsignedLong(
            memory.get(U32, address + TraceRegionDescriptor.NAME_TABLE_LENGTH_OFFSET));
    NameTableReader table = nameTable(vcpu, memory, tableAddress, tableLength);
    return new Result(
        new RingReader(vcpu, address, (int) capacity, mode, table), ExitPorts.REGISTER_ACCEPTED);
  }

  private NameTableReader nameTable(int vcpu, MemorySegment memory, long address, long length) {
    if (address == 0 && length == 0) {
      return null; // a guest without names: records carry id 0 only
    }
    if (length < NameTableDescriptor.HEADER_LENGTH
        || length > NameTableDescriptor.MAX_TABLE_LENGTH
        || !Reporter.fits(address, length, memory.byteSize())) {
      report.report(
          Diagnostics.BAD_NAME_TABLE,
          vcpu,
          "name table outside guest memory or its limits: nameTableAddress="
              + Reporter.hex(address)
              + " nameTableLength="
              + length);
      return null;
    }
    int magic = memory.get(U32, address + NameTableDescriptor.MAGIC_OFFSET);
    if (magic != NameTableDescriptor.MAGIC) {
      report.report(
          Diagnostics.BAD_NAME_TABLE,
          vcpu,
          String.format(
              "name table magic: expected 0x%08x, found 0x%08x", NameTableDescriptor.MAGIC, magic));
      return null;
    }
    NameTableReader table;
    synchronized (tables) {
      table = tables.get(address);
      if (table == null) {
        if (tables.size() >= MAX_NAME_TABLES) {
          report.report(
              Diagnostics.NAMES_CAPPED,
              vcpu,
              "more name tables than a run reads (limit "
                  + MAX_NAME_TABLES
                  + "): the ring is read without names: nameTableAddress="
                  + Reporter.hex(address));
          return null;
        }
        table = new NameTableReader(address, (int) length, namesLeft);
        tables.put(address, table);
      }
    }
    if (table.length != length) {
      report.report(
          Diagnostics.BAD_NAME_TABLE,
          vcpu,
          "name table registered again with another length: nameTableAddress="
              + Reporter.hex(address)
              + " nameTableLength="
              + length
              + " before="
              + table.length);
      return null;
    }
    return table;
  }

  private Result refuse(String kind, int vcpu, int status, String detail) {
    synchronized (this) {
      if (refusal == null) {
        refusal = detail;
      }
    }
    report.report(kind, vcpu, detail);
    return new Result(null, status);
  }
}
