package dev.guesttrace.guest;

import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRegionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;

/**
 * The guest library for Java guests, one instance per vCPU: tracing, guest calls, host calls, logs,
 * abort and halt, in the shape of Hyperlight's guest library. Its own functions are traced under
 * the names Hyperlight uses ({@code entrypoint}, {@code dispatch_function}, {@code
 * call_host_function}, ...), so every guest shows the seed's tree around its own spans.
 *
 * <p>Guest memory from the boot info's heap is laid out as: the shared name table ({@link
 * #NAME_TABLE_LENGTH} bytes), then one trace region per vCPU, then the guest's own heap, split
 * evenly between vCPUs ({@link #heapAddress()}).
 */
public final class GuestRuntime {
  /** Bytes of the name table every vCPU shares. */
  public static final int NAME_TABLE_LENGTH = 64 * 1024;

  /** Ring bytes per vCPU when the host asks for none: 2048 slots. */
  public static final int DEFAULT_RING_BYTES = 64 * 1024;

  private static final long PAGE = 4096;

  // The dispatch path's messages, as Hyperlight's guest logs them; encoded once (Tracer.Text).
  private static final Tracer.Text START_COPY = Tracer.Text.of("Start copy of data");
  private static final Tracer.Text FINISH_COPY = Tracer.Text.of("Finish copy of data");
  private static final Tracer.Text CALLING = Tracer.Text.of("Calling guest function");
  private static final Tracer.Text START_CONVERTING = Tracer.Text.of("Start converting buffer");
  private static final Tracer.Text FINISH_CONVERTING = Tracer.Text.of("Finish converting buffer");
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

  private final GuestCpu cpu;
  private final BootInfo boot;
  private final Tracer tracer;
  private final long heapAddress;
  private final long heapLength;
  private final long inputBufferAddress;
  private final long outputBufferAddress;
  private final Names n;

  private GuestRuntime(GuestCpu cpu, BootInfo boot, NameTableWriter names) {
    this.cpu = cpu;
    this.boot = boot;
    int ringBytes = boot.ringLength() == 0 ? DEFAULT_RING_BYTES : boot.ringLength();
    int capacity = TraceRegionDescriptor.capacityForRingBytes(ringBytes);
    if (capacity == 0) {
      capacity = TraceRegionDescriptor.MIN_CAPACITY;
    }
    long regionStride = roundUp(TraceRegionDescriptor.regionLength(capacity));
    long regionsAddress = boot.heapAddress() + NAME_TABLE_LENGTH;
    long ownHeapStart = regionsAddress + regionStride * boot.vcpuCount();
    long ownHeapTotal = boot.heapAddress() + boot.heapLength() - ownHeapStart;
    long perVcpu = ownHeapTotal / boot.vcpuCount() & -PAGE;
    this.heapAddress = ownHeapStart + perVcpu * cpu.vcpuId();
    this.heapLength = Math.max(0, perVcpu);
    this.inputBufferAddress = boot.inputBuffer(cpu.vcpuId());
    this.outputBufferAddress = boot.outputBuffer(cpu.vcpuId());
    if (boot.mode() == BootInfo.MODE_OFF) {
      this.tracer = Tracer.disabled(cpu, names);
    } else {
      int mode =
          boot.mode() == BootInfo.MODE_FLIGHT
              ? TraceRegionDescriptor.MODE_FLIGHT
              : TraceRegionDescriptor.MODE_STREAM;
      long region = regionsAddress + regionStride * cpu.vcpuId();
      this.tracer = Tracer.register(cpu, names, region, capacity, mode);
    }
    this.n = new Names(tracer);
    if (tracer.refused()) {
      // The host will not read this vCPU's ring: the tracer is off; say so once.
      log(
          ExitPorts.LOG_WARN,
          "trace region refused by the host (REGISTER status "
              + tracer.registerStatus()
              + "): tracing off on this vCPU");
    }
  }

  /**
   * A host call the host could not make: an unknown function, a malformed call, a function that
   * failed (e.g. wrong arguments), or a result too large for the call buffer. Never a result: the
   * host says so with a nonzero status in RAX (docs/guests.md, "Host functions").
   */
  public static final class HostCallException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Host call status: the function does not exist on the host. */
    public static final int UNKNOWN_FUNCTION = 1;

    /** Host call status: the host could not decode the call. */
    public static final int MALFORMED = 2;

    /** Host call status: the function refused its arguments or failed. */
    public static final int FAILED = 3;

    /** Host call status: the result does not fit the call buffer. */
    public static final int RESULT_TOO_LARGE = 4;

    private final int status;

    /** Creates the exception for the host's {@code status} and error text. */
    public HostCallException(int status, String message) {
      super(message);
      this.status = status;
    }

    /**
     * The host's status: {@link #UNKNOWN_FUNCTION} .. {@link #RESULT_TOO_LARGE}, or a newer one.
     */
    public int status() {
      return status;
    }
  }

  /**
   * The image a backend runs for {@code program}: boot sets up tracing on each vCPU and runs {@link
   * GuestProgram#main}; dispatch runs one guest call.
   */
  public static GuestImage image(GuestProgram program) {
    return new Image(program);
  }

  /** The vCPU this runtime runs on. */
  public GuestCpu cpu() {
    return cpu;
  }

  /** The boot info the host wrote. */
  public BootInfo boot() {
    return boot;
  }

  /** This vCPU's tracer. */
  public Tracer tracer() {
    return tracer;
  }

  /** A {@code --arg key=value} argument, or {@code fallback}. */
  public String arg(String key, String fallback) {
    return boot.args().getOrDefault(key, fallback);
  }

  /** All {@code --arg} arguments. */
  public Map<String, String> args() {
    return boot.args();
  }

  /** First address of this vCPU's share of the guest heap. */
  public long heapAddress() {
    return heapAddress;
  }

  /** Bytes of this vCPU's share of the guest heap. */
  public long heapLength() {
    return heapLength;
  }

  /**
   * Calls a host function through the output buffer and one OUT, traced as Hyperlight traces it.
   *
   * @return the host's return value ({@code null} for void)
   * @throws HostCallException if the host could not make the call (its status and error text)
   */
  public Object callHost(String function, Object... args) {
    Tracer t = tracer;
    t.begin(n.callHostFunction);
    t.begin(n.callHostFunctionWithoutResult);
    t.begin(n.pushSharedOutputData);
    t.message(START_COPY);
    CallCodec.writeCall(
        cpu.memory(),
        outputBufferAddress,
        boot.callBufferLength(),
        new FunctionCall(function, Arrays.asList(args)));
    t.message(FINISH_COPY);
    t.end(n.pushSharedOutputData);
    t.begin(n.out32);
    exit(ExitPorts.HOST_CALL, 0);
    int status = (int) cpu.register(Register.RAX);
    t.end(n.out32);
    t.end(n.callHostFunctionWithoutResult);
    t.begin(n.getHostReturnValue);
    Object result = popInput(true);
    t.end(n.getHostReturnValue);
    t.end(n.callHostFunction);
    if (status != 0) {
      throw new HostCallException(status, String.valueOf(result));
    }
    return result;
  }

  /**
   * Sends a log line to the host (one OUT on the LOG port: {@code guesttrace run} prints it on
   * stderr with its level and vCPU) and records it as a message, {@code "[level] text"}, so that
   * the line is in the trace file, in the tree at its place and in OTLP as a span event.
   *
   * @param level {@link ExitPorts#LOG_ERROR}, {@code LOG_WARN}, {@code LOG_INFO} or {@code
   *     LOG_DEBUG}
   */
  public void log(int level, String text) {
    if (tracer.enabled()) {
      tracer.message(logPrefix(level) + text);
    }
    putOutputText(text);
    exit(ExitPorts.LOG, level);
  }

  /** How a log line's level reads in the trace: {@code "[info] "} and the like. */
  public static String logPrefix(int level) {
    return switch (level) {
      case ExitPorts.LOG_ERROR -> "[error] ";
      case ExitPorts.LOG_WARN -> "[warn] ";
      case ExitPorts.LOG_INFO -> "[info] ";
      case ExitPorts.LOG_DEBUG -> "[debug] ";
      default -> "[log] ";
    };
  }

  /**
   * Aborts the guest as a panic handler would: flushes the ring, puts the message in the output
   * buffer and exits on the abort port. Does not return.
   */
  public void abort(int code, String message) {
    tracer.flush();
    abortWithoutFlush(code, message);
  }

  /**
   * Aborts without flushing, as a crash that cannot run the tracer would: records written since the
   * last flush stay in the ring for the host to recover. Does not return.
   */
  public void abortWithoutFlush(int code, String message) {
    putOutputText(message);
    exit(ExitPorts.ABORT, code);
    cpu.hlt();
  }

  /** Halts as Hyperlight's guest does: a {@code halt} span around the final flush, then HLT. */
  public void halt() {
    tracer.begin(n.halt);
    tracer.flush();
    tracer.end(n.halt);
    cpu.hlt();
  }

  private void boot(GuestProgram program) {
    Tracer t = tracer;
    t.begin(n.entrypoint);
    t.begin(n.loadGdt);
    t.end(n.loadGdt);
    t.begin(n.loadIdt);
    t.begin(n.initIdt);
    t.end(n.initIdt);
    t.end(n.loadIdt);
    t.begin(n.hyperlightMain);
    program.main(this);
    t.end(n.hyperlightMain);
    t.end(n.entrypoint);
    halt();
  }

  private void dispatch(GuestProgram program) {
    Tracer t = tracer;
    t.begin(n.dispatchFunction);
    t.begin(n.internalDispatchFunction);
    FunctionCall call = (FunctionCall) popInput(false);
    t.begin(n.callGuestFunction);
    t.message(CALLING);
    Object result = program.call(this, call);
    t.end(n.callGuestFunction);
    t.begin(n.pushSharedOutputData);
    t.message(START_COPY);
    CallCodec.writeValue(cpu.memory(), outputBufferAddress, boot.callBufferLength(), result);
    t.message(FINISH_COPY);
    t.end(n.pushSharedOutputData);
    t.end(n.internalDispatchFunction);
    t.end(n.dispatchFunction);
    halt();
  }

  private Object popInput(boolean value) {
    Tracer t = tracer;
    t.begin(n.tryPopSharedInputDataInto);
    t.message(START_CONVERTING);
    Object decoded =
        value
            ? CallCodec.readValue(cpu.memory(), inputBufferAddress, boot.callBufferLength())
            : CallCodec.readCall(cpu.memory(), inputBufferAddress, boot.callBufferLength());
    t.message(FINISH_CONVERTING);
    t.end(n.tryPopSharedInputDataInto);
    return decoded;
  }

  /** Puts {@code u32 length} and UTF-8 text, cut to fit, in the output buffer. */
  private void putOutputText(String text) {
    byte[] utf8 = Utf8.encode(text, boot.callBufferLength() - GuestLayout.CALL_LENGTH_PREFIX);
    MemorySegment memory = cpu.memory();
    memory.set(U32, outputBufferAddress, utf8.length);
    MemorySegment.copy(
        utf8,
        0,
        memory,
        ValueLayout.JAVA_BYTE,
        outputBufferAddress + GuestLayout.CALL_LENGTH_PREFIX,
        utf8.length);
  }

  private void exit(int port, int value) {
    cpu.register(Register.RCX, cpu.rdtsc());
    cpu.out(port, value);
  }

  private static long roundUp(long bytes) {
    return (bytes + PAGE - 1) & -PAGE;
  }

  /** Name ids of the library's own spans, interned once per vCPU (the table dedups). */
  private static final class Names {
    final int entrypoint;
    final int loadGdt;
    final int loadIdt;
    final int initIdt;
    final int hyperlightMain;
    final int halt;
    final int dispatchFunction;
    final int internalDispatchFunction;
    final int tryPopSharedInputDataInto;
    final int callGuestFunction;
    final int callHostFunction;
    final int callHostFunctionWithoutResult;
    final int pushSharedOutputData;
    final int out32;
    final int getHostReturnValue;

    Names(Tracer t) {
      entrypoint = t.name("entrypoint");
      loadGdt = t.name("load_gdt");
      loadIdt = t.name("load_idt");
      initIdt = t.name("init_idt");
      hyperlightMain = t.name("hyperlight_main");
      halt = t.name("halt");
      dispatchFunction = t.name("dispatch_function");
      internalDispatchFunction = t.name("internal_dispatch_function");
      tryPopSharedInputDataInto = t.name("try_pop_shared_input_data_into");
      callGuestFunction = t.name("call_guest_function");
      callHostFunction = t.name("call_host_function");
      callHostFunctionWithoutResult = t.name("call_host_function_without_returning_result");
      pushSharedOutputData = t.name("push_shared_output_data");
      out32 = t.name("out32");
      getHostReturnValue = t.name("get_host_return_value");
    }
  }

  /** One VM's image of a program: the shared name table and one runtime per vCPU. */
  private static final class Image implements GuestImage {
    private final GuestProgram program;
    private NameTableWriter names;
    private GuestRuntime[] runtimes;

    Image(GuestProgram program) {
      this.program = program;
    }

    @Override
    public void boot(GuestCpu cpu) {
      runtime(cpu).boot(program);
    }

    @Override
    public void dispatch(GuestCpu cpu) {
      runtime(cpu).dispatch(program);
    }

    private GuestRuntime runtime(GuestCpu cpu) {
      GuestRuntime existing;
      NameTableWriter table;
      BootInfo boot;
      synchronized (this) {
        if (runtimes == null) {
          boot = BootInfo.read(cpu.memory());
          runtimes = new GuestRuntime[boot.vcpuCount()];
          names = new NameTableWriter(cpu.memory(), boot.heapAddress(), NAME_TABLE_LENGTH);
        }
        existing = runtimes[cpu.vcpuId()];
        table = names;
        boot = existing == null ? BootInfo.read(cpu.memory()) : existing.boot;
      }
      if (existing != null) {
        return existing;
      }
      // Registration exits to the host, so it runs outside the lock other vCPUs may need.
      GuestRuntime created = new GuestRuntime(cpu, boot, table);
      synchronized (this) {
        runtimes[cpu.vcpuId()] = created;
      }
      return created;
    }
  }
}
