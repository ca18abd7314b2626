package dev.guesttrace.host;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.render.TextTreeRenderer;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A finished trace: how the run ended, what was kept and lost, and the {@code .gtrace} file if one
 * was asked for. Every guesttrace view reads the file ({@code guesttrace tree|stats|info|perfetto
 * FILE}); {@link #spanTree()} renders the tree at once.
 */
public final class GuestTrace {
  private final TraceData data;
  private final String outcome;
  private final boolean failed;
  private final long recordCount;
  private final long lostRecords;
  private final Path file;
  private final String refusal;

  GuestTrace(
      TraceData data,
      String outcome,
      boolean failed,
      long recordCount,
      long lostRecords,
      Path file,
      String refusal) {
    this.data = data;
    this.outcome = outcome;
    this.failed = failed;
    this.recordCount = recordCount;
    this.lostRecords = lostRecords;
    this.file = file;
    this.refusal = refusal;
  }

  TraceData data() {
    if (data == null) {
      throw new IllegalStateException("trace not kept in memory: setKeepInMemory(false)");
    }
    return data;
  }

  /** How the run ended, one line, as the VMM said in {@link GuestTracer#finish}. */
  public String outcome() {
    return outcome;
  }

  /** Whether the run failed (abort, fault, timeout), as the VMM said. */
  public boolean failed() {
    return failed;
  }

  /** Guest records kept, over all vCPUs. */
  public long recordCount() {
    return recordCount;
  }

  /** Records that did not make it into the trace, every cause added up (overwritten, ...). */
  public long lostRecords() {
    return lostRecords;
  }

  /** Why the first refused REGISTER was refused, in one line, if any was. */
  public Optional<String> refusal() {
    return Optional.ofNullable(refusal);
  }

  /** The {@code .gtrace} file written, if {@link GuestTracer.Builder#setOutput} asked for one. */
  public Optional<Path> file() {
    return Optional.ofNullable(file);
  }

  /**
   * The span tree as {@code guesttrace tree} prints it: guest spans on the calibrated clock, host
   * spans (runs, guest calls, host calls, trace exits) nested where they happened.
   *
   * @throws IllegalStateException if the tracer was built with {@code setKeepInMemory(false)}
   */
  public String spanTree() {
    StringWriter text = new StringWriter();
    try (PrintWriter out = new PrintWriter(text)) {
      TextTreeRenderer.full().render(SpanTreeBuilder.build(data()), out);
    }
    return text.toString();
  }
}
