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
 * CPU time per operation, for machines shared with other work. Average time is wall-clock time:
 * when the benchmark thread is descheduled (a 2-core machine running other builds), every operation
 * looks slower. CPU time counts only time on a CPU, so it stays close to the cost of the code
 * itself.
 *
 * <ul>
 *   <li>{@code cpu.worker}: CPU ns per op of the JMH worker threads: the caller's cost.
 *   <li>{@code cpu.process}: CPU ns per op of the whole JVM: the caller plus every thread working
 *       for it (OpenTelemetry's batch exporter thread, JFR's threads, GC, JIT), so a library that
 *       moves work to a background thread does not look cheaper than it is.
 * </ul>
 *
 * <p>Use: {@code java -jar trace-benchmarks/target/benchmarks.jar GuestRecordBenchmark -prof gc
 * -prof dev.guesttrace.benchmarks.CpuTimeProfiler}.
 */
public final class CpuTimeProfiler implements InternalProfiler {
  private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
  private final com.sun.management.OperatingSystemMXBean os =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private Map<Long, Long> workerCpuBefore = Map.of();
  private long processCpuBefore;

  /** Creates the profiler (JMH instantiates it by name). */
  public CpuTimeProfiler() {}

  @Override
  public String getDescription() {
    return "CPU ns per op: JMH worker threads and the whole process";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmark, IterationParams iteration) {
    workerCpuBefore = workerCpu();
    processCpuBefore = os.getProcessCpuTime();
  }

  @Override
  public List<? extends Result<?>> afterIteration(
      BenchmarkParams benchmark, IterationParams iteration, IterationResult result) {
    long processCpu = os.getProcessCpuTime() - processCpuBefore;
    long workerCpu = 0;
    for (Map.Entry<Long, Long> e : workerCpu().entrySet()) {
      workerCpu += e.getValue() - workerCpuBefore.getOrDefault(e.getKey(), 0L);
    }
    long ops = result.getMetadata().getMeasuredOps();
    if (ops <= 0) {
      return List.of();
    }
    return List.of(
        new ScalarResult("cpu.worker", (double) workerCpu / ops, "ns/op", AggregationPolicy.AVG),
        new ScalarResult("cpu.process", (double) processCpu / ops, "ns/op", AggregationPolicy.AVG));
  }

  /** CPU ns so far of each live JMH worker thread, by thread id. */
  private Map<Long, Long> workerCpu() {
    Map<Long, Long> cpu = new HashMap<>();
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info != null && info.getThreadName().contains("jmh-worker")) {
        long nanos = threads.getThreadCpuTime(info.getThreadId());
        if (nanos >= 0) {
          cpu.put(info.getThreadId(), nanos);
        }
      }
    }
    return cpu;
  }
}
