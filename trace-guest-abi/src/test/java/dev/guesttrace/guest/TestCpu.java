package dev.guesttrace.guest;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.Register;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A guest CPU for tests: native memory, a deterministic TSC that advances {@link #TSC_STEP} ticks
 * per read, and an {@code out} that records every exit and plays the host with a {@link
 * ReferenceReader} (registration copies the header, a flush drains up to the write sequence).
 */
final class TestCpu implements GuestCpu {
  /** The first {@link #rdtsc()} returns {@code TSC_START + TSC_STEP}. */
  static final long TSC_START = 1_000;

  static final long TSC_STEP = 10;

  /** One OUT as the host saw it; {@code writeSequence} is the region header's at that moment. */
  record Exit(int port, int value, long rdi, long rsi, long rcx, long writeSequence) {}

  /** Thrown by {@link #hlt()}: the guest's current entry ends. */
  static final class Halted extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Halted() {
      super("hlt", null, false, false);
    }
  }

  private final int vcpuId;
  private final MemorySegment memory;
  private final long[] registers = new long[Register.COUNT];
  private final List<Exit> exits = new ArrayList<>();
  private final ReferenceReader host = new ReferenceReader();
  private long tsc = TSC_START;
  private long regionAddress;
  private long regionLength;

  TestCpu(int vcpuId, long memoryBytes) {
    this.vcpuId = vcpuId;
    this.memory = Arena.ofAuto().allocate(memoryBytes, 4096);
  }

  @Override
  public int vcpuId() {
    return vcpuId;
  }

  @Override
  public MemorySegment memory() {
    return memory;
  }

  @Override
  public long rdtsc() {
    tsc += TSC_STEP;
    return tsc;
  }

  @Override
  public long register(Register register) {
    return registers[register.ordinal()];
  }

  @Override
  public void register(Register register, long value) {
    registers[register.ordinal()] = value;
  }

  @Override
  public void out(int port, int value) {
    long rdi = registers[Register.RDI.ordinal()];
    long rsi = registers[Register.RSI.ordinal()];
    long rcx = registers[Register.RCX.ordinal()];
    long sequence = -1;
    if (port == ExitPorts.TRACE && value == ExitPorts.TRACE_OP_REGISTER) {
      regionAddress = rdi;
      regionLength = rsi;
      host.register(region());
    }
    if (regionLength > 0) {
      sequence = ReferenceReader.header(region()).writeSequence();
    }
    exits.add(new Exit(port, value, rdi, rsi, rcx, sequence));
    if (port == ExitPorts.TRACE && value == ExitPorts.TRACE_OP_FLUSH) {
      host.drain(region());
    }
  }

  @Override
  public void hlt() {
    throw new Halted();
  }

  /** The registered region's bytes (a view, not a copy). */
  ByteBuffer region() {
    return memory.asSlice(regionAddress, regionLength).asByteBuffer();
  }

  /** Bytes at {@code address}, a view. */
  ByteBuffer bytes(long address, long length) {
    return memory.asSlice(address, length).asByteBuffer();
  }

  /** The value the last {@link #rdtsc()} returned. */
  long lastTsc() {
    return tsc;
  }

  List<Exit> exits() {
    return exits;
  }

  ReferenceReader host() {
    return host;
  }
}
