package dev.guesttrace.vm.kvm;

import dev.guesttrace.abi.CallCodec;
import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.GuestLayout;
import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.Register;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.vm.ExitHandler;
import dev.guesttrace.vm.GuestMemoryLayout;
import dev.guesttrace.vm.VcpuState;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal host for native guests in tests: answers HostPrint, keeps the trace region each vCPU
 * registers and copies its records at every flush and at the end, as a reference reader (the real
 * collector lives in dev.guesttrace.collect). Records render as {@code "B name"}, {@code "E name"},
 * {@code "M text"}, {@code "A address size"}, {@code "F address size"}.
 */
final class TestHost implements ExitHandler {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final GuestMemoryLayout layout;
  private final Map<Integer, Long> regions = new HashMap<>();
  private final Map<Integer, Long> cursors = new HashMap<>();
  private final Map<Integer, List<long[]>> raw = new HashMap<>();
  private final Map<Integer, List<String>> messages = new HashMap<>();
  final List<String> printed = new ArrayList<>();
  final List<String> logs = new ArrayList<>();
  int flushes;
  int abortCode = -1;
  String abortMessage;

  TestHost(GuestMemoryLayout layout) {
    this.layout = layout;
  }

  @Override
  public synchronized ExitAction onOut(VcpuState vcpu, int port, int value) {
    MemorySegment memory = vcpu.memory();
    int id = vcpu.vcpuId();
    switch (port) {
      case ExitPorts.TRACE -> {
        long region = vcpu.register(Register.RDI);
        if (value == ExitPorts.TRACE_OP_REGISTER) {
          regions.put(id, region);
          cursors.put(id, 0L);
        } else {
          flushes++;
          drain(memory, id);
        }
      }
      case ExitPorts.HOST_CALL -> {
        CallCodec.FunctionCall call =
            CallCodec.readCall(memory, layout.outputBuffer(id), layout.callBufferLength());
        Object result;
        if (call.name().equals("HostPrint")) {
          String text = call.stringArg(0, "");
          printed.add(text);
          result = (long) text.getBytes(StandardCharsets.UTF_8).length;
        } else {
          result = "no such host function: " + call.name();
        }
        CallCodec.writeValue(memory, layout.inputBuffer(id), layout.callBufferLength(), result);
      }
      case ExitPorts.LOG -> logs.add(outputText(memory, id));
      case ExitPorts.ABORT -> {
        abortCode = value;
        abortMessage = outputText(memory, id);
        return ExitAction.STOP;
      }
      default -> throw new AssertionError("unexpected port " + port);
    }
    return ExitAction.RESUME;
  }

  private String outputText(MemorySegment memory, int vcpu) {
    long at = layout.outputBuffer(vcpu);
    int length = memory.get(ValueLayout.JAVA_INT_UNALIGNED, at);
    byte[] bytes = new byte[length];
    MemorySegment.copy(memory, ValueLayout.JAVA_BYTE, at + 4, bytes, 0, length);
    return new String(bytes, StandardCharsets.UTF_8);
  }

  /** Copies records from the cursor up to the write sequence (call after a flush or the end). */
  synchronized void drain(MemorySegment memory, int vcpu) {
    Long region = regions.get(vcpu);
    if (region == null) {
      return;
    }
    int capacity = memory.get(ValueLayout.JAVA_INT_UNALIGNED, region + 12);
    long end = memory.get(U64, region + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
    VarHandle.acquireFence();
    long start = Math.max(cursors.get(vcpu), end - capacity);
    List<long[]> out = raw.computeIfAbsent(vcpu, k -> new ArrayList<>());
    for (long s = start; s < end; s++) {
      long slot = region + TraceRegionDescriptor.slotOffset(s, capacity);
      long[] words = new long[4];
      for (int w = 0; w < 4; w++) {
        words[w] = memory.get(U64, slot + 8L * w);
      }
      out.add(words);
      int kind = (int) (words[0] & 0xFF);
      if (kind == RecordKind.MESSAGE) {
        messages
            .computeIfAbsent(vcpu, k -> new ArrayList<>())
            .add(message(memory, region, s, capacity));
      }
    }
    cursors.put(vcpu, end);
  }

  private static String message(MemorySegment memory, long region, long sequence, int capacity) {
    long slot = region + TraceRegionDescriptor.slotOffset(sequence, capacity);
    int length = memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, slot + 2) & 0xFFFF;
    byte[] text = new byte[length];
    for (int i = 0; i < length; i++) {
      long at;
      if (i < TraceRecordDescriptor.MESSAGE_INLINE_BYTES) {
        at = slot + TraceRecordDescriptor.MESSAGE_INLINE_OFFSET + i;
      } else {
        int rest = i - TraceRecordDescriptor.MESSAGE_INLINE_BYTES;
        at =
            region
                + TraceRegionDescriptor.slotOffset(
                    sequence + 1 + rest / TraceRecordDescriptor.CONTINUATION_PAYLOAD_BYTES,
                    capacity)
                + TraceRecordDescriptor.CONTINUATION_PAYLOAD_OFFSET
                + rest % TraceRecordDescriptor.CONTINUATION_PAYLOAD_BYTES;
      }
      text[i] = memory.get(ValueLayout.JAVA_BYTE, at);
    }
    return new String(text, StandardCharsets.UTF_8);
  }

  /** The names in the name table the vCPU's region points at, by id (index 0 unused). */
  synchronized List<String> names(MemorySegment memory, int vcpu) {
    long region = regions.get(vcpu);
    long table = memory.get(U64, region + TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET);
    int count =
        memory.get(ValueLayout.JAVA_INT_UNALIGNED, table + NameTableDescriptor.NAME_COUNT_OFFSET);
    List<String> names = new ArrayList<>();
    names.add("");
    long at = table + NameTableDescriptor.HEADER_LENGTH;
    for (int i = 0; i < count; i++) {
      int length = memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, at) & 0xFFFF;
      byte[] bytes = new byte[length];
      MemorySegment.copy(memory, ValueLayout.JAVA_BYTE, at + 2, bytes, 0, length);
      names.add(new String(bytes, StandardCharsets.UTF_8));
      at += NameTableDescriptor.entryLength(length);
    }
    return names;
  }

  /** The vCPU's records so far, rendered; continuation slots are folded into their message. */
  synchronized List<String> rendered(MemorySegment memory, int vcpu) {
    List<String> names = names(memory, vcpu);
    List<String> out = new ArrayList<>();
    int message = 0;
    for (long[] words : raw.getOrDefault(vcpu, List.of())) {
      int kind = (int) (words[0] & 0xFF);
      int nameId = (int) (words[0] >>> 32);
      String name = nameId < names.size() ? names.get(nameId) : "?" + nameId;
      switch (kind) {
        case RecordKind.SPAN_BEGIN -> out.add("B " + name);
        case RecordKind.SPAN_END -> out.add("E " + name);
        case RecordKind.MESSAGE -> out.add("M " + messages.get(vcpu).get(message++));
        case RecordKind.CONTINUATION -> {}
        case RecordKind.ALLOC -> out.add("A " + words[2] + " " + words[3]);
        case RecordKind.FREE -> out.add("F " + words[2] + " " + words[3]);
        case RecordKind.COUNTER -> out.add("C " + name + " " + words[2]);
        default -> out.add("? " + kind);
      }
    }
    return out;
  }

  /** The region the vCPU registered. */
  synchronized long region(int vcpu) {
    return regions.get(vcpu);
  }

  /** Raw records of a vCPU: four little-endian words each. */
  synchronized List<long[]> raw(int vcpu) {
    return raw.getOrDefault(vcpu, List.of());
  }

  /** Puts a guest call in the vCPU's input buffer. */
  void call(MemorySegment memory, int vcpu, String function, Object... args) {
    CallCodec.writeCall(
        memory,
        layout.inputBuffer(vcpu),
        layout.callBufferLength(),
        new CallCodec.FunctionCall(function, List.of(args)));
  }

  /** The value the guest left in its output buffer. */
  Object result(MemorySegment memory, int vcpu) {
    return CallCodec.readValue(memory, layout.outputBuffer(vcpu), layout.callBufferLength());
  }

  static GuestMemoryLayout layout(long memoryBytes, int vcpus) {
    return GuestMemoryLayout.standard(memoryBytes, vcpus, GuestLayout.DEFAULT_CALL_BUFFER_LENGTH);
  }
}
