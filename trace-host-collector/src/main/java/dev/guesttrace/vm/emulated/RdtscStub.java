package dev.guesttrace.vm.emulated;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.Optional;

/**
 * The host's real time-stamp counter, read by ten bytes of machine code called through the FFM API:
 * {@code rdtsc; shl rdx,32; or rax,rdx; ret}. About as cheap as {@link System#nanoTime()} and,
 * unlike it, in the units a guest on real hardware sees.
 *
 * <p>The page is mapped read+write, filled, then switched to read+exec ({@code mprotect}), so the
 * stub also works where writable-and-executable mappings are refused. Mapped once per process and
 * never unmapped: the downcall handle lives as long as the class.
 */
public final class RdtscStub {
  private static final byte[] CODE = {
    0x0F,
    0x31, // rdtsc
    0x48,
    (byte) 0xC1,
    (byte) 0xE2,
    0x20, // shl rdx, 32
    0x48,
    0x09,
    (byte) 0xD0, // or rax, rdx
    (byte) 0xC3 // ret
  };
  private static final int PAGE = 4096;
  private static final int PROT_READ = 1;
  private static final int PROT_WRITE = 2;
  private static final int PROT_EXEC = 4;
  private static final int MAP_PRIVATE = 0x02;
  private static final int MAP_ANONYMOUS = 0x20;

  private static final String UNAVAILABLE_REASON;
  private static final MethodHandle RDTSC;

  /** Calls made at class initialization to get the downcall compiled. */
  private static final int WARM_UP_CALLS = 20_000;

  /** Keeps the warm-up's reads from being optimized away. */
  @SuppressWarnings("unused")
  private static volatile long warmUpSink;

  static {
    String reason = null;
    MethodHandle handle = null;
    try {
      handle = create();
    } catch (Throwable e) {
      // Any failure (other OS, arch, native access denied, mmap refused) means: no stub.
      reason = e.getMessage() == null ? e.toString() : e.getMessage();
    }
    UNAVAILABLE_REASON = reason;
    RDTSC = handle;
    if (handle != null) {
      // Warm the downcall until the JIT has compiled it (a few ms): an interpreted FFM downcall
      // costs about 10 µs here, and the host's calibration reads of the guest TSC, bracketed by
      // two nanoTime() reads, would carry that much error in the run's first milliseconds.
      long sink = 0;
      for (int i = 0; i < WARM_UP_CALLS; i++) {
        sink += rdtsc();
      }
      warmUpSink = sink;
    }
  }

  private RdtscStub() {}

  /** Whether {@link #rdtsc()} reads the real TSC. */
  public static boolean available() {
    return RDTSC != null;
  }

  /** Why the stub is not available (one line), empty if it is. */
  public static Optional<String> unavailableReason() {
    return Optional.ofNullable(UNAVAILABLE_REASON);
  }

  /** Reads the host TSC. Only call when {@link #available()}. */
  public static long rdtsc() {
    try {
      return (long) RDTSC.invokeExact();
    } catch (Throwable e) {
      throw new IllegalStateException("rdtsc stub failed", e);
    }
  }

  @SuppressWarnings("restricted") // the stub is native code by design; see class comment
  private static MethodHandle create() throws Throwable {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
      throw new UnsupportedOperationException(
          "no rdtsc stub on " + os + "/" + arch + ": using the virtual counter");
    }
    Linker linker = Linker.nativeLinker();
    MethodHandle mmap =
        linker.downcallHandle(
            linker.defaultLookup().find("mmap").orElseThrow(),
            FunctionDescriptor.of(
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    MethodHandle mprotect =
        linker.downcallHandle(
            linker.defaultLookup().find("mprotect").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    MemorySegment page =
        (MemorySegment)
            mmap.invokeExact(
                MemorySegment.NULL,
                (long) PAGE,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0L);
    if (page.address() == -1L || page.address() == 0L) {
      throw new IllegalStateException("mmap of the rdtsc stub page failed");
    }
    page = page.reinterpret(PAGE);
    MemorySegment.copy(MemorySegment.ofArray(CODE), 0, page, 0, CODE.length);
    int rc = (int) mprotect.invokeExact(page, (long) PAGE, PROT_READ | PROT_EXEC);
    if (rc != 0) {
      throw new IllegalStateException("mprotect of the rdtsc stub page failed: rc=" + rc);
    }
    MethodHandle handle =
        linker.downcallHandle(
            page, FunctionDescriptor.of(JAVA_LONG), Linker.Option.critical(false));
    long first = (long) handle.invokeExact();
    long second = (long) handle.invokeExact();
    if (first <= 0 || second < first) {
      throw new IllegalStateException(
          "rdtsc stub returned implausible values: first=" + first + " second=" + second);
    }
    return handle;
  }
}
