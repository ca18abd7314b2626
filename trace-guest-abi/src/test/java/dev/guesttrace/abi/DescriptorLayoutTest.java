package dev.guesttrace.abi;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Proves that each descriptor's offset constants, its {@code StructLayout} and its VarHandles
 * agree, so the diagram, the constants and the layout cannot drift apart.
 */
class DescriptorLayoutTest {

  /** Every {@code *_OFFSET} constant of {@code type}, by constant name. */
  private static Map<String, Long> offsetConstants(Class<?> type, Set<String> notFields)
      throws IllegalAccessException {
    Map<String, Long> offsets = new LinkedHashMap<>();
    for (Field f : type.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers())
          && f.getName().endsWith("_OFFSET")
          && !notFields.contains(f.getName())) {
        offsets.put(f.getName(), ((Number) f.get(null)).longValue());
      }
    }
    return offsets;
  }

  /**
   * Asserts that {@code constants} (constant name to layout field name) covers every offset
   * constant of the class, and that each equals the layout's offset for its field.
   */
  private static void assertOffsetsMatch(
      Class<?> type, StructLayout layout, Map<String, String> constants, Set<String> notFields)
      throws IllegalAccessException {
    Map<String, Long> declared = offsetConstants(type, notFields);
    assertThat(declared.keySet()).containsExactlyInAnyOrderElementsOf(constants.keySet());
    for (Map.Entry<String, String> e : constants.entrySet()) {
      assertThat(declared.get(e.getKey()))
          .as("%s.%s vs layout field %s", type.getSimpleName(), e.getKey(), e.getValue())
          .isEqualTo(layout.byteOffset(groupElement(e.getValue())));
    }
    // And the other way round: every layout field has a constant.
    Set<String> layoutFields = new TreeSet<>();
    layout.memberLayouts().forEach(m -> layoutFields.add(m.name().orElseThrow()));
    Set<String> mapped = new TreeSet<>(constants.values());
    if (type == GuestLayout.class) {
      mapped.add("reserved"); // padding, no constant on purpose
    }
    assertThat(mapped).isEqualTo(layoutFields);
  }

  @Test
  void traceRegionDescriptor_offsetsMatchLayout() throws Exception {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("MAGIC_OFFSET", "magic");
    m.put("ABI_VERSION_OFFSET", "abiVersion");
    m.put("HEADER_LENGTH_OFFSET", "headerLength");
    m.put("RECORD_LENGTH_OFFSET", "recordLength");
    m.put("CAPACITY_OFFSET", "capacity");
    m.put("MODE_OFFSET", "mode");
    m.put("VCPU_ID_OFFSET", "vcpuId");
    m.put("WRITE_SEQUENCE_OFFSET", "writeSequence");
    m.put("DROPPED_RECORDS_OFFSET", "droppedRecords");
    m.put("OVERWRITTEN_SLOTS_OFFSET", "overwrittenSlots");
    m.put("NAME_TABLE_ADDRESS_OFFSET", "nameTableAddress");
    m.put("NAME_TABLE_LENGTH_OFFSET", "nameTableLength");
    m.put("FLUSH_COUNT_OFFSET", "flushCount");
    assertOffsetsMatch(TraceRegionDescriptor.class, TraceRegionDescriptor.LAYOUT, m, Set.of());
    assertThat(TraceRegionDescriptor.LAYOUT.byteSize())
        .isEqualTo(TraceRegionDescriptor.HEADER_LENGTH)
        .isEqualTo(64);
  }

  @Test
  void traceRecordDescriptor_offsetsMatchLayout() throws Exception {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("KIND_OFFSET", "kind");
    m.put("FLAGS_OFFSET", "flags");
    m.put("AUX_OFFSET", "aux");
    m.put("NAME_ID_OFFSET", "nameId");
    m.put("TSC_OFFSET", "tscTicks");
    m.put("ARG0_OFFSET", "arg0");
    m.put("ARG1_OFFSET", "arg1");
    assertOffsetsMatch(
        TraceRecordDescriptor.class,
        TraceRecordDescriptor.LAYOUT,
        m,
        Set.of("MESSAGE_INLINE_OFFSET", "CONTINUATION_PAYLOAD_OFFSET"));
    assertThat(TraceRecordDescriptor.LAYOUT.byteSize())
        .isEqualTo(TraceRecordDescriptor.RECORD_LENGTH)
        .isEqualTo(32)
        .isEqualTo(1L << TraceRecordDescriptor.RECORD_SHIFT);
  }

  @Test
  void traceRecordDescriptor_messageConstantsAgree() {
    assertThat(TraceRecordDescriptor.MESSAGE_INLINE_OFFSET).isEqualTo(16);
    assertThat(
            TraceRecordDescriptor.MESSAGE_INLINE_OFFSET
                + TraceRecordDescriptor.MESSAGE_INLINE_BYTES)
        .isEqualTo(TraceRecordDescriptor.RECORD_LENGTH);
    assertThat(
            TraceRecordDescriptor.CONTINUATION_PAYLOAD_OFFSET
                + TraceRecordDescriptor.CONTINUATION_PAYLOAD_BYTES)
        .isEqualTo(TraceRecordDescriptor.RECORD_LENGTH);
    assertThat(TraceRecordDescriptor.MESSAGE_MAX_CONTINUATIONS).isEqualTo(132);
    assertThat(TraceRecordDescriptor.continuationSlots(0)).isZero();
    assertThat(TraceRecordDescriptor.continuationSlots(16)).isZero();
    assertThat(TraceRecordDescriptor.continuationSlots(17)).isEqualTo(1);
    assertThat(TraceRecordDescriptor.continuationSlots(47)).isEqualTo(1);
    assertThat(TraceRecordDescriptor.continuationSlots(48)).isEqualTo(2);
    // The longest message must fit a minimal ring with room to spare.
    assertThat(1 + TraceRecordDescriptor.MESSAGE_MAX_CONTINUATIONS)
        .isLessThan(TraceRegionDescriptor.MIN_CAPACITY);
    // The message length travels in the 16-bit aux field.
    assertThat(TraceRecordDescriptor.MESSAGE_MAX_BYTES).isLessThanOrEqualTo(0xFFFF);
  }

  @Test
  void traceRecordDescriptor_headerWordMatchesFieldHandles() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment slot = arena.allocate(32);
      long word = TraceRecordDescriptor.header(RecordKind.MESSAGE, 0xAB, 0x1234, 0xDEADBEEF);
      slot.set(
          java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(
              java.nio.ByteOrder.LITTLE_ENDIAN),
          0,
          word);

      assertThat((byte) TraceRecordDescriptor.KIND_HANDLE.get(slot, 0L)).isEqualTo((byte) 3);
      assertThat((byte) TraceRecordDescriptor.FLAGS_HANDLE.get(slot, 0L)).isEqualTo((byte) 0xAB);
      assertThat((short) TraceRecordDescriptor.AUX_HANDLE.get(slot, 0L)).isEqualTo((short) 0x1234);
      assertThat((int) TraceRecordDescriptor.NAME_ID_HANDLE.get(slot, 0L)).isEqualTo(0xDEADBEEF);
      assertThat(slot.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
          .startsWith(
              3, (byte) 0xAB, 0x34, 0x12, (byte) 0xEF, (byte) 0xBE, (byte) 0xAD, (byte) 0xDE);
    }
  }

  @Test
  void nameTableDescriptor_offsetsMatchLayout() throws Exception {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("MAGIC_OFFSET", "magic");
    m.put("TABLE_LENGTH_OFFSET", "tableLength");
    m.put("NAME_COUNT_OFFSET", "nameCount");
    m.put("USED_LENGTH_OFFSET", "usedLength");
    assertOffsetsMatch(NameTableDescriptor.class, NameTableDescriptor.LAYOUT, m, Set.of());
    assertThat(NameTableDescriptor.LAYOUT.byteSize())
        .isEqualTo(NameTableDescriptor.HEADER_LENGTH)
        .isEqualTo(16);
    assertThat(NameTableDescriptor.entryLength(0)).isEqualTo(4);
    assertThat(NameTableDescriptor.entryLength(2)).isEqualTo(4);
    assertThat(NameTableDescriptor.entryLength(3)).isEqualTo(8);
    assertThat(NameTableDescriptor.entryLength(256)).isEqualTo(260);
  }

  @Test
  void guestLayout_bootInfoOffsetsMatchLayout() throws Exception {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("MAGIC_OFFSET", "magic");
    m.put("ABI_VERSION_OFFSET", "abiVersion");
    m.put("MEMORY_LENGTH_OFFSET", "memoryLength");
    m.put("VCPU_COUNT_OFFSET", "vcpuCount");
    m.put("CALL_BUFFER_LENGTH_OFFSET", "callBufferLength");
    m.put("CALL_BUFFERS_ADDRESS_OFFSET", "callBuffersAddress");
    m.put("HEAP_ADDRESS_OFFSET", "heapAddress");
    m.put("HEAP_LENGTH_OFFSET", "heapLength");
    m.put("RING_LENGTH_OFFSET", "ringLength");
    m.put("MODE_OFFSET", "mode");
    m.put("ARGS_LENGTH_OFFSET", "argsLength");
    assertOffsetsMatch(GuestLayout.class, GuestLayout.BOOT_INFO_LAYOUT, m, Set.of("ARGS_OFFSET"));
    assertThat(GuestLayout.BOOT_INFO_LAYOUT.byteSize())
        .isEqualTo(GuestLayout.BOOT_INFO_HEADER_LENGTH)
        .isEqualTo(GuestLayout.ARGS_OFFSET)
        .isEqualTo(64);
    assertThat(GuestLayout.BOOT_INFO_HEADER_LENGTH + GuestLayout.ARGS_MAX_BYTES).isEqualTo(4096);
  }

  @Test
  void guestLayout_callBuffersInterleaveInputAndOutputPerVcpu() {
    assertThat(GuestLayout.inputBufferAddress(0x10000, 0x4000, 0)).isEqualTo(0x10000);
    assertThat(GuestLayout.outputBufferAddress(0x10000, 0x4000, 0)).isEqualTo(0x14000);
    assertThat(GuestLayout.inputBufferAddress(0x10000, 0x4000, 2)).isEqualTo(0x20000);
    assertThat(GuestLayout.outputBufferAddress(0x10000, 0x4000, 2)).isEqualTo(0x24000);
  }

  @Test
  void magics_spellTheirNamesInLittleEndianAscii() {
    assertThat(ascii(TraceRegionDescriptor.MAGIC)).isEqualTo("GTRC");
    assertThat(ascii(NameTableDescriptor.MAGIC)).isEqualTo("GTNT");
    assertThat(ascii(GuestLayout.BOOT_MAGIC)).isEqualTo("GTBI");
  }

  private static String ascii(int littleEndian) {
    byte[] b = {
      (byte) littleEndian,
      (byte) (littleEndian >> 8),
      (byte) (littleEndian >> 16),
      (byte) (littleEndian >> 24)
    };
    return new String(b, StandardCharsets.US_ASCII);
  }

  @Test
  void regionHandles_readWhatTheConstantsSay() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment region = arena.allocate(TraceRegionDescriptor.HEADER_LENGTH + 8);
      long base = 8; // handles take a base offset: the region need not start at 0
      VarHandle[] handles = {
        TraceRegionDescriptor.WRITE_SEQUENCE_HANDLE,
        TraceRegionDescriptor.DROPPED_RECORDS_HANDLE,
        TraceRegionDescriptor.OVERWRITTEN_SLOTS_HANDLE,
        TraceRegionDescriptor.NAME_TABLE_ADDRESS_HANDLE
      };
      int[] offsets = {
        TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET,
        TraceRegionDescriptor.DROPPED_RECORDS_OFFSET,
        TraceRegionDescriptor.OVERWRITTEN_SLOTS_OFFSET,
        TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET
      };
      for (int i = 0; i < handles.length; i++) {
        long value = 0x0102030405060708L * (i + 1);
        handles[i].set(region, base, value);
        assertThat(region.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, base + offsets[i]))
            .isEqualTo(value);
      }
    }
  }

  @Test
  void regionDescriptor_slotOffsetsAndCapacities() {
    assertThat(TraceRegionDescriptor.slotOffset(0, 256)).isEqualTo(64);
    assertThat(TraceRegionDescriptor.slotOffset(255, 256)).isEqualTo(64 + 255 * 32);
    assertThat(TraceRegionDescriptor.slotOffset(256, 256)).isEqualTo(64);
    assertThat(TraceRegionDescriptor.slotOffset(1L << 40 | 3, 256)).isEqualTo(64 + 3 * 32);
    assertThat(TraceRegionDescriptor.regionLength(256)).isEqualTo(64 + 8192);
    assertThat(TraceRegionDescriptor.isValidCapacity(256)).isTrue();
    assertThat(TraceRegionDescriptor.isValidCapacity(1 << 24)).isTrue();
    assertThat(TraceRegionDescriptor.isValidCapacity(128)).isFalse();
    assertThat(TraceRegionDescriptor.isValidCapacity(384)).isFalse();
    assertThat(TraceRegionDescriptor.isValidCapacity(1 << 25)).isFalse();
    assertThat(TraceRegionDescriptor.capacityForRingBytes(64 * 1024)).isEqualTo(2048);
    assertThat(TraceRegionDescriptor.capacityForRingBytes(100_000)).isEqualTo(2048);
    assertThat(TraceRegionDescriptor.capacityForRingBytes(8191)).isZero();
    assertThat(TraceRegionDescriptor.capacityForRingBytes(1L << 40)).isEqualTo(1 << 24);
  }

  @Test
  void recordKind_namesAreStable() {
    assertThat(
            Arrays.stream(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8})
                .mapToObj(RecordKind::name)
                .toList())
        .containsExactly(
            "empty",
            "span_begin",
            "span_end",
            "message",
            "continuation",
            "alloc",
            "free",
            "counter",
            "unknown(8)");
    assertThat(RecordKind.MAX_KNOWN).isEqualTo(7);
  }

  @Test
  void exitPorts_valuesAndNames() {
    assertThat(ExitPorts.TRACE).isEqualTo(0x70);
    assertThat(ExitPorts.HOST_CALL).isEqualTo(0x71);
    assertThat(ExitPorts.LOG).isEqualTo(0x72);
    assertThat(ExitPorts.ABORT).isEqualTo(0x73);
    assertThat(ExitPorts.TRACE_OP_REGISTER).isEqualTo(1);
    assertThat(ExitPorts.TRACE_OP_FLUSH).isEqualTo(2);
    assertThat(ExitPorts.name(0x70)).isEqualTo("trace");
    assertThat(ExitPorts.name(0x73)).isEqualTo("abort");
    assertThat(ExitPorts.name(0x80)).isEqualTo("0x80");
  }

  @Test
  void register_ordinalsFollowKvmRegs() {
    assertThat(Register.RAX.ordinal()).isZero();
    assertThat(Register.RCX.ordinal()).isEqualTo(2);
    assertThat(Register.RSI.ordinal()).isEqualTo(4);
    assertThat(Register.RDI.ordinal()).isEqualTo(5);
    assertThat(Register.RIP.ordinal()).isEqualTo(16);
    assertThat(Register.COUNT).isEqualTo(Register.values().length).isEqualTo(18);
    assertThat(Register.of(5)).isEqualTo(Register.RDI);
  }
}
