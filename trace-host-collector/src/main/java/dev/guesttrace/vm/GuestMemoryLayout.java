package dev.guesttrace.vm;

import dev.guesttrace.abi.BootInfoDescriptor;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.guest.BootInfo;
import java.util.Map;

/**
 * The standard placement of call buffers and heap in guest memory, shared by every backend: call
 * buffers at {@link GuestLayout#FIRST_FREE_ADDRESS} (an input and an output buffer per vCPU), then
 * the heap, page-aligned, to the end of memory.
 *
 * <pre>{@code
 * GuestMemoryLayout layout = GuestMemoryLayout.standard(64 << 20, 4, GuestLayout.DEFAULT_CALL_BUFFER_LENGTH);
 * BootInfoDescriptor.write(vm.memory(), layout.bootContents(0, BootInfoDescriptor.MODE_STREAM, Map.of()));
 * }</pre>
 *
 * @param memoryBytes bytes of guest physical memory
 * @param vcpus number of vCPUs
 * @param callBufferLength bytes of each call buffer
 * @param callBuffersAddress vCPU 0's input buffer
 * @param heapAddress first byte the guest owns (page-aligned)
 * @param heapLength bytes from {@code heapAddress} to the end of memory
 */
public record GuestMemoryLayout(
    long memoryBytes,
    int vcpus,
    int callBufferLength,
    long callBuffersAddress,
    long heapAddress,
    long heapLength) {

  /** Smallest heap the standard layout accepts: room for the name table and small rings. */
  public static final long MIN_HEAP_BYTES = 256 * 1024;

  private static final long PAGE = 4096;

  /**
   * The standard layout.
   *
   * @throws IllegalArgumentException if the memory is too small for the call buffers and a heap of
   *     {@link #MIN_HEAP_BYTES}, or an argument is out of range
   */
  public static GuestMemoryLayout standard(long memoryBytes, int vcpus, int callBufferLength) {
    if (vcpus < 1 || vcpus > VmConfig.MAX_VCPUS) {
      throw new IllegalArgumentException(
          "vcpus must be 1.." + VmConfig.MAX_VCPUS + ": vcpus=" + vcpus);
    }
    if (callBufferLength < 64 || callBufferLength > 1 << 24) {
      throw new IllegalArgumentException(
          "callBufferLength must be 64..16777216: callBufferLength=" + callBufferLength);
    }
    long callBuffersAddress = GuestLayout.FIRST_FREE_ADDRESS;
    long buffersEnd = callBuffersAddress + 2L * callBufferLength * vcpus;
    long heapAddress = (buffersEnd + PAGE - 1) & -PAGE;
    long heapLength = memoryBytes - heapAddress;
    if (heapLength < MIN_HEAP_BYTES) {
      throw new IllegalArgumentException(
          "guest memory too small: expected at least "
              + (heapAddress + MIN_HEAP_BYTES)
              + " bytes, found memoryBytes="
              + memoryBytes);
    }
    return new GuestMemoryLayout(
        memoryBytes, vcpus, callBufferLength, callBuffersAddress, heapAddress, heapLength);
  }

  /**
   * The boot info for this layout, for {@link BootInfoDescriptor#write}.
   *
   * @param ringLength trace ring bytes per vCPU, 0 for the guest's default
   * @param mode {@link BootInfoDescriptor#MODE_STREAM}, {@link BootInfoDescriptor#MODE_FLIGHT} or
   *     {@link BootInfoDescriptor#MODE_OFF}
   * @param args {@code --arg} key/value pairs
   */
  public BootInfoDescriptor.Contents bootContents(
      int ringLength, int mode, Map<String, String> args) {
    return new BootInfoDescriptor.Contents(
        memoryBytes,
        vcpus,
        callBufferLength,
        callBuffersAddress,
        heapAddress,
        heapLength,
        ringLength,
        mode,
        args);
  }

  /** {@link #bootContents} as the guest library's {@link BootInfo} (for the host-call handlers). */
  public BootInfo bootInfo(int ringLength, int mode, Map<String, String> args) {
    return BootInfo.of(bootContents(ringLength, mode, args));
  }

  /** vCPU {@code vcpuId}'s input buffer (host to guest). */
  public long inputBuffer(int vcpuId) {
    return GuestLayout.inputBufferAddress(callBuffersAddress, callBufferLength, vcpuId);
  }

  /** vCPU {@code vcpuId}'s output buffer (guest to host). */
  public long outputBuffer(int vcpuId) {
    return GuestLayout.outputBufferAddress(callBuffersAddress, callBufferLength, vcpuId);
  }
}
