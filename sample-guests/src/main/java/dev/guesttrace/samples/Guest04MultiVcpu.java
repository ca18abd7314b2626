package dev.guesttrace.samples;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.util.List;

/*
 * Guest 04: multi-vcpu.
 *
 * What it shows: one trace per vCPU. The guest runs on 4 vCPUs by default; each vCPU has its own
 * ring, its own host thread and (in the emulated backend) its own TSC offset, as vCPUs of a real
 * VM can have. Each vCPU does a different amount of work: vCPU i runs (i + 1) * units "work" spans
 * with "mix" spans inside, at boot and in every call, so the per-vCPU trees differ and the
 * collector has to keep the vCPUs' clocks apart.
 *
 * How to run it:
 *
 *   ./guesttrace run multi-vcpu
 *   ./guesttrace run multi-vcpu --vcpus 8 --arg units=100
 *   ./guesttrace run multi-vcpu -o multi.gtrace && ./guesttrace tree multi.gtrace --vcpu 2
 *   ./guesttrace run multi-vcpu --arg slow=work     # every work span spends 50 us more
 *
 * Expected output of `./guesttrace run multi-vcpu --compact --arg units=2`, first 14 lines (times vary;
 * the test compares the shape):
 *
 *   == vCPU 0 ==
 *   [0ms      ] [host] run multi-vcpu 17.14ms
 *   [11.744ms ]   [host] trace register 25.49µs
 *   [11.776ms ]   entrypoint 129.8µs
 *   [11.784ms ]     load_gdt 4.835µs
 *   [11.794ms ]     load_idt 14.32µs
 *   [11.798ms ]       init_idt 5.966µs
 *   [11.812ms ]     hyperlight_main 89.47µs
 *   [11.841ms ]       vcpu_work 56.72µs
 *   [11.85ms  ]         work 43.35µs
 *   [11.854ms ]           mix ×4, total 22.32µs, min/median/max 4.53µs/5.226µs/6.561µs
 *   [11.911ms ]   halt 88.52µs
 *   [11.924ms ]     [host] trace flush 70.79µs
 *   [13.608ms ]   [host] Work 3.516ms
 */

/** Four vCPUs, each with its own ring, TSC offset and amount of work. */
public final class Guest04MultiVcpu implements GuestProgram {
  /** The guest function the host calls; optional argument: units of work. */
  public static final String WORK = "Work";

  /** Units of work per vCPU index unless {@code --arg units} says otherwise. */
  public static final long DEFAULT_UNITS = 20;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public Guest04MultiVcpu() {}

  @Override
  public String name() {
    return "multi-vcpu";
  }

  @Override
  public String summary() {
    return "Four vCPUs, each with its own ring, TSC offset and share of the work";
  }

  @Override
  public List<String> args() {
    return List.of(
        "units=N (work units at boot and per call, default 20)",
        "slow=work (each unit spends slowMicros more)",
        "slowMicros=N (default 50)");
  }

  @Override
  public int defaultVcpus() {
    return 4;
  }

  @Override
  public FunctionCall defaultCall() {
    return new FunctionCall(WORK, List.of());
  }

  @Override
  public void main(GuestRuntime runtime) {
    work(runtime, Samples.longArg(runtime, "units", DEFAULT_UNITS, 0, 1_000_000) / 2);
  }

  /**
   * Runs vCPU-proportional work.
   *
   * @return a checksum of the work, as a Long
   */
  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    if (!call.name().equals(WORK)) {
      return Samples.unknownFunction(call.name());
    }
    long units = call.longArg(0, Samples.longArg(runtime, "units", DEFAULT_UNITS, 0, 1_000_000));
    return work(runtime, units);
  }

  private static long work(GuestRuntime runtime, long units) {
    Tracer t = runtime.tracer();
    int vcpuWork = t.name("vcpu_work");
    int work = t.name("work");
    int mix = t.name("mix");
    int vcpu = runtime.cpu().vcpuId();
    boolean slow = Samples.isSlow(runtime, "work");
    long spans = (vcpu + 1) * units;
    long sum = vcpu;
    t.begin(vcpuWork, vcpu, spans);
    for (long i = 0; i < spans; i++) {
      t.begin(work, i, 0);
      if (slow) {
        Samples.spin(runtime);
      }
      for (int j = 0; j < 4; j++) {
        t.begin(mix);
        for (int k = 0; k < 64; k++) {
          sum = sum * 6364136223846793005L + 1442695040888963407L;
        }
        t.end(mix);
      }
      t.end(work);
    }
    t.end(vcpuWork);
    return sum;
  }
}
