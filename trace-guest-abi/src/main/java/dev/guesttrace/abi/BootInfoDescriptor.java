package dev.guesttrace.abi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The boot-info page at {@link GuestLayout#BOOT_INFO_ADDRESS}: the host writes it before the
 * guest's first instruction, the guest reads it. The offsets, the {@code StructLayout} and the
 * VarHandles are {@link GuestLayout}'s (a test keeps them and the C header in step); this class is
 * the one place that writes and reads the page, for host and guest alike.
 *
 * <pre>
 *   0  u32 magic 'GTBI' (0x49425447)      4  u32 abiVersion
 *   8  u64 memoryLength                  16  u32 vcpuCount        20 u32 callBufferLength
 *  24  u64 callBuffersAddress            32  u64 heapAddress      40 u64 heapLength
 *  48  u32 ringLength (0: guest default) 52  u32 mode (0 stream, 1 flight, 2 off)
 *  56  u32 argsLength                    60  u32 reserved (0)
 *  64  args: UTF-8 lines "key=value\n", argsLength bytes, at most ARGS_MAX_BYTES
 * </pre>
 */
public final class BootInfoDescriptor {
  /** Boot mode: trace in stream mode. */
  public static final int MODE_STREAM = 0;

  /** Boot mode: trace in flight-recorder mode. */
  public static final int MODE_FLIGHT = 1;

  /** Boot mode: tracing off (the guest registers no region; a host refuses one registered). */
  public static final int MODE_OFF = 2;

  /** Bytes of the boot-info page. */
  public static final int PAGE_LENGTH = 4096;

  /**
   * RAX at the fault of a C guest that refused the boot info ({@code gt_bad_boot} in gtguest.h,
   * "GBRF"): RBX then holds the guest's ABI version, RCX the magic and RDX the version it read.
   */
  public static final int REFUSED_MARKER = 0x46524247;

  /**
   * Why a C guest refused the boot info, in one line, from the registers it faulted with, or empty
   * if {@code rax} is not {@link #REFUSED_MARKER} (another fault).
   *
   * @param rax RAX at the fault
   * @param rbx RBX: the guest's ABI version, packed
   * @param rcx RCX: the boot info's magic as the guest read it
   * @param rdx RDX: the boot info's ABI version (the host's) as the guest read it
   */
  public static Optional<String> refusal(long rax, long rbx, long rcx, long rdx) {
    if ((int) rax != REFUSED_MARKER) {
      return Optional.empty();
    }
    String why;
    AbiVersion guest = AbiVersion.fromPacked((int) rbx);
    AbiVersion host = AbiVersion.fromPacked((int) rdx);
    if ((int) rcx != GuestLayout.BOOT_MAGIC) {
      why =
          String.format(
              "boot info magic: expected 0x%08x, found 0x%08x", GuestLayout.BOOT_MAGIC, (int) rcx);
    } else if (guest.major() != host.major()) {
      why =
          host.incompatibilityMessage(guest)
              + " (build the guest with this guesttrace's C SDK: 'guesttrace init c' writes it)";
    } else {
      why = "the vCPU count or this vCPU's id is more than the guest library supports";
    }
    return Optional.of("the guest refused the boot info: " + why);
  }

  private BootInfoDescriptor() {}

  /**
   * What the boot info says.
   *
   * @param memoryLength bytes of guest physical memory
   * @param vcpuCount vCPUs in the VM
   * @param callBufferLength bytes of each call buffer
   * @param callBuffersAddress address of vCPU 0's input buffer
   * @param heapAddress first byte the guest owns
   * @param heapLength bytes the guest owns from {@code heapAddress}
   * @param ringLength requested trace region length per vCPU in bytes, 0 for the guest's default
   * @param mode {@link #MODE_STREAM}, {@link #MODE_FLIGHT} or {@link #MODE_OFF}
   * @param args {@code key=value} arguments, in order
   */
  public record Contents(
      long memoryLength,
      int vcpuCount,
      int callBufferLength,
      long callBuffersAddress,
      long heapAddress,
      long heapLength,
      int ringLength,
      int mode,
      Map<String, String> args) {

    /** Copies the args, keeping their order. */
    public Contents {
      args = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(args));
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

  /**
   * Writes the boot info into guest memory (the host's side): zeroes the page, then the header with
   * this host's ABI version, then the args.
   *
   * @throws IllegalArgumentException if the args do not fit the page
   */
  public static void write(MemorySegment memory, Contents boot) {
    Objects.requireNonNull(boot, "boot");
    long base = GuestLayout.BOOT_INFO_ADDRESS;
    StringBuilder text = new StringBuilder();
    boot.args().forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
    byte[] argBytes = text.toString().getBytes(StandardCharsets.UTF_8);
    if (argBytes.length > GuestLayout.ARGS_MAX_BYTES) {
      throw new IllegalArgumentException(
          "guest args too long: expected at most "
              + GuestLayout.ARGS_MAX_BYTES
              + " bytes, found "
              + argBytes.length);
    }
    memory.asSlice(base, PAGE_LENGTH).fill((byte) 0);
    GuestLayout.MAGIC_HANDLE.set(memory, base, GuestLayout.BOOT_MAGIC);
    GuestLayout.ABI_VERSION_HANDLE.set(memory, base, AbiVersion.CURRENT.packed());
    GuestLayout.MEMORY_LENGTH_HANDLE.set(memory, base, boot.memoryLength());
    GuestLayout.VCPU_COUNT_HANDLE.set(memory, base, boot.vcpuCount());
    GuestLayout.CALL_BUFFER_LENGTH_HANDLE.set(memory, base, boot.callBufferLength());
    GuestLayout.CALL_BUFFERS_ADDRESS_HANDLE.set(memory, base, boot.callBuffersAddress());
    GuestLayout.HEAP_ADDRESS_HANDLE.set(memory, base, boot.heapAddress());
    GuestLayout.HEAP_LENGTH_HANDLE.set(memory, base, boot.heapLength());
    GuestLayout.RING_LENGTH_HANDLE.set(memory, base, boot.ringLength());
    GuestLayout.MODE_HANDLE.set(memory, base, boot.mode());
    GuestLayout.ARGS_LENGTH_HANDLE.set(memory, base, argBytes.length);
    MemorySegment.copy(
        argBytes,
        0,
        memory,
        ValueLayout.JAVA_BYTE,
        base + GuestLayout.ARGS_OFFSET,
        argBytes.length);
  }

  /**
   * Reads the boot info from guest memory (the guest's side).
   *
   * @throws IllegalStateException if the magic does not match, or the host's ABI major version is
   *     not this library's
   */
  public static Contents read(MemorySegment memory) {
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
    return new Contents(
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
}
