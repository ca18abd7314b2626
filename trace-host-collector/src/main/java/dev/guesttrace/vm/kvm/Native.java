package dev.guesttrace.vm.kvm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc calls the KVM backend needs, as FFM downcalls: {@code open}, {@code close}, {@code
 * ioctl}, {@code mmap}, {@code munmap}, and for stopping a runaway vCPU {@code pthread_self},
 * {@code pthread_kill} and {@code sigaction}. Every call that can fail captures {@code errno}.
 *
 * <p>Loaded lazily: on a machine without libc symbols (not Linux) the class fails to initialize and
 * the backend reports itself unavailable instead.
 */
@SuppressWarnings("restricted") // the whole point of this class: libc downcalls
final class Native {
  static final int O_RDWR = 2;
  static final int O_CLOEXEC = 0x80000;
  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;
  static final int PROT_EXEC = 4;
  static final int MAP_SHARED = 1;
  static final int MAP_PRIVATE = 2;
  static final int MAP_ANONYMOUS = 0x20;
  static final int MAP_NORESERVE = 0x4000;
  static final long MAP_FAILED = -1L;
  static final int EINTR = 4;
  static final int EAGAIN = 11;
  static final int E2BIG = 7;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();
  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

  private static final MethodHandle OPEN =
      downcall(
          "open",
          FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
          CAPTURE_ERRNO,
          Linker.Option.firstVariadicArg(2));
  private static final MethodHandle CLOSE =
      downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CAPTURE_ERRNO);
  private static final MethodHandle IOCTL_LONG =
      downcall(
          "ioctl",
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG),
          CAPTURE_ERRNO,
          Linker.Option.firstVariadicArg(2));
  private static final MethodHandle IOCTL_POINTER =
      downcall(
          "ioctl",
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
          CAPTURE_ERRNO,
          Linker.Option.firstVariadicArg(2));
  private static final MethodHandle MMAP =
      downcall(
          "mmap",
          FunctionDescriptor.of(
              JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG),
          CAPTURE_ERRNO);
  private static final MethodHandle MUNMAP =
      downcall("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), CAPTURE_ERRNO);
  private static final MethodHandle PTHREAD_SELF =
      downcall("pthread_self", FunctionDescriptor.of(JAVA_LONG));
  private static final MethodHandle PTHREAD_KILL =
      downcall("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
  private static final MethodHandle SIGACTION =
      downcall(
          "sigaction", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), CAPTURE_ERRNO);
  private static final MethodHandle SIGRTMIN =
      downcall("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle STRERROR =
      downcall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

  /** glibc's {@code struct sigaction} on x86-64: handler, 128-byte mask, flags, restorer. */
  private static final long SIGACTION_SIZE = 152;

  private static final long SA_FLAGS_OFFSET = 136;

  /** Per-thread errno capture buffer: calls on different vCPU threads do not share it. */
  private static final ThreadLocal<MemorySegment> CAPTURE_BUFFER =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

  private Native() {}

  private static MethodHandle downcall(
      String name, FunctionDescriptor descriptor, Linker.Option... options) {
    MemorySegment symbol =
        LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc symbol " + name));
    return LINKER.downcallHandle(symbol, descriptor, options);
  }

  /** Thrown when a system call fails; {@link #errno} says why. */
  static final class NativeException extends Exception {
    private static final long serialVersionUID = 1L;
    final int errno;

    NativeException(String call, int errno) {
      super(call + ": " + strerror(errno) + " (errno " + errno + ")");
      this.errno = errno;
    }
  }

  private static int errno(MemorySegment capture) {
    return (int) ERRNO.get(capture, 0L);
  }

  static String strerror(int errno) {
    try {
      MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
      return text.reinterpret(256).getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }

  static int open(String path, int flags) throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = CAPTURE_BUFFER.get();
      int fd = (int) OPEN.invokeExact(capture, arena.allocateFrom(path), flags, 0);
      if (fd < 0) {
        throw new NativeException("open " + path, errno(capture));
      }
      return fd;
    } catch (NativeException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  /** Closes {@code fd}, ignoring errors: used on cleanup paths, where nothing can be done. */
  static void closeQuietly(int fd) {
    if (fd < 0) {
      return;
    }
    try {
      int unused = (int) CLOSE.invokeExact(CAPTURE_BUFFER.get(), fd);
    } catch (Throwable t) {
      // Nothing to do: the descriptor is gone either way.
    }
  }

  /** {@code ioctl(fd, request, arg)}; returns the result or throws with errno. */
  static int ioctl(int fd, long request, long arg, String what) throws NativeException {
    MemorySegment capture = CAPTURE_BUFFER.get();
    int result;
    try {
      result = (int) IOCTL_LONG.invokeExact(capture, fd, request, arg);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
    if (result < 0) {
      throw new NativeException(what, errno(capture));
    }
    return result;
  }

  /** {@code ioctl(fd, request, pointer)}; returns the result or throws with errno. */
  static int ioctl(int fd, long request, MemorySegment pointer, String what)
      throws NativeException {
    int result = ioctlRaw(fd, request, pointer);
    if (result < 0) {
      throw new NativeException(what, errno(CAPTURE_BUFFER.get()));
    }
    return result;
  }

  /** {@code ioctl} returning -errno on failure instead of throwing (for the KVM_RUN loop). */
  static int ioctlRaw(int fd, long request, MemorySegment pointer) {
    MemorySegment capture = CAPTURE_BUFFER.get();
    int result;
    try {
      result = (int) IOCTL_POINTER.invokeExact(capture, fd, request, pointer);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
    return result < 0 ? -errno(capture) : result;
  }

  /** {@code mmap}; returns the address or throws. */
  static long mmap(long length, int prot, int flags, int fd, String what) throws NativeException {
    MemorySegment capture = CAPTURE_BUFFER.get();
    long address;
    try {
      address = (long) MMAP.invokeExact(capture, 0L, length, prot, flags, fd, 0L);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
    if (address == MAP_FAILED) {
      throw new NativeException(what, errno(capture));
    }
    return address;
  }

  /** Unmaps, ignoring errors (cleanup path). */
  static void munmapQuietly(long address, long length) {
    if (address == 0 || address == MAP_FAILED) {
      return;
    }
    try {
      int unused = (int) MUNMAP.invokeExact(CAPTURE_BUFFER.get(), address, length);
    } catch (Throwable t) {
      // Nothing to do on a cleanup path.
    }
  }

  static long pthreadSelf() {
    try {
      return (long) PTHREAD_SELF.invokeExact();
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  static int pthreadKill(long thread, int signal) {
    try {
      return (int) PTHREAD_KILL.invokeExact(thread, signal);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  static int sigrtmin() {
    try {
      return (int) SIGRTMIN.invokeExact();
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  /**
   * Installs a handler that does nothing for {@code signal}, without SA_RESTART: its only job is to
   * make a blocked {@code KVM_RUN} return {@code EINTR}. The handler is a single {@code ret}
   * instruction in an executable page (no upcall into Java from signal context).
   */
  static void installNoopHandler(int signal, Arena arena) throws NativeException {
    long page =
        mmap(
            4096,
            PROT_READ | PROT_WRITE | PROT_EXEC,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            "mmap signal handler page");
    MemorySegment code = MemorySegment.ofAddress(page).reinterpret(4096);
    code.set(ValueLayout.JAVA_BYTE, 0, (byte) 0xC3);
    MemorySegment action = arena.allocate(SIGACTION_SIZE, 8);
    action.set(JAVA_LONG, 0, page);
    action.set(JAVA_INT, SA_FLAGS_OFFSET, 0);
    MemorySegment capture = CAPTURE_BUFFER.get();
    int result;
    try {
      result = (int) SIGACTION.invokeExact(capture, signal, action, MemorySegment.NULL);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
    if (result != 0) {
      throw new NativeException("sigaction", errno(capture));
    }
  }
}
