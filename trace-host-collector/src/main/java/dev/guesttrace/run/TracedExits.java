package dev.guesttrace.run;

import dev.guesttrace.abi.Register;
import dev.guesttrace.host.OutResult;
import dev.guesttrace.host.VcpuTracer;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.VcpuState;
import java.util.Objects;

/**
 * A backend's exit handler for one vCPU that feeds the host API: the {@link VcpuTracer} sees every
 * entry and exit first; OUTs on ports other than the trace port go on to the VMM's own handler
 * (host calls, logs, aborts). This is all the glue guesttrace's own VMM needs.
 */
public final class TracedExits implements ExitHandler {
  private final VcpuTracer tracer;
  private final ExitHandler vmmPorts;

  /** Feeds {@code tracer}; non-trace ports go to {@code vmmPorts}. */
  public TracedExits(VcpuTracer tracer, ExitHandler vmmPorts) {
    this.tracer = Objects.requireNonNull(tracer, "tracer");
    this.vmmPorts = Objects.requireNonNull(vmmPorts, "vmmPorts");
  }

  /** The vCPU's tracer. */
  public VcpuTracer tracer() {
    return tracer;
  }

  @Override
  public void onEntry(VcpuState vcpu) {
    tracer.entering();
  }

  @Override
  public ExitAction onOut(VcpuState vcpu, int port, int value) {
    OutResult r =
        tracer.onOut(
            port,
            value,
            vcpu.register(Register.RDI),
            vcpu.register(Register.RSI),
            vcpu.register(Register.RCX));
    if (r.setsRax()) {
      vcpu.register(Register.RAX, r.rax());
    }
    return r.isTracePort() ? ExitAction.RESUME : vmmPorts.onOut(vcpu, port, value);
  }
}
