package dev.guesttrace.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * CPU time per operation of the threads that make a guest call: the JMH workers (the host side:
 * call buffers, exit handling, the collector's drain) plus the emulated backend's vCPU threads
 * (named {@code vcpu-N}, where the guest code and its trace records run). {@link CpuTimeProfiler}'s
 * {@code cpu.worker} misses the guest, and its {@code cpu.process} also counts the JIT compiler and
 * GC threads, which on a short run are busy compiling and make tracing on and off hard to tell
 * apart; this one counts exactly the call's own threads.
 *
 * <p>Reports {@code cpu.vm} (CPU ns per op, workers and vCPU threads). Use: {@code -prof
 * dev.guesttrace.benchmarks.VmCpuTimeProfiler} with {@link GuestCallBenchmark}.
 */
public final class VmCpuTimeProfiler implements InternalProfiler {
  private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
  private Map<Long, Long> before = Map.of();

  /** Creates the profiler (JMH instantiates it by name). */
  public VmCpuTimeProfiler() {}

  @Override
  public String getDescription() {
    return "CPU ns per op of the JMH workers and the emulated vCPU threads";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmark, IterationParams iteration) {
    before = callThreadsCpu();
  }

  @Override
  public List<? extends Result<?>> afterIteration(
      BenchmarkParams benchmark, IterationParams iteration, IterationResult result) {
    long cpu = 0;
    for (Map.Entry<Long, Long> e : callThreadsCpu().entrySet()) {
      cpu += e.getValue() - before.getOrDefault(e.getKey(), 0L);
    }
    long ops = result.getMetadata().getMeasuredOps();
    if (ops <= 0) {
      return List.of();
    }
    return List.of(new ScalarResult("cpu.vm", (double) cpu / ops, "ns/op", AggregationPolicy.AVG));
  }

  /** CPU ns so far of each live JMH worker and vCPU thread, by thread id. */
  private Map<Long, Long> callThreadsCpu() {
    Map<Long, Long> cpu = new HashMap<>();
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info == null) {
        continue;
      }
      String name = info.getThreadName();
      if (name.contains("jmh-worker") || name.startsWith("vcpu-")) {
        long nanos = threads.getThreadCpuTime(info.getThreadId());
        if (nanos >= 0) {
          cpu.put(info.getThreadId(), nanos);
        }
      }
    }
    return cpu;
  }
}
