package dev.guesttrace.span;

import java.util.List;

/**
 * The span trees of one run: per vCPU, the host's run span at the root with boot, guest calls and
 * guest spans nested inside it, host-function calls inside the guest span that made them.
 *
 * @param summary what the run was (guest, backend, host, calibration), for headers and attributes
 * @param vcpus one tree per vCPU, by vCPU index
 */
public record TraceTree(RunSummary summary, List<VcpuTree> vcpus) {
  /** Copies the list. */
  public TraceTree {
    vcpus = List.copyOf(vcpus);
  }

  /**
   * The spans of one vCPU.
   *
   * @param vcpu the vCPU's index
   * @param roots top-level spans in start order (normally one host run span)
   */
  public record VcpuTree(int vcpu, List<SpanNode> roots) {
    /** Copies the list. */
    public VcpuTree {
      roots = List.copyOf(roots);
    }
  }
}
