package dev.guesttrace.vm.emulated;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Guest memory for the emulated backend: an anonymous private mapping ({@code mmap}), whose pages
 * the kernel zeroes on first touch. {@link Arena#allocate} zero-fills all of it up front instead,
 * which for the default 64 MiB was about a third of the CPU time of a short {@code guesttrace run}
 * (docs/performance.md, "Start-up"), though a guest touches a few pages of it.
 *
 * <p>The mapping belongs to the given arena: closing the arena makes every later access fail, as
 * for allocated memory, and then unmaps it. Where {@code mmap} cannot be used (not Linux, native
 * access not enabled, the call failed), memory comes from {@link Arena#allocate}, zero-filled.
 */
final class GuestMemory {
  private static final int PROT_READ = 1;
  private static final int PROT_WRITE = 2;
  private static final int MAP_PRIVATE = 0x02;
  private static final int MAP_ANONYMOUS = 0x20;
  private static final int MAP_NORESERVE = 0x4000;

  private GuestMemory() {}

  /** {@code bytes} of zeroed memory, page-aligned, owned by {@code arena}. */
  static MemorySegment allocate(Arena arena, long bytes) {
    MemorySegment mapped = Mapping.map(arena, bytes);
    return mapped != null ? mapped : arena.allocate(bytes, 4096);
  }

  /**
   * The mmap downcall, made on first use; null where unavailable. Its descriptor is the one {@link
   * RdtscStub} links mmap with, so the linker's cache hands back the same downcall stub instead of
   * generating another at start-up. munmap is linked only when a VM is closed.
   */
  private static final class Mapping {
    private static final MethodHandle MMAP;

    static {
      MethodHandle mmap = null;
      try {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
          mmap =
              downcall(
                  "mmap",
                  FunctionDescriptor.of(
                      ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
        }
      } catch (Throwable e) {
        // Native access denied or no such symbol: allocate() falls back to the arena.
        mmap = null;
      }
      MMAP = mmap;
    }

    @SuppressWarnings("restricted") // libc's mmap and munmap, called as declared
    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
      Linker linker = Linker.nativeLinker();
      return linker.downcallHandle(linker.defaultLookup().find(name).orElseThrow(), descriptor);
    }

    @SuppressWarnings("restricted") // reinterpret: the mapping is ours, its size is what we mapped
    static MemorySegment map(Arena arena, long bytes) {
      if (MMAP == null) {
        return null;
      }
      long address;
      try {
        address =
            ((MemorySegment)
                    MMAP.invokeExact(
                        MemorySegment.NULL,
                        bytes,
                        PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1,
                        0L))
                .address();
      } catch (Throwable e) {
        return null;
      }
      if (address == -1L || address == 0L) {
        return null; // MAP_FAILED: the arena allocates instead, and reports a real failure
      }
      try {
        return MemorySegment.ofAddress(address)
            .reinterpret(bytes, arena, s -> unmap(address, bytes));
      } catch (RuntimeException e) {
        unmap(address, bytes); // e.g. the arena was closed meanwhile
        throw e;
      }
    }

    private static void unmap(long address, long bytes) {
      try {
        int ignored = (int) Unmap.MUNMAP.invokeExact(address, bytes);
      } catch (Throwable e) {
        // Nothing to do at close: the address space stays reserved until the process ends.
      }
    }
  }

  /** The munmap downcall, linked the first time a VM's memory is unmapped. */
  private static final class Unmap {
    private static final MethodHandle MUNMAP =
        Mapping.downcall("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
  }
}
