package dev.guesttrace.cli;

import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.TraceSink;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.recover.GuestMemoryDumps;
import dev.guesttrace.render.InfoRenderer;
import dev.guesttrace.render.Printable;
import dev.guesttrace.render.TextTreeRenderer;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.vm.Backend;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import dev.guesttrace.vm.kvm.ElfImage;
import dev.guesttrace.vm.kvm.KvmBackend;
import dev.guesttrace.vm.kvm.KvmGuests;
import dev.guesttrace.vm.kvm.KvmTsc;
import java.io.File;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
      description =
          "A sample guest (see 'guesttrace guests'), a guest NAME from --guest-jar, or PATH.elf:"
              + " a native guest you built, run on KVM.")
  String guest;

  @Option(
      names = "--backend",
      paramLabel = "NAME",
      description =
          "emulated (Java guests; the default) or kvm (native ELF guests and the samples' C"
              + " twins, needs /dev/kvm; the default for PATH.elf).")
  String backend;

  @Option(
      names = "--guest-jar",
      paramLabel = "JAR",
      description =
          "Run a Java guest from this jar (its META-INF/services GuestPrograms; repeatable, or"
              + " ':'-separated).")
  List<String> guestJars = new ArrayList<>();

  @Option(
      names = "--call",
      paramLabel = "'NAME(ARGS)'",
      description =
          "The guest call to make, e.g. 'PrintOutput(\"hi\")' or 'Fib(20)'; arguments are"
              + " integers, \"strings\" (escapes \\\" \\\\ \\n \\t \\uXXXX) and 0x bytes."
              + " Default: the guest's own call (a native guest has none: it boots and halts).")
  String callText;

  @Option(names = "--vcpus", paramLabel = "N", description = "vCPUs (default: the guest's own).")
  Integer vcpus;

  @Option(
      names = "--ring-bytes",
      paramLabel = "SIZE",
      converter = Sizes.class,
      description = "Trace ring per vCPU in bytes, e.g. 65536 or 64k (default: the guest's).")
  Long ringBytes;

  @Option(
      names = "--mode",
      paramLabel = "MODE",
      defaultValue = "stream",
      description = "stream (flush when full), flight (overwrite, never exit) or off.")
  String mode;

  @Option(
      names = "--calls",
      paramLabel = "N",
      description = "Guest calls to make after boot (default 1, or 0 when there is no call).")
  Integer calls;

  @Option(
      names = "--tsc-ghz",
      paramLabel = "GHZ",
      description =
          "Present the guest a TSC at this rate, as hypervisor TSC scaling does (default: the"
              + " host's own TSC rate, unscaled).")
  Double tscGhz;

  @Option(
      names = "--tsc-offset",
      paramLabel = "TICKS",
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
      paramLabel = "DURATION",
      defaultValue = "30s",
      converter = Durations.class,
      description = "Stop a vCPU entry (boot or a call) that runs longer, e.g. 500ms, 10s.")
  Duration timeout;

  @Option(
      names = "--memory",
      paramLabel = "SIZE",
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
      names = "--dump-memory",
      paramLabel = "FILE",
      description =
          "At the end, write guest memory to FILE as a raw dump ('guesttrace recover' reads it).")
  Path dumpMemory;

  @Option(
      names = "--otlp",
      paramLabel = "URL",
      description = "Also send the trace over OTLP, e.g. http://localhost:4317.")
  String otlp;

  @Mixin OtlpOptions otlpOptions;

  @Option(
      names = "--quiet",
      description =
          "Print neither the tree nor the guest's output nor 'wrote FILE'; errors still show."
              + " With -o and no --otlp the records go only to the file: memory stays flat and"
              + " no record quota applies.")
  boolean quiet;

  @Mixin TreeOptions treeOptions;

  @Mixin ProgressOption progress;

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
    // The jars' class loader stays open while their guest runs.
    try (GuestJars jars = guestJars.isEmpty() ? GuestJars.none() : GuestJars.open(guestJars)) {
      return run(out, err, config(jars));
    }
  }

  private Integer run(PrintWriter out, PrintWriter err, RunConfig config) {
    // Every option value is a usage error before the guest runs, not a failure after it.
    treeOptions.validate();
    otlpOptions.checkFlags();
    if (otlp != null) {
      otlpOptions.validate(otlp);
    }
    if (dumpMemory != null) {
      checkWritable(dumpMemory);
    }
    // Closed (the line erased) before the tree prints, and on every error.
    try (Progress p = progress.start(spec, "run", !quiet)) {
      return run(out, err, config, p);
    }
  }

  private Integer run(PrintWriter out, PrintWriter err, RunConfig config, Progress p) {
    GuestRun.Result result;
    TraceFileWriter writer = null;
    try {
      GuestRun.Builder run =
          GuestRun.builder(config)
              .setHostPrint(text -> printGuestOutput(p, text))
              .setLogListener((vcpu, level, text) -> printGuestLog(p, vcpu, level, text));
      if (output != null) {
        writer = TraceFileWriter.create(output, "guesttrace run").closeOnShutdown();
      }
      p.phase("running " + Printable.of(config.source().name()), Progress.Unit.RECORDS, 0);
      TraceSink counter = p.active() ? new RecordCounter(p) : null;
      if (writer != null || counter != null) {
        run.setSink(
            writer == null
                ? counter
                : counter == null
                    ? writer
                    : dev.guesttrace.collect.TraceSinks.tee(writer, counter));
      }
      if (writer != null && quiet && otlp == null) {
        // Nothing shows or sends the tree: the records only go to the file, so memory stays flat
        // however long the run, and the in-memory record quota does not cut the file short.
        run.setKeepRecords(false);
      }
      if (dumpMemory != null) {
        run.setMemoryAtEnd(
            memory -> {
              try {
                GuestMemoryDumps.writeRaw(memory, dumpMemory);
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
      }
      result = run.build().execute();
    } catch (VmException e) {
      throw CliException.badData(e.getMessage(), e);
    } catch (java.io.IOException e) {
      throw CliException.badData("cannot write " + output + ": " + Errors.cause(e), e);
    } catch (java.io.UncheckedIOException e) {
      throw CliException.badData(
          "cannot write " + dumpMemory + ": " + Errors.cause(e.getCause()), e);
    } finally {
      if (writer != null) {
        try {
          writer.close();
        } catch (java.io.IOException e) {
          if (writer.error().isEmpty()) { // else the one line below says it
            p.println("guesttrace run: cannot finish " + output + ": " + Errors.cause(e));
          }
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
              + Errors.cause(writer.error().get()));
    }
    TraceData data = result.data();
    // The tree costs memory per span: build it only when something shows or sends it.
    List<dev.guesttrace.collect.Diagnostic> treeDiagnostics = List.of();
    if (!quiet || otlp != null) {
      p.phase("building spans");
      // The records are freed as the tree takes them: only the counts, losses and exit profile of
      // data are read after this.
      SpanTreeBuilder.Result built = SpanTreeBuilder.buildWithDetails(data, true);
      p.close();
      treeDiagnostics = built.diagnostics();
      if (!quiet) {
        TextTreeRenderer tree = treeOptions.renderer(null);
        (result.failed() ? tree.failure(result.outcome()) : tree).render(built.tree(), out);
        out.flush();
      }
      if (otlp != null) {
        otlpOptions.export(built.tree(), otlp, err, "run", progress.start(spec, "run", !quiet));
      }
    }
    p.close();
    reportLosses(data, treeDiagnostics, err, "run");
    if (!result.failed() && !config.modeName().equals("off") && untraced(config, data)) {
      err.println(
          "guesttrace run: the guest registered no trace region, so it wrote no records: a native"
              + " guest traces through the C SDK (gtguest.h, guest.mk: 'guesttrace init c' writes"
              + " them; docs/guests.md)");
    }
    if (common.verbose) {
      printCallResults(err, config.call().name(), result);
    }
    if (output != null && !quiet) {
      err.println("guesttrace run: wrote " + output + " (" + data.recordCount() + " records)");
    }
    if (result.failed()) {
      throw CliException.badData(result.outcome());
    }
    return Errors.OK;
  }

  /**
   * Fails now, as {@code -o} does when it opens its file, if {@code file} cannot be written at the
   * end of the run: its directory is missing or not writable, or it is a directory.
   */
  private static void checkWritable(Path file) {
    Path absolute = file.toAbsolutePath();
    Path dir = absolute.getParent();
    String cause = null;
    if (java.nio.file.Files.isDirectory(absolute)) {
      cause = "Is a directory";
    } else if (dir == null || !java.nio.file.Files.isDirectory(dir)) {
      cause = "No such file or directory";
    } else if (!java.nio.file.Files.isWritable(dir)
        || (java.nio.file.Files.exists(absolute) && !java.nio.file.Files.isWritable(absolute))) {
      cause = "Permission denied";
    }
    if (cause != null) {
      throw CliException.badData("cannot write " + file + ": " + cause);
    }
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

  /**
   * Whether a native guest ran without registering a trace region: no OUT on the trace port at all
   * (one built without the SDK), where the user would otherwise see a tree of host spans only and
   * wonder why.
   */
  static boolean untraced(RunConfig config, TraceData data) {
    return config.source() instanceof GuestSource.Elf
        && !data.exitProfile().isEmpty()
        && data.exitProfile().stream().noneMatch(r -> r.port() == ExitPorts.TRACE);
  }

  /** What GUEST named, resolved before anything runs. */
  private sealed interface Target {
    String name();

    /** A native ELF guest the user built. */
    record Elf(String name, Path path) implements Target {}

    /** A Java guest: a sample, or one from a --guest-jar. */
    record Java(GuestProgram program, boolean fromJar) implements Target {
      @Override
      public String name() {
        return program.name();
      }
    }
  }

  private RunConfig config(GuestJars jars) {
    FunctionCall explicitCall = callText == null ? null : parseCall(callText);
    Target target = target(jars);
    String backendName = backend;
    if (target instanceof Target.Elf elf) {
      if (backendName != null && backendName.equals("emulated")) {
        throw CliException.usage(
            "--backend emulated runs Java guests; "
                + elf.path()
                + " is a native ELF guest, which runs on KVM (leave --backend out, or say kvm)");
      }
      if (!jars.guests().isEmpty()) {
        throw CliException.usage(
            "--guest-jar: " + elf.path() + " is a native ELF guest, which uses no jar");
      }
      backendName = backendName == null ? KvmBackend.NAME : backendName;
    } else if (target instanceof Target.Java java
        && java.fromJar()
        && KvmBackend.NAME.equals(backendName)) {
      throw CliException.usage(
          "--backend kvm runs native ELF guests; '"
              + java.name()
              + "' from --guest-jar is a Java guest, which runs on the emulated backend");
    }
    backendName = backendName == null ? "emulated" : backendName;
    checkBackendName(backendName);
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
    if (calls != null && calls < 0) {
      throw CliException.usage("--calls: expected 0 or more, found " + calls);
    }
    if (deterministic && !backendName.equals("emulated")) {
      throw CliException.usage("--deterministic: needs --backend emulated");
    }
    if (backendName.equals("kvm")) {
      kvmTsc();
    }
    int v =
        vcpus != null
            ? vcpus
            : target instanceof Target.Java java ? java.program().defaultVcpus() : 1;
    if (v < 1 || v > VmConfig.MAX_VCPUS) {
      throw CliException.usage("--vcpus: expected 1.." + VmConfig.MAX_VCPUS + ", found " + v);
    }
    if (target instanceof Target.Java java) {
      checkGuestArgs(java.program(), args);
    }
    FunctionCall call =
        explicitCall != null
            ? explicitCall
            : target instanceof Target.Java java ? java.program().defaultCall() : null;
    if (call == null && calls != null && calls > 0) {
      throw CliException.usage(
          "--calls "
              + calls
              + ": a native guest has no default call: say which with --call 'NAME(ARGS)'");
    }
    int callCount = calls != null ? calls : call == null ? 0 : 1;
    if (target instanceof Target.Elf elf) {
      try {
        ElfImage.read(elf.path());
      } catch (ElfImage.ElfException e) {
        throw CliException.usage(elf.path() + ": " + e.getMessage());
      }
    }
    Backend chosen = backend(backendName);
    GuestSource source =
        switch (target) {
          case Target.Elf elf -> new GuestSource.Elf(elf.name(), elf.path());
          case Target.Java java when chosen instanceof KvmBackend ->
              KvmGuests.find(java.name())
                  .orElseThrow(
                      () ->
                          CliException.usage(
                              "guest '"
                                  + guest
                                  + "' has no native build for --backend kvm (was gcc missing when"
                                  + " it was built?)"));
          case Target.Java java ->
              new GuestSource.Java(java.name(), GuestRuntime.image(java.program()));
        };
    try {
      RunConfig.Builder b =
          RunConfig.builder(source, chosen)
              .setVcpus(v)
              .setMemoryBytes(memoryBytes)
              .setRingBytes(ringBytes == null ? 0 : (int) (long) ringBytes)
              .setMode(modeValue)
              .setCalls(callCount)
              .setTsc(
                  new VmConfig.TscConfig(
                      tscGhz == null ? 0 : tscGhz * 1e9,
                      tscOffset,
                      RunConfig.DEFAULT_VCPU_OFFSET_TICKS,
                      VmConfig.TscSource.HARDWARE))
              .setTimeout(timeout)
              .setArgs(args)
              .setDeterministic(deterministic);
      if (call != null) {
        b.setCall(call);
      }
      return b.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  /** Parses {@code --call} and checks that it fits a call buffer, before anything runs. */
  static FunctionCall parseCall(String text) {
    FunctionCall call;
    try {
      call = CallSyntax.parse(text);
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--call: " + e.getMessage());
    }
    try (Arena arena = Arena.ofConfined()) {
      int limit = GuestLayout.DEFAULT_CALL_BUFFER_LENGTH;
      CallCodec.writeCall(arena.allocate(limit), 0, limit, call);
    } catch (CallCodec.CallFormatException e) {
      throw CliException.usage(
          "--call: does not fit the guest's "
              + GuestLayout.DEFAULT_CALL_BUFFER_LENGTH
              + "-byte call buffer: "
              + e.getMessage());
    }
    return call;
  }

  /**
   * GUEST as a native ELF path (it ends in {@code .elf}, has a {@code /}, or names a file and no
   * sample), a guest of {@code --guest-jar}, or a sample.
   */
  private Target target(GuestJars jars) {
    boolean looksLikePath =
        guest.endsWith(".elf") || guest.contains("/") || guest.contains(File.separator);
    if (looksLikePath && jars.guests().isEmpty()) {
      return elf(Path.of(guest));
    }
    if (!jars.guests().isEmpty()) {
      return new Target.Java(
          jars.find(guest)
              .orElseThrow(
                  () ->
                      CliException.usage(
                          "unknown guest '"
                              + guest
                              + "': "
                              + String.join(File.pathSeparator, guestJars)
                              + " has "
                              + String.join(
                                  ", ", jars.guests().stream().map(GuestProgram::name).toList())
                              + " (see 'guesttrace guests --guest-jar JAR')")),
          true);
    }
    java.util.Optional<GuestProgram> sample = GuestsCommand.Guests.find(guest);
    if (sample.isPresent()) {
      return new Target.Java(sample.get(), false);
    }
    if (Files.isRegularFile(Path.of(guest))) {
      return elf(Path.of(guest));
    }
    throw CliException.usage(
        "unknown guest '"
            + guest
            + "': expected one of "
            + String.join(
                ", ",
                GuestsCommand.Guests.names().stream()
                    .filter(n -> !n.startsWith(GuestsCommand.HOSTILE_PREFIX))
                    .toList())
            + ", a hostile-* guest (see 'guesttrace guests'), PATH.elf, or NAME --guest-jar JAR");
  }

  /**
   * Checks {@code --arg}s against the arguments a Java guest declares ({@link GuestProgram#args()},
   * each {@code key=WHAT (meaning)}): an unknown key, or a value that does not fit WHAT ({@code N}:
   * an integer; {@code a|b}: one of the words), is a usage error naming what the guest accepts,
   * before anything runs. A guest that declares nothing takes any argument (the hostile guests).
   */
  static void checkGuestArgs(GuestProgram program, Map<String, String> given) {
    Map<String, String> declared = new LinkedHashMap<>();
    for (String spec : program.args()) {
      int eq = spec.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      int space = spec.indexOf(' ', eq);
      declared.put(
          spec.substring(0, eq), spec.substring(eq + 1, space < 0 ? spec.length() : space));
    }
    if (declared.isEmpty()) {
      return;
    }
    String accepted =
        declared.entrySet().stream()
            .map(e -> e.getKey() + "=" + e.getValue())
            .collect(java.util.stream.Collectors.joining(", "));
    for (Map.Entry<String, String> arg : given.entrySet()) {
      String what = declared.get(arg.getKey());
      String value = arg.getValue();
      if (what == null) {
        throw CliException.usage(
            "--arg "
                + arg.getKey()
                + ": "
                + program.name()
                + " has no such argument; it accepts "
                + accepted);
      }
      boolean fits =
          what.equals("N")
              ? value.matches("-?[0-9]{1,18}")
              : java.util.Arrays.asList(what.split("\\|")).contains(value);
      if (!fits) {
        throw CliException.usage(
            "--arg "
                + arg.getKey()
                + "="
                + value
                + ": expected "
                + (what.equals("N") ? "an integer" : String.join(" or ", what.split("\\|")))
                + " ("
                + program.name()
                + " accepts "
                + accepted
                + ")");
      }
    }
  }

  private static Target.Elf elf(Path path) {
    if (!Files.isRegularFile(path)) {
      throw CliException.usage("no such guest file: " + path);
    }
    String file = path.getFileName().toString();
    String name = file.endsWith(".elf") ? file.substring(0, file.length() - 4) : file;
    return new Target.Elf(name.isEmpty() ? file : name, path);
  }

  private static void checkBackendName(String name) {
    if (!name.equals("emulated") && !name.equals(KvmBackend.NAME)) {
      throw CliException.usage("--backend: expected emulated or kvm, found '" + name + "'");
    }
  }

  /**
   * {@code --tsc-ghz} and {@code --tsc-offset} on KVM: a rate the host's KVM cannot present is
   * refused here, with the reason (exit 2), never ignored; KVM keeps its own per-vCPU offsets.
   */
  private void kvmTsc() {
    if (tscOffset != 0) {
      throw CliException.usage(
          "--tsc-offset: not supported with --backend kvm (KVM sets each vCPU's TSC offset"
              + " itself); use --backend emulated");
    }
    if (tscGhz != null && new KvmBackend().unavailableReason().isEmpty()) {
      KvmTsc.rateUnavailableReason(tscGhz * 1e9)
          .ifPresent(
              reason -> {
                throw CliException.usage(reason);
              });
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

  /** Most call results {@code --verbose} prints; the rest are counted. */
  static final int MAX_PRINTED_RESULTS = 10;

  /** What the guest calls returned ({@code --verbose}): the first few, one line each. */
  private static void printCallResults(PrintWriter err, String function, GuestRun.Result result) {
    List<GuestRun.CallReturn> first = result.firstCallResults();
    int printed = Math.min(first.size(), MAX_PRINTED_RESULTS);
    for (int i = 0; i < printed; i++) {
      err.println(
          "guesttrace run: "
              + function
              + " call "
              + (first.get(i).call() + 1)
              + " returned "
              + dev.guesttrace.render.Printable.of(first.get(i).value()));
    }
    if (result.callsReturned() > printed) {
      err.println(
          "guesttrace run: ("
              + (result.callsReturned() - printed)
              + " more call results not shown)");
    }
    err.flush();
  }

  /** A guest's log line as it runs: {@code guest log [info] vCPU 0: text}. */
  private void printGuestLog(Progress p, int vcpu, int level, String text) {
    if (!quiet) {
      p.println(
          "guest log "
              + GuestRuntime.logPrefix(level)
              + "vCPU "
              + vcpu
              + ": "
              + Printable.of(text));
    }
  }

  private void printGuestOutput(Progress p, String text) {
    if (!quiet) {
      p.println("guest: " + Printable.of(text));
    }
  }

  /**
   * Tells the progress line how many records the run has collected: one volatile write per batch
   * (the collector calls a sink from one thread at a time), nothing kept.
   */
  private static final class RecordCounter extends dev.guesttrace.collect.TraceSinks.Adapter {
    private final Progress progress;
    private long records;

    RecordCounter(Progress progress) {
      this.progress = progress;
    }

    @Override
    public void onRecords(dev.guesttrace.collect.RecordBatch batch) {
      records += batch.size();
      progress.done(records);
    }
  }
}
