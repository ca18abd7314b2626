package dev.guesttrace.guest;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.GuestLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
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

  /** Boot mode: trace in stream mode. */
  public static final int MODE_STREAM = 0;

  /** Boot mode: trace in flight-recorder mode. */
  public static final int MODE_FLIGHT = 1;

  /** Boot mode: tracing off (the guest registers no region). */
  public static final int MODE_OFF = 2;

  /** Copies the args. */
  public BootInfo {
    args = Map.copyOf(args);
  }

  /**
   * Reads the boot info from guest memory.
   *
   * @throws IllegalStateException if the magic or version do not match this guest library
   */
  public static BootInfo read(MemorySegment memory) {
    long base = GuestLayout.BOOT_INFO_ADDRESS;
    int magic = (int) GuestLayout.MAGIC_HANDLE.get(memory, base);
    if (magic != GuestLayout.BOOT_MAGIC) {
      throw new IllegalStateException(
          String.format(
              "boot info magic: expected 0x%08x, found 0x%08x", GuestLayout.BOOT_MAGIC, magic));
    }
    AbiVersion host = AbiVersion.fromPacked((int) GuestLayout.ABI_VERSION_HANDLE.get(memory, base));
    if (host.major() != AbiVersion.CURRENT.major()) {
      throw new IllegalStateException(
          "trace ABI not compatible: host=" + host + " guest=" + AbiVersion.CURRENT);
    }
    int argsLength =
        Math.min(
            (int) GuestLayout.ARGS_LENGTH_HANDLE.get(memory, base), GuestLayout.ARGS_MAX_BYTES);
    byte[] argBytes = new byte[Math.max(0, argsLength)];
    MemorySegment.copy(
        memory,
        ValueLayout.JAVA_BYTE,
        base + GuestLayout.ARGS_OFFSET,
        argBytes,
        0,
        argBytes.length);
    Map<String, String> args = new LinkedHashMap<>();
    for (String line : new String(argBytes, StandardCharsets.UTF_8).split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        args.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    return new BootInfo(
        (long) GuestLayout.MEMORY_LENGTH_HANDLE.get(memory, base),
        (int) GuestLayout.VCPU_COUNT_HANDLE.get(memory, base),
        (int) GuestLayout.CALL_BUFFER_LENGTH_HANDLE.get(memory, base),
        (long) GuestLayout.CALL_BUFFERS_ADDRESS_HANDLE.get(memory, base),
        (long) GuestLayout.HEAP_ADDRESS_HANDLE.get(memory, base),
        (long) GuestLayout.HEAP_LENGTH_HANDLE.get(memory, base),
        (int) GuestLayout.RING_LENGTH_HANDLE.get(memory, base),
        (int) GuestLayout.MODE_HANDLE.get(memory, base),
        args);
  }

  /**
   * Writes this boot info into guest memory (the host's side).
   *
   * @throws IllegalArgumentException if the args do not fit the boot page
   */
  public void write(MemorySegment memory) {
    long base = GuestLayout.BOOT_INFO_ADDRESS;
    StringBuilder text = new StringBuilder();
    args.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
    byte[] argBytes = text.toString().getBytes(StandardCharsets.UTF_8);
    if (argBytes.length > GuestLayout.ARGS_MAX_BYTES) {
      throw new IllegalArgumentException(
          "guest args too long: expected at most "
              + GuestLayout.ARGS_MAX_BYTES
              + " bytes, found "
              + argBytes.length);
    }
    memory.asSlice(base, 4096).fill((byte) 0);
    GuestLayout.MAGIC_HANDLE.set(memory, base, GuestLayout.BOOT_MAGIC);
    GuestLayout.ABI_VERSION_HANDLE.set(memory, base, AbiVersion.CURRENT.packed());
    GuestLayout.MEMORY_LENGTH_HANDLE.set(memory, base, memoryLength);
    GuestLayout.VCPU_COUNT_HANDLE.set(memory, base, vcpuCount);
    GuestLayout.CALL_BUFFER_LENGTH_HANDLE.set(memory, base, callBufferLength);
    GuestLayout.CALL_BUFFERS_ADDRESS_HANDLE.set(memory, base, callBuffersAddress);
    GuestLayout.HEAP_ADDRESS_HANDLE.set(memory, base, heapAddress);
    GuestLayout.HEAP_LENGTH_HANDLE.set(memory, base, heapLength);
    GuestLayout.RING_LENGTH_HANDLE.set(memory, base, ringLength);
    GuestLayout.MODE_HANDLE.set(memory, base, mode);
    GuestLayout.ARGS_LENGTH_HANDLE.set(memory, base, argBytes.length);
    MemorySegment.copy(
        argBytes,
        0,
        memory,
        ValueLayout.JAVA_BYTE,
        base + GuestLayout.ARGS_OFFSET,
        argBytes.length);
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
