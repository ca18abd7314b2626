package dev.guesttrace.guest;

import dev.guesttrace.abi.BootInfoDescriptor;
import dev.guesttrace.abi.GuestLayout;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * The boot info the host wrote at {@link GuestLayout#BOOT_INFO_ADDRESS}, as the guest reads it.
 *
 * @param memoryLength bytes of guest physical memory
 * @param vcpuCount vCPUs in the VM
 * @param callBufferLength bytes of each call buffer
 * @param callBuffersAddress address of vCPU 0's input buffer
 * @param heapAddress first byte the guest owns
 * @param heapLength bytes the guest owns from {@code heapAddress}
 * @param ringLength requested trace region length per vCPU in bytes, 0 for the guest's default
 * @param mode {@link #MODE_STREAM}, {@link #MODE_FLIGHT} or {@link #MODE_OFF}
 * @param args {@code key=value} arguments from the command line ({@code --arg})
 */
public record BootInfo(
    long memoryLength,
    int vcpuCount,
    int callBufferLength,
    long callBuffersAddress,
    long heapAddress,
    long heapLength,
    int ringLength,
    int mode,
    Map<String, String> args) {

  /** Boot mode: trace in stream mode ({@link BootInfoDescriptor#MODE_STREAM}). */
  public static final int MODE_STREAM = BootInfoDescriptor.MODE_STREAM;

  /** Boot mode: trace in flight-recorder mode ({@link BootInfoDescriptor#MODE_FLIGHT}). */
  public static final int MODE_FLIGHT = BootInfoDescriptor.MODE_FLIGHT;

  /** Boot mode: tracing off ({@link BootInfoDescriptor#MODE_OFF}). */
  public static final int MODE_OFF = BootInfoDescriptor.MODE_OFF;

  /** Copies the args. */
  public BootInfo {
    args = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(args));
  }

  /**
   * Reads the boot info from guest memory ({@link BootInfoDescriptor#read}).
   *
   * @throws IllegalStateException if the magic or version do not match this guest library
   */
  public static BootInfo read(MemorySegment memory) {
    return of(BootInfoDescriptor.read(memory));
  }

  /** The guest-side view of what {@link BootInfoDescriptor} read or a host will write. */
  public static BootInfo of(BootInfoDescriptor.Contents c) {
    return new BootInfo(
        c.memoryLength(),
        c.vcpuCount(),
        c.callBufferLength(),
        c.callBuffersAddress(),
        c.heapAddress(),
        c.heapLength(),
        c.ringLength(),
        c.mode(),
        c.args());
  }

  /** The same fields as the ABI's {@link BootInfoDescriptor.Contents}. */
  public BootInfoDescriptor.Contents contents() {
    return new BootInfoDescriptor.Contents(
        memoryLength,
        vcpuCount,
        callBufferLength,
        callBuffersAddress,
        heapAddress,
        heapLength,
        ringLength,
        mode,
        args);
  }

  /**
   * Writes this boot info into guest memory ({@link BootInfoDescriptor#write}).
   *
   * @throws IllegalArgumentException if the args do not fit the boot page
   */
  public void write(MemorySegment memory) {
    BootInfoDescriptor.write(memory, contents());
  }

  /** vCPU {@code vcpuId}'s input buffer address. */
  public long inputBuffer(int vcpuId) {
    return GuestLayout.inputBufferAddress(callBuffersAddress, callBufferLength, vcpuId);
  }

  /** vCPU {@code vcpuId}'s output buffer address. */
  public long outputBuffer(int vcpuId) {
    return GuestLayout.outputBufferAddress(callBuffersAddress, callBufferLength, vcpuId);
  }
}
