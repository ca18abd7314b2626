package dev.guesttrace.vm.calls;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestImage;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.vm.ExitDispatcher;
import dev.guesttrace.vm.ExitHandler.ExitAction;
import dev.guesttrace.vm.GuestMemoryLayout;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmException;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import dev.guesttrace.vm.emulated.EmulatedVm;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A minimal run orchestration for tests: an emulated VM with the standard layout and boot info, and
 * an exit dispatcher with the calling convention's handlers. The trace port handler only records
 * what each flush exit carried (no collector here).
 */
final class SampleHarness implements AutoCloseable {
  /** One exit on the trace port: vCPU, op, guest TSC (RCX), host time, region write sequence. */
  record TraceExit(int vcpuId, int op, long guestTsc, long hostNanos, long writeSequence) {}

  final EmulatedVm vm;
  final BootInfo boot;
  final ExitDispatcher exits = new ExitDispatcher();
  final HostCallHandler hostCalls;
  final AbortHandler aborts;
  final GuestCalls calls;
  final List<String> printed = Collections.synchronizedList(new ArrayList<>());
  final List<String> hostCallLog = Collections.synchronizedList(new ArrayList<>());
  final List<String> logs = Collections.synchronizedList(new ArrayList<>());
  final List<TraceExit> traceExits = Collections.synchronizedList(new ArrayList<>());

  SampleHarness(
      GuestProgram program, int vcpus, Duration timeout, TscConfig tsc, Map<String, String> args)
      throws VmException {
    this(GuestRuntime.image(program), program.name(), vcpus, timeout, tsc, args);
  }

  SampleHarness(
      GuestImage image,
      String name,
      int vcpus,
      Duration timeout,
      TscConfig tsc,
      Map<String, String> args)
      throws VmException {
    VmConfig config = new VmConfig(16 << 20, vcpus, timeout, tsc);
    vm = new EmulatedBackend().create(config, new GuestSource.Java(name, image));
    boot =
        GuestMemoryLayout.standard(
                config.memoryBytes(), vcpus, GuestLayout.DEFAULT_CALL_BUFFER_LENGTH)
            .bootInfo(0, BootInfo.MODE_STREAM, args);
    boot.write(vm.memory());
    hostCalls =
        new HostCallHandler(boot, HostFunctions.standard(printed::add))
            .addListener(
                (vcpuId, function, start, end, error) ->
                    hostCallLog.add(vcpuId + " " + function + " " + (end >= start) + " " + error));
    aborts = new AbortHandler(boot, abort -> {});
    exits
        .register(
            ExitPorts.TRACE,
            (vcpu, op) -> {
              long region = vcpu.register(Register.RDI);
              long sequence =
                  region > 0
                          && region < vm.memory().byteSize() - TraceRegionDescriptor.HEADER_LENGTH
                      ? (long) TraceRegionDescriptor.WRITE_SEQUENCE_HANDLE.get(vm.memory(), region)
                      : -1;
              traceExits.add(
                  new TraceExit(
                      vcpu.vcpuId(), op, vcpu.register(Register.RCX), System.nanoTime(), sequence));
              return ExitAction.RESUME;
            })
        .register(ExitPorts.HOST_CALL, hostCalls)
        .register(
            ExitPorts.LOG,
            new LogHandler(
                boot, (vcpuId, level, text) -> logs.add(vcpuId + ":" + level + ":" + text)))
        .register(ExitPorts.ABORT, aborts);
    calls = new GuestCalls(vm, boot);
  }

  @Override
  public void close() {
    vm.close();
  }
}
