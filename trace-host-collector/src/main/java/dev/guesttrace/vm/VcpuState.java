package dev.guesttrace.vm;

import dev.guesttrace.abi.Register;
import java.lang.foreign.MemorySegment;

/** A paused vCPU as an exit handler sees it. Valid only during the exit it was passed to. */
public interface VcpuState {
  /** The vCPU's index. */
  int vcpuId();

  /** Reads a register of the paused vCPU. */
  long register(Register register);

  /** Writes a register; the guest sees it when it continues. */
  void register(Register register, long value);

  /** The guest's physical memory (untrusted content). */
  MemorySegment memory();
}
