package dev.guesttrace.hostile;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.collect.VcpuRecords;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Runs hostile sample guests through {@link GuestRun} and reads what came back. */
final class Hostile {
  /** Per-entry timeout of a hostile run: short, every run must end well within it. */
  static final Duration TIMEOUT = Duration.ofSeconds(5);

  private Hostile() {}

  static RunConfig.Builder config(String guest, Map<String, String> args) {
    GuestProgram program = SampleGuests.find(guest).orElseThrow();
    return RunConfig.builder(
            new GuestSource.Java(guest, GuestRuntime.image(program)), new EmulatedBackend())
        .setCalls(0)
        .setCall(new FunctionCall("main", List.of()))
        .setMemoryBytes(16L << 20)
        .setTimeout(TIMEOUT)
        .setMode(BootInfo.MODE_STREAM)
        .setArgs(args);
  }

  static GuestRun.Result run(String guest, Map<String, String> args) throws Exception {
    return GuestRun.builder(config(guest, args).build()).build().execute();
  }

  static GuestRun.Result run(String guest) throws Exception {
    return run(guest, Map.of());
  }

  /** Each diagnostic kind with its count, in order of first occurrence. */
  static Map<String, Long> diagnostics(List<Diagnostic> list) {
    Map<String, Long> map = new java.util.LinkedHashMap<>();
    for (Diagnostic d : list) {
      map.merge(d.kind(), d.count(), Long::sum);
    }
    return map;
  }

  static Map<String, Long> diagnostics(TraceData data) {
    return diagnostics(data.diagnostics());
  }

  /** Names of vCPU 0's span begins, in order ({@code #id} for an undefined id). */
  static List<String> beginNames(TraceData data) {
    VcpuRecords r = data.records(0);
    List<String> names = new ArrayList<>();
    for (int i = 0; i < r.size(); i++) {
      if (r.kind(i) == RecordKind.SPAN_BEGIN) {
        int id = r.nameId(i);
        String name = r.name(id);
        names.add(name != null ? name : "#" + Integer.toUnsignedString(id));
      }
    }
    return names;
  }

  /** Values of vCPU 0's counter records named {@code name}, in order. */
  static List<Long> counterValues(TraceData data, String name) {
    VcpuRecords r = data.records(0);
    List<Long> values = new ArrayList<>();
    for (int i = 0; i < r.size(); i++) {
      int id = r.nameId(i);
      if (r.kind(i) == RecordKind.COUNTER && name.equals(r.name(id))) {
        values.add(r.arg0(i));
      }
    }
    return values;
  }

  /** vCPU 0's records of {@code kind}. */
  static long count(TraceData data, int kind) {
    VcpuRecords r = data.records(0);
    long n = 0;
    for (int i = 0; i < r.size(); i++) {
      n += r.kind(i) == kind ? 1 : 0;
    }
    return n;
  }
}
