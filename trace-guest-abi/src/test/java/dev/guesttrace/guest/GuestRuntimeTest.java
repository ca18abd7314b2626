package dev.guesttrace.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.guesttrace.abi.AbiVersion;
import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.guest.ReferenceReader.Record;
import dev.guesttrace.guest.TestCpu.Exit;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The guest library end to end on a test CPU: boot, tracing set-up, guest calls, halt. */
class GuestRuntimeTest {
  private static final long MEMORY = 4 << 20;
  private static final long CALL_BUFFERS = 0x10000;
  private static final int CALL_BUFFER_LENGTH = 16 * 1024;
  private static final long HEAP = 0x20000;
  private static final long REGION = HEAP + GuestRuntime.NAME_TABLE_LENGTH;

  /** A guest that traces one span and one message in main, and doubles its argument on a call. */
  private static final class Doubler implements GuestProgram {
    @Override
    public String name() {
      return "doubler";
    }

    @Override
    public String summary() {
      return "doubles a number";
    }

    @Override
    public void main(GuestRuntime runtime) {
      Tracer t = runtime.tracer();
      int work = t.name("work");
      try (Tracer.Span s = t.span(work)) {
        t.message("n=" + runtime.arg("n", "?") + " " + (s != null));
      }
    }

    @Override
    public Object call(GuestRuntime runtime, FunctionCall call) {
      return call.longArg(0, 0) * 2;
    }
  }

  private static BootInfo boot(int mode, Map<String, String> args) {
    return new BootInfo(
        MEMORY, 1, CALL_BUFFER_LENGTH, CALL_BUFFERS, HEAP, MEMORY - HEAP, 0, mode, args);
  }

  private static void run(Runnable entry) {
    assertThatThrownBy(entry::run).isInstanceOf(TestCpu.Halted.class);
  }

  /** "> name" for a begin, "< name" for an end, the text for a message. */
  private static List<String> tree(TestCpu cpu) {
    cpu.host().drain(cpu.region()); // the host drains at HLT too
    List<String> names = ReferenceReader.names(cpu.bytes(HEAP, GuestRuntime.NAME_TABLE_LENGTH));
    List<String> lines = new ArrayList<>();
    for (Record r : cpu.host().records()) {
      switch (r.kind()) {
        case ReferenceReader.KIND_SPAN_BEGIN -> lines.add("> " + names.get(r.nameId()));
        case ReferenceReader.KIND_SPAN_END -> lines.add("< " + names.get(r.nameId()));
        case ReferenceReader.KIND_MESSAGE -> lines.add(r.text());
        default -> lines.add("kind " + r.kind());
      }
    }
    return lines;
  }

  @Test
  void boot_registersTracesTheSeedsTreeAndFlushesBeforeHalt() {
    TestCpu cpu = new TestCpu(0, MEMORY);
    boot(BootInfo.MODE_STREAM, Map.of("n", "3")).write(cpu.memory());
    GuestImage image = GuestRuntime.image(new Doubler());

    run(() -> image.boot(cpu));

    assertThat(cpu.exits())
        .extracting(Exit::port, Exit::value, Exit::rdi)
        .containsExactly(tuple(0x70, 1, REGION), tuple(0x70, 2, REGION));
    assertThat(cpu.exits().getFirst().rsi()).isEqualTo(64 + 2048 * 32);
    assertThat(tree(cpu))
        .containsExactly(
            "> entrypoint",
            "> load_gdt",
            "< load_gdt",
            "> load_idt",
            "> init_idt",
            "< init_idt",
            "< load_idt",
            "> hyperlight_main",
            "> work",
            "n=3 true",
            "< work",
            "< hyperlight_main",
            "< entrypoint",
            "> halt",
            "< halt");
    // The halt span's end follows the final flush: the host recovers it at HLT.
    assertThat(cpu.exits().getLast().writeSequence()).isEqualTo(14);
  }

  @Test
  void dispatch_decodesTheCallAndReturnsTheValueInTheOutputBuffer() {
    TestCpu cpu = new TestCpu(0, MEMORY);
    BootInfo info = boot(BootInfo.MODE_STREAM, Map.of());
    info.write(cpu.memory());
    GuestImage image = GuestRuntime.image(new Doubler());
    run(() -> image.boot(cpu));
    CallCodec.writeCall(
        cpu.memory(),
        info.inputBuffer(0),
        CALL_BUFFER_LENGTH,
        new FunctionCall("double", List.of(21L)));

    run(() -> image.dispatch(cpu));

    assertThat(CallCodec.readValue(cpu.memory(), info.outputBuffer(0), CALL_BUFFER_LENGTH))
        .isEqualTo(42L);
    List<String> tree = tree(cpu);
    assertThat(tree.subList(tree.indexOf("> dispatch_function"), tree.size()))
        .containsExactly(
            "> dispatch_function",
            "> internal_dispatch_function",
            "> try_pop_shared_input_data_into",
            "Start converting buffer",
            "Finish converting buffer",
            "< try_pop_shared_input_data_into",
            "> call_guest_function",
            "Calling guest function",
            "< call_guest_function",
            "> push_shared_output_data",
            "Start copy of data",
            "Finish copy of data",
            "< push_shared_output_data",
            "< internal_dispatch_function",
            "< dispatch_function",
            "> halt",
            "< halt");
  }

  @Test
  void boot_flightMode_registersAndNeverFlushes() {
    TestCpu cpu = new TestCpu(0, MEMORY);
    boot(BootInfo.MODE_FLIGHT, Map.of()).write(cpu.memory());

    run(() -> GuestRuntime.image(new Doubler()).boot(cpu));

    assertThat(cpu.exits()).extracting(Exit::value).containsExactly(1);
    assertThat(ReferenceReader.header(cpu.region()).mode()).isEqualTo(1);
    assertThat(ReferenceReader.recoverFlight(cpu.region())).hasSize(15);
  }

  @Test
  void boot_tracingOff_makesNoTraceExit() {
    TestCpu cpu = new TestCpu(0, MEMORY);
    boot(BootInfo.MODE_OFF, Map.of()).write(cpu.memory());

    run(() -> GuestRuntime.image(new Doubler()).boot(cpu));

    assertThat(cpu.exits()).isEmpty();
  }

  @Test
  void bootInfo_roundTripsThroughGuestMemory() {
    TestCpu cpu = new TestCpu(0, MEMORY);
    Map<String, String> args = new LinkedHashMap<>();
    args.put("n", "3");
    args.put("name", "gr\u00f6\u00dfe=x");
    BootInfo info = new BootInfo(MEMORY, 2, 8192, 0x10000, 0x20000, 0x100000, 65536, 1, args);

    info.write(cpu.memory());

    assertThat(BootInfo.read(cpu.memory())).isEqualTo(info);
    assertThat(info.inputBuffer(1)).isEqualTo(0x10000 + 2 * 8192);
    assertThat(info.outputBuffer(1)).isEqualTo(0x10000 + 3 * 8192);
  }

  @Test
  void bootInfo_badMagicOrMajorVersion_refusedInOneLine() {
    TestCpu cpu = new TestCpu(0, MEMORY);
    MemorySegment memory = cpu.memory();

    assertThatThrownBy(() -> BootInfo.read(memory))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("boot info magic: expected 0x49425447, found 0x00000000");

    boot(BootInfo.MODE_STREAM, Map.of()).write(memory);
    GuestLayout.ABI_VERSION_HANDLE.set(
        memory, GuestLayout.BOOT_INFO_ADDRESS, new AbiVersion(2, 0, 0).packed());
    assertThatThrownBy(() -> BootInfo.read(memory))
        .hasMessage("trace ABI not compatible: host=2.0.0 guest=1.0.0");
  }

  @Test
  void bootInfo_argsLongerThanThePage_refused() {
    TestCpu cpu = new TestCpu(0, MEMORY);
    BootInfo info = boot(BootInfo.MODE_STREAM, Map.of("k", "v".repeat(5000)));

    assertThatThrownBy(() -> info.write(cpu.memory()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("guest args too long: expected at most 4032 bytes, found 5003");
  }
}
