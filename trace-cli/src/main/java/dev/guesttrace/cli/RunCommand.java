package dev.guesttrace.cli;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.render.InfoRenderer;
import dev.guesttrace.render.TextTreeRenderer;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.vm.Backend;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import dev.guesttrace.vm.kvm.KvmBackend;
import dev.guesttrace.vm.kvm.KvmGuests;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code guesttrace run GUEST}: run a guest, print its span tree, keep the trace if asked. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = "Run a guest and print its span tree.")
final class RunCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "GUEST",
      description = "A guest name (see 'guesttrace guests').")
  String guest;

  @Option(
      names = "--backend",
      defaultValue = "emulated",
      description = "emulated (Java guests, default) or kvm (C guests, needs /dev/kvm).")
  String backend;

  @Option(names = "--vcpus", description = "vCPUs (default: the guest's own).")
  Integer vcpus;

  @Option(
      names = "--ring-bytes",
      converter = Sizes.class,
      description = "Trace ring per vCPU in bytes, e.g. 65536 or 64k (default: the guest's).")
  Long ringBytes;

  @Option(
      names = "--mode",
      defaultValue = "stream",
      description = "stream (flush when full), flight (overwrite, never exit) or off.")
  String mode;

  @Option(names = "--calls", defaultValue = "1", description = "Guest calls to make after boot.")
  int calls;

  @Option(
      names = "--tsc-ghz",
      description = "Present the guest a TSC at this rate, as hypervisor TSC scaling does.")
  Double tscGhz;

  @Option(
      names = "--tsc-offset",
      defaultValue = "0",
      description = "Add this many ticks to the guest TSC, as a hypervisor TSC offset does.")
  long tscOffset;

  @Option(
      names = "--arg",
      paramLabel = "KEY=VALUE",
      description = "An argument for the guest, e.g. n=20 or slow=fib (repeatable).")
  Map<String, String> args = new LinkedHashMap<>();

  @Option(
      names = "--timeout",
      defaultValue = "30s",
      converter = Durations.class,
      description = "Stop a vCPU entry (boot or a call) that runs longer, e.g. 500ms, 10s.")
  Duration timeout;

  @Option(
      names = "--memory",
      defaultValue = "64m",
      converter = Sizes.class,
      description = "Guest memory, e.g. 64m.")
  long memoryBytes;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      description = "Write the trace file.")
  Path output;

  @Option(
      names = "--otlp",
      paramLabel = "URL",
      description = "Also send the trace over OTLP, e.g. http://localhost:4317.")
  String otlp;

  @Mixin OtlpOptions otlpOptions;

  @Option(names = "--quiet", description = "Do not print the tree.")
  boolean quiet;

  @Option(names = "--compact", description = "One line per span.")
  boolean compact;

  @Option(
      names = "--deterministic",
      description =
          "Emulated backend: a stepped guest TSC (1000 ticks per read) that is also the host clock,"
              + " so a one-vCPU run prints the same tree every time (the samples' pasted trees).")
  boolean deterministic;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    RunConfig config = config(err);
    GuestRun.Result result;
    TraceFileWriter writer = null;
    try {
      GuestRun.Builder run =
          GuestRun.builder(config).setHostPrint(text -> printGuestOutput(err, text));
      if (output != null) {
        writer = TraceFileWriter.create(output, "guesttrace run");
        run.setSink(writer);
      }
      result = run.build().execute();
    } catch (VmException e) {
      throw CliException.badData(e.getMessage(), e);
    } catch (java.io.IOException e) {
      throw CliException.badData("cannot write " + output + ": " + e.getMessage(), e);
    } finally {
      if (writer != null) {
        try {
          writer.close();
        } catch (java.io.IOException e) {
          err.println("guesttrace run: cannot finish " + output + ": " + e.getMessage());
        }
      }
    }
    if (writer != null && writer.error().isPresent()) {
      throw CliException.badData(
          "writing "
              + output
              + " failed after "
              + writer.recordsWritten()
              + " records (what was written stays readable): "
              + writer.error().get().getMessage());
    }
    TraceData data = result.data();
    // The tree costs memory per span: build it only when something shows or sends it.
    List<dev.guesttrace.collect.Diagnostic> treeDiagnostics = List.of();
    if (!quiet || otlp != null) {
      SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(data);
      treeDiagnostics = built.diagnostics();
      if (!quiet) {
        TextTreeRenderer.full().compact(compact).render(built.tree(), out);
      }
      if (otlp != null) {
        otlpOptions.export(built.tree(), otlp, err, "run");
      }
    }
    reportLosses(data, treeDiagnostics, err, "run");
    if (output != null) {
      err.println("guesttrace run: wrote " + output + " (" + data.recordCount() + " records)");
    }
    if (result.failed()) {
      throw CliException.badData(result.outcome());
    }
    return Errors.OK;
  }

  /** Loss and diagnostics are never silent: one line each on stderr when there are any. */
  static void reportLosses(TraceData data, PrintWriter err, String verb) {
    reportLosses(data, List.of(), err, verb);
  }

  /** As above, with the span-tree builder's diagnostics too (unbalanced spans). */
  static void reportLosses(
      TraceData data,
      List<dev.guesttrace.collect.Diagnostic> treeDiagnostics,
      PrintWriter err,
      String verb) {
    List<dev.guesttrace.collect.Diagnostic> all = new java.util.ArrayList<>(data.diagnostics());
    all.addAll(treeDiagnostics);
    if (data.losses().total() > 0) {
      err.println(
          "guesttrace "
              + verb
              + ": lost "
              + InfoRenderer.losses(data.losses())
              + " (see 'guesttrace info')");
    }
    if (!all.isEmpty()) {
      long count = all.stream().mapToLong(d -> d.count()).sum();
      err.println(
          "guesttrace "
              + verb
              + ": "
              + count
              + " diagnostics about the guest's trace, first: "
              + dev.guesttrace.render.Printable.of(all.get(0).first())
              + " (see 'guesttrace info')");
    }
    err.flush();
  }

  private RunConfig config(PrintWriter err) {
    Backend chosen = backend(backend);
    GuestProgram program =
        GuestsCommand.Guests.find(guest)
            .orElseThrow(
                () ->
                    CliException.usage(
                        "unknown guest '"
                            + guest
                            + "': expected one of "
                            + String.join(
                                ", ",
                                GuestsCommand.Guests.names().stream()
                                    .filter(n -> !n.startsWith(GuestsCommand.HOSTILE_PREFIX))
                                    .toList())
                            + ", or a hostile-* guest (see 'guesttrace guests')"));
    int modeValue =
        switch (mode) {
          case "stream" -> BootInfo.MODE_STREAM;
          case "flight" -> BootInfo.MODE_FLIGHT;
          case "off" -> BootInfo.MODE_OFF;
          default ->
              throw CliException.usage(
                  "--mode: expected stream, flight or off, found '" + mode + "'");
        };
    if (ringBytes != null && (ringBytes < 8192 || ringBytes > (1L << 29))) {
      throw CliException.usage(
          "--ring-bytes: expected 8k..512m (256 to 2^24 slots of 32 bytes), found " + ringBytes);
    }
    if (tscGhz != null && !(tscGhz > 0.001 && tscGhz < 1000)) {
      throw CliException.usage("--tsc-ghz: expected a rate in GHz above 0.001, found " + tscGhz);
    }
    if (calls < 0) {
      throw CliException.usage("--calls: expected 0 or more, found " + calls);
    }
    if (deterministic && !(chosen instanceof EmulatedBackend)) {
      throw CliException.usage("--deterministic: needs --backend emulated");
    }
    int v = vcpus == null ? program.defaultVcpus() : vcpus;
    if (v < 1 || v > VmConfig.MAX_VCPUS) {
      throw CliException.usage("--vcpus: expected 1.." + VmConfig.MAX_VCPUS + ", found " + v);
    }
    FunctionCall call = program.defaultCall();
    GuestSource source;
    if (chosen instanceof KvmBackend) {
      source =
          KvmGuests.find(program.name())
              .orElseThrow(
                  () ->
                      CliException.usage(
                          "guest '"
                              + guest
                              + "' has no native build for --backend kvm (was gcc missing when it was built?)"));
    } else {
      source = new GuestSource.Java(program.name(), GuestRuntime.image(program));
    }
    try {
      return RunConfig.builder(source, chosen)
          .setVcpus(v)
          .setMemoryBytes(memoryBytes)
          .setRingBytes(ringBytes == null ? 0 : (int) (long) ringBytes)
          .setMode(modeValue)
          .setCalls(calls)
          .setCall(call)
          .setTsc(
              new VmConfig.TscConfig(
                  tscGhz == null ? 0 : tscGhz * 1e9,
                  tscOffset,
                  RunConfig.DEFAULT_VCPU_OFFSET_TICKS,
                  VmConfig.TscSource.HARDWARE))
          .setTimeout(timeout)
          .setArgs(args)
          .setDeterministic(deterministic)
          .build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  static Backend backend(String name) {
    Backend chosen =
        switch (name) {
          case "emulated" -> new EmulatedBackend();
          case "kvm" -> new KvmBackend();
          default ->
              throw CliException.usage("--backend: expected emulated or kvm, found '" + name + "'");
        };
    chosen
        .unavailableReason()
        .ifPresent(
            reason -> {
              throw CliException.badData("backend " + name + " is not available here: " + reason);
            });
    return chosen;
  }

  private void printGuestOutput(PrintWriter err, String text) {
    if (!quiet) {
      synchronized (err) {
        err.println("guest: " + dev.guesttrace.render.Printable.of(text));
        err.flush();
      }
    }
  }
}
