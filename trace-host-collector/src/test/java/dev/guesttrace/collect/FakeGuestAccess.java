package dev.guesttrace.collect;

import dev.guesttrace.abi.Register;
import dev.guesttrace.guest.Tracer;
import java.util.List;

/** {@link FakeGuest} for tests in other packages. */
public final class FakeGuestAccess {
  private final FakeGuest guest;
  private final FakeGuest.Cpu[] cpus;

  /** A fake guest with {@code header.vcpuCount()} vCPUs. */
  public FakeGuestAccess(TraceHeader header) {
    this(header, null);
  }

  /** A fake guest whose collector also feeds {@code also} (e.g. a file writer), if not null. */
  public FakeGuestAccess(TraceHeader header, TraceSink also) {
    guest = new FakeGuest(header, TraceCollector.DEFAULT_MAX_RECORDS, also);
    cpus = new FakeGuest.Cpu[header.vcpuCount()];
    for (int v = 0; v < cpus.length; v++) {
      cpus[v] = guest.cpu(v);
    }
  }

  public void linearHostClock(boolean on) {
    guest.linearHostClock = on;
  }

  public void tscStep(int vcpu, long step) {
    cpus[vcpu].tscStep = step;
  }

  public Tracer tracer(int vcpu, int capacity, int mode) {
    return guest.tracer(cpus[vcpu], capacity, mode);
  }

  public long rdtsc(int vcpu) {
    return cpus[vcpu].rdtsc();
  }

  public void register(int vcpu, Register register, long value) {
    cpus[vcpu].register(register, value);
  }

  public void out(int vcpu, int port, int value) {
    cpus[vcpu].out(port, value);
  }

  public TraceCollector collector() {
    return guest.collector;
  }

  /** Ends the run at host time {@code endNanos} and returns the trace. */
  public TraceData finish(long endNanos) {
    return finish(endNanos, List.of());
  }

  /** Ends the run at host time {@code endNanos} with an exit profile and returns the trace. */
  public TraceData finish(long endNanos, List<ExitProfileRow> exitProfile) {
    guest.hostNanos = endNanos;
    guest.collector.finish(guest.memory, "halted", false, exitProfile);
    return guest.data.build();
  }

  /** Each TSC read of {@code vcpu} advances by what {@code step} says. */
  public void tscStepper(int vcpu, java.util.function.LongSupplier step) {
    cpus[vcpu].stepper = step;
  }

  /** Guest memory. */
  public java.lang.foreign.MemorySegment memory() {
    return guest.memory;
  }
}
