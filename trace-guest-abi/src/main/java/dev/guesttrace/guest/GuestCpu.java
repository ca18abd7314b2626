package dev.guesttrace.guest;

import dev.guesttrace.abi.Register;
import java.lang.foreign.MemorySegment;

/**
 * What guest code sees of the machine it runs on: its physical memory, its registers, the TSC, port
 * output and halt. The only way in or out of a guest, so that the same guest code runs on any
 * backend and shares no Java objects with the host.
 *
 * <p>One instance per vCPU; it is used only by the thread running that vCPU.
 */
public interface GuestCpu {
  /** This vCPU's index, 0 to vcpuCount - 1. */
  int vcpuId();

  /**
   * The guest's physical memory, address 0 at offset 0. Access outside it faults (the backend turns
   * the exception into a fault exit).
   */
  MemorySegment memory();

  /** Reads the guest's time-stamp counter, in guest TSC ticks. */
  long rdtsc();

  /** Reads a general-purpose register. */
  long register(Register register);

  /** Writes a general-purpose register, typically just before an {@link #out}. */
  void register(Register register, long value);

  /**
   * Executes {@code OUT port, EAX=value}: a synchronous exit to the host, which may read and write
   * this vCPU's registers and the guest's memory before the guest continues.
   */
  void out(int port, int value);

  /**
   * Executes {@code HLT}: control returns to the host and execution of the current entry ends here;
   * this method does not return normally.
   */
  void hlt();
}
