package dev.guesttrace.vm;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.function.IntToLongFunction;

/**
 * A created micro-VM: guest physical memory and vCPUs. Each vCPU is run by one host thread at a
 * time through {@link #run}; different vCPUs may run at once on different threads.
 */
public interface Vm extends AutoCloseable {
  /** The backend's name, e.g. {@code emulated}. */
  String backendName();

  /**
   * The host's view of guest physical memory, address 0 at offset 0. The host must treat every byte
   * as untrusted and bounds-check addresses that come from the guest before reading.
   */
  MemorySegment memory();

  /** Number of vCPUs. */
  int vcpuCount();

  /**
   * Enters {@code vcpuId} at {@code entry} and runs it until it halts, faults, is stopped by the
   * handler, or exceeds the timeout. Port I/O exits are handed to {@code handler} synchronously,
   * with the vCPU paused and the caller waiting: on the calling thread (as a KVM run loop does) or
   * on the vCPU's own thread (the emulated backend), never concurrently for one vCPU. Every other
   * exit ends the run and is returned.
   *
   * <p>Never blocks much longer than the configured timeout: a vCPU that does not stop when asked
   * is abandoned and reported as timed out.
   */
  RunOutcome run(int vcpuId, Entry entry, ExitHandler handler);

  /**
   * Starts a host thread named {@code name} that drives vCPU {@code vcpuId}: {@code body} makes
   * that vCPU's {@link #run} calls. A backend may run the guest on this very thread (the emulated
   * backend does: no thread hand-off per run). A run on it that times out and does not stop when
   * asked is abandoned as {@link #run} says, except that here {@code onAbandoned} receives its
   * outcome on another thread and the run never returns to {@code body}, whose thread unwinds
   * (without running the rest of {@code body}'s code, {@code finally} blocks aside) or stays
   * blocked. The thread is a daemon.
   *
   * <p>By default a plain thread that calls {@link #run} like any other.
   */
  default Thread startDriver(
      int vcpuId, String name, Runnable body, Consumer<RunOutcome.TimedOut> onAbandoned) {
    Objects.checkIndex(vcpuId, vcpuCount());
    Objects.requireNonNull(onAbandoned, "onAbandoned");
    return Thread.ofPlatform().daemon().name(name).start(body);
  }

  /** The guest TSC rate as the hypervisor knows it ({@code KVM_GET_TSC_KHZ}), if it does. */
  OptionalLong tscKhz();

  /**
   * How the host reads a paused vCPU's guest TSC (vCPU id to ticks), if this backend can: the
   * emulated backend knows its TSC function; KVM needs the vCPU's TSC offset and scale.
   */
  default Optional<IntToLongFunction> guestTscReader() {
    return Optional.empty();
  }

  /** Releases every resource of the VM (memory, threads, file descriptors). Idempotent. */
  @Override
  void close();

  /** Where a vCPU starts. */
  enum Entry {
    /** The guest's boot entry point (Hyperlight's {@code entrypoint}). */
    BOOT,
    /** The guest's dispatch function: one guest call waits in the vCPU's input buffer. */
    DISPATCH
  }
}
