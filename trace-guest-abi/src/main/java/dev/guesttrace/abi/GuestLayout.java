package dev.guesttrace.abi;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Where things are in guest physical memory, and the boot-info page the host writes before the
 * guest's first instruction. Java guests and C guests find everything through the boot info; only
 * its address is fixed.
 *
 * <pre>
 *  0x0000 .. 0x0FFF   unused (a null pointer stays a null pointer)
 *  0x1000 .. 0x1FFF   boot info (host writes, guest reads), layout below
 *  0x2000 .. 0xFFFF   reserved for the backend (KVM: GDT, page tables)
 *  callBuffersAddress per-vCPU call buffers: vCPU i has its input buffer at
 *                     callBuffersAddress + i * 2 * callBufferLength and its output buffer
 *                     callBufferLength bytes after it
 *  heapAddress        guest-owned memory (trace regions, name table, the guest's own heap)
 * </pre>
 *
 * <p>Boot info, little-endian:
 *
 * <pre>
 *   0  u32 magic 'GTBI' (0x49425447)      4  u32 abiVersion
 *   8  u64 memoryLength                  16  u32 vcpuCount        20 u32 callBufferLength
 *  24  u64 callBuffersAddress            32  u64 heapAddress      40 u64 heapLength
 *  48  u32 ringLength (0: guest default) 52  u32 mode (0 stream, 1 flight)
 *  56  u32 argsLength                    60  u32 reserved (0)
 *  64  args: UTF-8 lines "key=value\n", argsLength bytes, at most ARGS_MAX_BYTES
 * </pre>
 *
 * <p>A call buffer holds one message: {@code u32 length} then {@code length} bytes encoded by
 * {@link CallCodec}.
 */
public final class GuestLayout {
  /** Guest physical address of the boot info page. */
  public static final long BOOT_INFO_ADDRESS = 0x1000;

  /** First address the backend may hand to call buffers and the heap. */
  public static final long FIRST_FREE_ADDRESS = 0x10000;

  /** {@code "GTBI"} read as a little-endian {@code u32}. */
  public static final int BOOT_MAGIC = 0x49425447;

  public static final int MAGIC_OFFSET = 0;
  public static final int ABI_VERSION_OFFSET = 4;
  public static final int MEMORY_LENGTH_OFFSET = 8;
  public static final int VCPU_COUNT_OFFSET = 16;
  public static final int CALL_BUFFER_LENGTH_OFFSET = 20;
  public static final int CALL_BUFFERS_ADDRESS_OFFSET = 24;
  public static final int HEAP_ADDRESS_OFFSET = 32;
  public static final int HEAP_LENGTH_OFFSET = 40;
  public static final int RING_LENGTH_OFFSET = 48;
  public static final int MODE_OFFSET = 52;
  public static final int ARGS_LENGTH_OFFSET = 56;
  public static final int ARGS_OFFSET = 64;

  /** Bytes of the boot info header before the args. */
  public static final int BOOT_INFO_HEADER_LENGTH = 64;

  /** Most bytes of args, so boot info fits its page. */
  public static final int ARGS_MAX_BYTES = 4096 - BOOT_INFO_HEADER_LENGTH;

  /** Default size of each call buffer (each direction, each vCPU). */
  public static final int DEFAULT_CALL_BUFFER_LENGTH = 16 * 1024;

  /** Bytes of a call buffer's length prefix. */
  public static final int CALL_LENGTH_PREFIX = 4;

  /** The boot info header as a foreign-memory layout; a test proves it agrees with the offsets. */
  public static final StructLayout BOOT_INFO_LAYOUT =
      MemoryLayout.structLayout(
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("magic"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("abiVersion"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("memoryLength"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("vcpuCount"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("callBufferLength"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("callBuffersAddress"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("heapAddress"),
          JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("heapLength"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("ringLength"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("mode"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("argsLength"),
          JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN).withName("reserved"));

  public static final VarHandle MAGIC_HANDLE = handle("magic");
  public static final VarHandle ABI_VERSION_HANDLE = handle("abiVersion");
  public static final VarHandle MEMORY_LENGTH_HANDLE = handle("memoryLength");
  public static final VarHandle VCPU_COUNT_HANDLE = handle("vcpuCount");
  public static final VarHandle CALL_BUFFER_LENGTH_HANDLE = handle("callBufferLength");
  public static final VarHandle CALL_BUFFERS_ADDRESS_HANDLE = handle("callBuffersAddress");
  public static final VarHandle HEAP_ADDRESS_HANDLE = handle("heapAddress");
  public static final VarHandle HEAP_LENGTH_HANDLE = handle("heapLength");
  public static final VarHandle RING_LENGTH_HANDLE = handle("ringLength");
  public static final VarHandle MODE_HANDLE = handle("mode");
  public static final VarHandle ARGS_LENGTH_HANDLE = handle("argsLength");

  private GuestLayout() {}

  /** Address of vCPU {@code vcpuId}'s input buffer (host to guest). */
  public static long inputBufferAddress(long callBuffersAddress, int callBufferLength, int vcpuId) {
    return callBuffersAddress + (long) vcpuId * 2 * callBufferLength;
  }

  /** Address of vCPU {@code vcpuId}'s output buffer (guest to host). */
  public static long outputBufferAddress(
      long callBuffersAddress, int callBufferLength, int vcpuId) {
    return inputBufferAddress(callBuffersAddress, callBufferLength, vcpuId) + callBufferLength;
  }

  private static VarHandle handle(String name) {
    return BOOT_INFO_LAYOUT.varHandle(groupElement(name));
  }
}
