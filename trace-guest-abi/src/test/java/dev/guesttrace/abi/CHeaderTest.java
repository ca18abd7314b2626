package dev.guesttrace.abi;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.guest.BootInfo;
import java.io.IOException;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles a small C program with the machine's gcc against {@code src/main/c/guesttrace.h} and
 * checks every constant and every struct offset and size it prints against the Java side. Skipped,
 * saying why, where gcc or the header is missing.
 */
class CHeaderTest {
  static final Path HEADER = Path.of("src/main/c/guesttrace.h");

  @TempDir static Path work;

  @BeforeAll
  static void requireGccAndHeader() {
    Assumptions.assumeTrue(
        Files.isRegularFile(HEADER),
        "C header check skipped: " + HEADER.toAbsolutePath() + " not found");
    Assumptions.assumeTrue(gccWorks(), "C header check skipped: gcc not found on the PATH");
  }

  private static boolean gccWorks() {
    try {
      Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Every constant the header defines, with the Java value it must equal. */
  static Map<String, Long> constants() {
    Map<String, Long> c = new LinkedHashMap<>();
    c.put("GT_ABI_MAJOR", (long) AbiVersion.CURRENT.major());
    c.put("GT_ABI_MINOR", (long) AbiVersion.CURRENT.minor());
    c.put("GT_ABI_PATCH", (long) AbiVersion.CURRENT.patch());
    c.put("GT_ABI_VERSION", (long) AbiVersion.CURRENT.packed());

    c.put("GT_REGION_MAGIC", Integer.toUnsignedLong(TraceRegionDescriptor.MAGIC));
    c.put("GT_REGION_MAGIC_OFFSET", (long) TraceRegionDescriptor.MAGIC_OFFSET);
    c.put("GT_REGION_ABI_VERSION_OFFSET", (long) TraceRegionDescriptor.ABI_VERSION_OFFSET);
    c.put("GT_REGION_HEADER_LENGTH_OFFSET", (long) TraceRegionDescriptor.HEADER_LENGTH_OFFSET);
    c.put("GT_REGION_RECORD_LENGTH_OFFSET", (long) TraceRegionDescriptor.RECORD_LENGTH_OFFSET);
    c.put("GT_REGION_CAPACITY_OFFSET", (long) TraceRegionDescriptor.CAPACITY_OFFSET);
    c.put("GT_REGION_MODE_OFFSET", (long) TraceRegionDescriptor.MODE_OFFSET);
    c.put("GT_REGION_VCPU_ID_OFFSET", (long) TraceRegionDescriptor.VCPU_ID_OFFSET);
    c.put("GT_REGION_WRITE_SEQUENCE_OFFSET", (long) TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
    c.put("GT_REGION_DROPPED_RECORDS_OFFSET", (long) TraceRegionDescriptor.DROPPED_RECORDS_OFFSET);
    c.put(
        "GT_REGION_OVERWRITTEN_SLOTS_OFFSET",
        (long) TraceRegionDescriptor.OVERWRITTEN_SLOTS_OFFSET);
    c.put(
        "GT_REGION_NAME_TABLE_ADDRESS_OFFSET",
        (long) TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET);
    c.put(
        "GT_REGION_NAME_TABLE_LENGTH_OFFSET",
        (long) TraceRegionDescriptor.NAME_TABLE_LENGTH_OFFSET);
    c.put("GT_REGION_FLUSH_COUNT_OFFSET", (long) TraceRegionDescriptor.FLUSH_COUNT_OFFSET);
    c.put("GT_REGION_HEADER_LENGTH", (long) TraceRegionDescriptor.HEADER_LENGTH);
    c.put("GT_MODE_STREAM", (long) TraceRegionDescriptor.MODE_STREAM);
    c.put("GT_MODE_FLIGHT", (long) TraceRegionDescriptor.MODE_FLIGHT);
    c.put("GT_REGION_MIN_CAPACITY", (long) TraceRegionDescriptor.MIN_CAPACITY);
    c.put("GT_REGION_MAX_CAPACITY", (long) TraceRegionDescriptor.MAX_CAPACITY);

    c.put("GT_RECORD_KIND_OFFSET", (long) TraceRecordDescriptor.KIND_OFFSET);
    c.put("GT_RECORD_FLAGS_OFFSET", (long) TraceRecordDescriptor.FLAGS_OFFSET);
    c.put("GT_RECORD_AUX_OFFSET", (long) TraceRecordDescriptor.AUX_OFFSET);
    c.put("GT_RECORD_NAME_ID_OFFSET", (long) TraceRecordDescriptor.NAME_ID_OFFSET);
    c.put("GT_RECORD_TSC_OFFSET", (long) TraceRecordDescriptor.TSC_OFFSET);
    c.put("GT_RECORD_ARG0_OFFSET", (long) TraceRecordDescriptor.ARG0_OFFSET);
    c.put("GT_RECORD_ARG1_OFFSET", (long) TraceRecordDescriptor.ARG1_OFFSET);
    c.put("GT_RECORD_LENGTH", (long) TraceRecordDescriptor.RECORD_LENGTH);
    c.put("GT_RECORD_SHIFT", (long) TraceRecordDescriptor.RECORD_SHIFT);
    c.put("GT_MESSAGE_INLINE_OFFSET", (long) TraceRecordDescriptor.MESSAGE_INLINE_OFFSET);
    c.put("GT_MESSAGE_INLINE_BYTES", (long) TraceRecordDescriptor.MESSAGE_INLINE_BYTES);
    c.put(
        "GT_CONTINUATION_PAYLOAD_OFFSET", (long) TraceRecordDescriptor.CONTINUATION_PAYLOAD_OFFSET);
    c.put("GT_CONTINUATION_PAYLOAD_BYTES", (long) TraceRecordDescriptor.CONTINUATION_PAYLOAD_BYTES);
    c.put("GT_MESSAGE_MAX_BYTES", (long) TraceRecordDescriptor.MESSAGE_MAX_BYTES);
    c.put("GT_MESSAGE_MAX_CONTINUATIONS", (long) TraceRecordDescriptor.MESSAGE_MAX_CONTINUATIONS);

    c.put("GT_KIND_EMPTY", (long) RecordKind.EMPTY);
    c.put("GT_KIND_SPAN_BEGIN", (long) RecordKind.SPAN_BEGIN);
    c.put("GT_KIND_SPAN_END", (long) RecordKind.SPAN_END);
    c.put("GT_KIND_MESSAGE", (long) RecordKind.MESSAGE);
    c.put("GT_KIND_CONTINUATION", (long) RecordKind.CONTINUATION);
    c.put("GT_KIND_ALLOC", (long) RecordKind.ALLOC);
    c.put("GT_KIND_FREE", (long) RecordKind.FREE);
    c.put("GT_KIND_COUNTER", (long) RecordKind.COUNTER);
    c.put("GT_KIND_MAX_KNOWN", (long) RecordKind.MAX_KNOWN);

    c.put("GT_NAMES_MAGIC", Integer.toUnsignedLong(NameTableDescriptor.MAGIC));
    c.put("GT_NAMES_MAGIC_OFFSET", (long) NameTableDescriptor.MAGIC_OFFSET);
    c.put("GT_NAMES_TABLE_LENGTH_OFFSET", (long) NameTableDescriptor.TABLE_LENGTH_OFFSET);
    c.put("GT_NAMES_NAME_COUNT_OFFSET", (long) NameTableDescriptor.NAME_COUNT_OFFSET);
    c.put("GT_NAMES_USED_LENGTH_OFFSET", (long) NameTableDescriptor.USED_LENGTH_OFFSET);
    c.put("GT_NAMES_HEADER_LENGTH", (long) NameTableDescriptor.HEADER_LENGTH);
    c.put("GT_NAMES_ENTRY_LENGTH_PREFIX", (long) NameTableDescriptor.ENTRY_LENGTH_PREFIX);
    c.put("GT_NAMES_ENTRY_ALIGNMENT", (long) NameTableDescriptor.ENTRY_ALIGNMENT);
    c.put("GT_NAMES_NAME_MAX_BYTES", (long) NameTableDescriptor.NAME_MAX_BYTES);
    c.put("GT_NAMES_MAX_NAMES", (long) NameTableDescriptor.MAX_NAMES);
    c.put("GT_NAMES_MAX_TABLE_LENGTH", (long) NameTableDescriptor.MAX_TABLE_LENGTH);

    c.put("GT_PORT_TRACE", (long) ExitPorts.TRACE);
    c.put("GT_PORT_HOST_CALL", (long) ExitPorts.HOST_CALL);
    c.put("GT_PORT_LOG", (long) ExitPorts.LOG);
    c.put("GT_PORT_ABORT", (long) ExitPorts.ABORT);
    c.put("GT_TRACE_OP_REGISTER", (long) ExitPorts.TRACE_OP_REGISTER);
    c.put("GT_TRACE_OP_FLUSH", (long) ExitPorts.TRACE_OP_FLUSH);
    c.put("GT_LOG_ERROR", (long) ExitPorts.LOG_ERROR);
    c.put("GT_LOG_WARN", (long) ExitPorts.LOG_WARN);
    c.put("GT_LOG_INFO", (long) ExitPorts.LOG_INFO);
    c.put("GT_LOG_DEBUG", (long) ExitPorts.LOG_DEBUG);

    c.put("GT_BOOT_INFO_ADDRESS", GuestLayout.BOOT_INFO_ADDRESS);
    c.put("GT_FIRST_FREE_ADDRESS", GuestLayout.FIRST_FREE_ADDRESS);
    c.put("GT_BOOT_MAGIC", Integer.toUnsignedLong(GuestLayout.BOOT_MAGIC));
    c.put("GT_BOOT_MAGIC_OFFSET", (long) GuestLayout.MAGIC_OFFSET);
    c.put("GT_BOOT_ABI_VERSION_OFFSET", (long) GuestLayout.ABI_VERSION_OFFSET);
    c.put("GT_BOOT_MEMORY_LENGTH_OFFSET", (long) GuestLayout.MEMORY_LENGTH_OFFSET);
    c.put("GT_BOOT_VCPU_COUNT_OFFSET", (long) GuestLayout.VCPU_COUNT_OFFSET);
    c.put("GT_BOOT_CALL_BUFFER_LENGTH_OFFSET", (long) GuestLayout.CALL_BUFFER_LENGTH_OFFSET);
    c.put("GT_BOOT_CALL_BUFFERS_ADDRESS_OFFSET", (long) GuestLayout.CALL_BUFFERS_ADDRESS_OFFSET);
    c.put("GT_BOOT_HEAP_ADDRESS_OFFSET", (long) GuestLayout.HEAP_ADDRESS_OFFSET);
    c.put("GT_BOOT_HEAP_LENGTH_OFFSET", (long) GuestLayout.HEAP_LENGTH_OFFSET);
    c.put("GT_BOOT_RING_LENGTH_OFFSET", (long) GuestLayout.RING_LENGTH_OFFSET);
    c.put("GT_BOOT_MODE_OFFSET", (long) GuestLayout.MODE_OFFSET);
    c.put("GT_BOOT_ARGS_LENGTH_OFFSET", (long) GuestLayout.ARGS_LENGTH_OFFSET);
    c.put("GT_BOOT_ARGS_OFFSET", (long) GuestLayout.ARGS_OFFSET);
    c.put("GT_BOOT_INFO_HEADER_LENGTH", (long) GuestLayout.BOOT_INFO_HEADER_LENGTH);
    c.put("GT_BOOT_ARGS_MAX_BYTES", (long) GuestLayout.ARGS_MAX_BYTES);
    c.put("GT_DEFAULT_CALL_BUFFER_LENGTH", (long) GuestLayout.DEFAULT_CALL_BUFFER_LENGTH);
    c.put("GT_CALL_LENGTH_PREFIX", (long) GuestLayout.CALL_LENGTH_PREFIX);
    c.put("GT_BOOT_MODE_STREAM", (long) BootInfo.MODE_STREAM);
    c.put("GT_BOOT_MODE_FLIGHT", (long) BootInfo.MODE_FLIGHT);
    c.put("GT_BOOT_MODE_OFF", (long) BootInfo.MODE_OFF);

    c.put("GT_CALL_TYPE_VOID", (long) CallCodec.TYPE_VOID);
    c.put("GT_CALL_TYPE_LONG", (long) CallCodec.TYPE_LONG);
    c.put("GT_CALL_TYPE_STRING", (long) CallCodec.TYPE_STRING);
    c.put("GT_CALL_TYPE_BYTES", (long) CallCodec.TYPE_BYTES);
    c.put("GT_CALL_NAME_MAX_BYTES", (long) CallCodec.NAME_MAX_BYTES);
    c.put("GT_CALL_MAX_ARGS", (long) CallCodec.MAX_ARGS);
    return c;
  }

  /** C struct, its fields (C name to Java layout name) and the Java layout they must match. */
  private record Struct(String cName, StructLayout layout, Map<String, String> fields) {}

  static List<Struct> structs() {
    Map<String, String> region = new LinkedHashMap<>();
    region.put("magic", "magic");
    region.put("abi_version", "abiVersion");
    region.put("header_length", "headerLength");
    region.put("record_length", "recordLength");
    region.put("capacity", "capacity");
    region.put("mode", "mode");
    region.put("vcpu_id", "vcpuId");
    region.put("write_sequence", "writeSequence");
    region.put("dropped_records", "droppedRecords");
    region.put("overwritten_slots", "overwrittenSlots");
    region.put("name_table_address", "nameTableAddress");
    region.put("name_table_length", "nameTableLength");
    region.put("flush_count", "flushCount");
    Map<String, String> record = new LinkedHashMap<>();
    record.put("kind", "kind");
    record.put("flags", "flags");
    record.put("aux", "aux");
    record.put("name_id", "nameId");
    record.put("tsc_ticks", "tscTicks");
    record.put("arg0", "arg0");
    record.put("arg1", "arg1");
    Map<String, String> names = new LinkedHashMap<>();
    names.put("magic", "magic");
    names.put("table_length", "tableLength");
    names.put("name_count", "nameCount");
    names.put("used_length", "usedLength");
    Map<String, String> boot = new LinkedHashMap<>();
    boot.put("magic", "magic");
    boot.put("abi_version", "abiVersion");
    boot.put("memory_length", "memoryLength");
    boot.put("vcpu_count", "vcpuCount");
    boot.put("call_buffer_length", "callBufferLength");
    boot.put("call_buffers_address", "callBuffersAddress");
    boot.put("heap_address", "heapAddress");
    boot.put("heap_length", "heapLength");
    boot.put("ring_length", "ringLength");
    boot.put("mode", "mode");
    boot.put("args_length", "argsLength");
    boot.put("reserved", "reserved");
    return List.of(
        new Struct("gt_region_header", TraceRegionDescriptor.LAYOUT, region),
        new Struct("gt_record", TraceRecordDescriptor.LAYOUT, record),
        new Struct("gt_names_header", NameTableDescriptor.LAYOUT, names),
        new Struct("gt_boot_info", GuestLayout.BOOT_INFO_LAYOUT, boot));
  }

  /** Compiles and runs {@code source} (hosted, with libc, including the freestanding header). */
  static List<String> compileAndRun(String name, String source) throws Exception {
    Path c = work.resolve(name + ".c");
    Path exe = work.resolve(name);
    Files.writeString(c, source);
    run(
        List.of(
            "gcc",
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            HEADER.toAbsolutePath().getParent().toString(),
            c.toString(),
            "-o",
            exe.toString()));
    return run(List.of(exe.toString()));
  }

  private static List<String> run(List<String> command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("%s finished", command.getFirst()).isTrue();
    assertThat(p.exitValue()).as("%s failed:%n%s", String.join(" ", command), out).isZero();
    return out.lines().toList();
  }

  @Test
  void constants_equalJava() throws Exception {
    Map<String, Long> expected = constants();
    StringBuilder src = new StringBuilder();
    src.append("#include <stdio.h>\n#include \"guesttrace.h\"\nint main(void) {\n");
    for (String name : expected.keySet()) {
      src.append("  printf(\"%s %llu\\n\", \"")
          .append(name)
          .append("\", (unsigned long long)(")
          .append(name)
          .append("));\n");
    }
    src.append("  return 0;\n}\n");

    Map<String, Long> actual = new LinkedHashMap<>();
    for (String line : compileAndRun("constants", src.toString())) {
      String[] parts = line.split(" ");
      actual.put(parts[0], Long.parseUnsignedLong(parts[1]));
    }

    assertThat(actual).containsExactlyEntriesOf(expected);
  }

  @Test
  void structs_offsetsAndSizesEqualJavaLayouts() throws Exception {
    StringBuilder src = new StringBuilder();
    src.append("#include <stdio.h>\n#include \"guesttrace.h\"\nint main(void) {\n");
    Map<String, Long> expected = new LinkedHashMap<>();
    for (Struct s : structs()) {
      for (Map.Entry<String, String> f : s.fields().entrySet()) {
        String key = s.cName() + "." + f.getKey();
        src.append(
            String.format(
                "  printf(\"%%s %%zu\\n\", \"%s\", offsetof(struct %s, %s));%n",
                key, s.cName(), f.getKey()));
        expected.put(key, s.layout().byteOffset(groupElement(f.getValue())));
        String sizeKey = key + ".size";
        src.append(
            String.format(
                "  printf(\"%%s %%zu\\n\", \"%s\", sizeof(((struct %s *)0)->%s));%n",
                sizeKey, s.cName(), f.getKey()));
        expected.put(sizeKey, s.layout().select(groupElement(f.getValue())).byteSize());
      }
      src.append(
          String.format(
              "  printf(\"%%s %%zu\\n\", \"sizeof %s\", sizeof(struct %s));%n",
              s.cName(), s.cName()));
      expected.put("sizeof " + s.cName(), s.layout().byteSize());
      // Every Java field has a C field and the other way round.
      assertThat(s.fields().values())
          .containsExactlyElementsOf(
              s.layout().memberLayouts().stream().map(m -> m.name().orElseThrow()).toList());
    }
    src.append("  return 0;\n}\n");

    Map<String, Long> actual = new LinkedHashMap<>();
    for (String line : compileAndRun("structs", src.toString())) {
      int space = line.lastIndexOf(' ');
      actual.put(line.substring(0, space), Long.parseLong(line.substring(space + 1)));
    }

    assertThat(actual).containsExactlyEntriesOf(expected);
  }

  @Test
  void header_compilesFreestandingWithoutLibc() throws Exception {
    Path c = work.resolve("freestanding.c");
    Files.writeString(
        c,
        "#include \"guesttrace.h\"\n"
            + "static struct gt_names names;\nstatic struct gt_tracer tracer;\n"
            + "void entry(void *table, unsigned long region) {\n"
            + "  gt_names_init(&names, table, 4096);\n"
            + "  gt_tracer_register(&tracer, &names, region, 256, GT_MODE_STREAM, 0);\n"
            + "  unsigned id = gt_name(&tracer, \"f\");\n"
            + "  gt_begin(&tracer, id); gt_message(&tracer, \"m\"); gt_end(&tracer, id);\n"
            + "  gt_flush(&tracer);\n}\n");
    List<String> out =
        run(
            List.of(
                "gcc",
                "-std=c11",
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-ffreestanding",
                "-nostdlib",
                "-fno-pic",
                "-mno-red-zone",
                "-c",
                "-I",
                HEADER.toAbsolutePath().getParent().toString(),
                c.toString(),
                "-o",
                work.resolve("freestanding.o").toString()));
    assertThat(out).isEmpty();
    assertThat(work.resolve("freestanding.o")).isNotEmptyFile();
  }

  /**
   * The C recorder replays the golden scenarios of {@code GoldenDumpTest} in an ordinary process:
   * its {@code out} instruction faults in user mode, and a SIGSEGV handler steps over it (the host
   * that acknowledges). The region and name table it writes must equal the Java writer's golden
   * dumps byte for byte, except the timestamps (the C side reads the real TSC) and the name table's
   * address (a pointer in this process).
   */
  @Test
  void recorder_writesTheSameBytesAsTheJavaGuest() throws Exception {
    String source =
        """
        #define _GNU_SOURCE
        #include <signal.h>
        #include <stdio.h>
        #include <string.h>
        #include <ucontext.h>
        #include "guesttrace.h"

        static void step_over_out(int sig, siginfo_t *info, void *context) {
          (void)sig; (void)info;
          ucontext_t *uc = (ucontext_t *)context;
          unsigned char *rip = (unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
          if (rip[0] != 0xEF) { signal(SIGSEGV, SIG_DFL); return; } /* not OUT DX, EAX */
          uc->uc_mcontext.gregs[REG_RIP] += 1;
        }

        static unsigned char table[256] __attribute__((aligned(64)));
        static unsigned char region[64 + 256 * 32] __attribute__((aligned(64)));

        static void dump(const char *what, const unsigned char *b, size_t n) {
          printf("%s ", what);
          for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
          printf("\\n");
        }

        int main(void) {
          struct sigaction sa;
          memset(&sa, 0, sizeof sa);
          sa.sa_sigaction = step_over_out;
          sa.sa_flags = SA_SIGINFO;
          sigaction(SIGSEGV, &sa, 0);
          static struct gt_names names;
          static struct gt_tracer t;

          gt_names_init(&names, table, sizeof table);
          gt_tracer_register(&t, &names, (uint64_t)(uintptr_t)region, 256, GT_MODE_STREAM, 0);
          uint32_t main_id = gt_name(&t, "main");
          uint32_t parse = gt_name(&t, "parse");
          uint32_t size = gt_name(&t, "gr\\xc3\\xb6\\xc3\\x9f" "e");
          gt_begin_args(&t, main_id, 1, 2);
          gt_begin(&t, parse);
          gt_message(&t, "hello");
          gt_message(&t, "caf\\xc3\\xa9 \\xe2\\x82\\xac 12 \\xf0\\x9f\\x98\\x80" " and a tail past sixteen bytes");
          gt_alloc(&t, 0x20000, 64);
          gt_counter(&t, size, -5);
          gt_free(&t, 0x20000, 64);
          gt_end(&t, parse);
          gt_end(&t, main_id);
          printf("table %llu\\n", (unsigned long long)(uintptr_t)table);
          dump("stream-basic.region.bin", region, sizeof region);
          dump("stream-basic.names.bin", table, sizeof table);

          gt_names_init(&names, table, sizeof table);
          gt_tracer_register(&t, &names, (uint64_t)(uintptr_t)region, 256, GT_MODE_FLIGHT, 0);
          uint32_t tick = gt_name(&t, "tick");
          for (int i = 0; i < 254; i++) gt_counter(&t, tick, i);
          char m[80];
          memset(m, 'x', 16); memset(m + 16, 'y', 31); memset(m + 47, 'z', 31);
          m[78] = '!'; m[79] = 0;
          gt_message(&t, m);
          for (int i = 0; i < 126; i++) { gt_begin_args(&t, tick, i, 0); gt_end(&t, tick); }
          gt_counter(&t, tick, 510);
          dump("flight-wrapped.region.bin", region, sizeof region);
          dump("flight-wrapped.names.bin", table, sizeof table);
          return 0;
        }
        """;
    List<String> out = compileAndRun("recorder", source);

    long tableAddress = Long.parseUnsignedLong(out.getFirst().split(" ")[1]);
    for (String line : out.subList(1, out.size())) {
      String file = line.substring(0, line.indexOf(' '));
      byte[] fromC = java.util.HexFormat.of().parseHex(line.substring(line.indexOf(' ') + 1));
      byte[] fromJava = golden(file);
      if (file.endsWith(".region.bin")) {
        java.nio.ByteBuffer c =
            java.nio.ByteBuffer.wrap(fromC).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(c.getLong(TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET))
            .isEqualTo(tableAddress);
        c.putLong(TraceRegionDescriptor.NAME_TABLE_ADDRESS_OFFSET, 0x10000);
        maskTimestamps(fromC);
        maskTimestamps(fromJava);
      }
      assertThat(fromC).as(file).isEqualTo(fromJava);
    }
    assertThat(out).hasSize(5);
  }

  /**
   * The recorder stores a slot's TSC word before its other words (docs/abi.md, "A record cut
   * short"): a flight ring stopped anywhere, as a timeout stops a vCPU (here a 20 us timer signal,
   * some 30,000 stops in 2 s), never shows the slot the unpublished record reuses with a new header
   * or argument but the old TSC. The header written the other way round showed that about once per
   * thousand stops.
   */
  @Test
  void recorder_storesTheTscFirst_soAStopInsideARecordShowsInItsTsc() throws Exception {
    String source =
        """
        #define _GNU_SOURCE
        #include <signal.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/time.h>
        #include <time.h>
        #include <ucontext.h>
        #include "guesttrace.h"

        static void step_over_out(int sig, siginfo_t *info, void *context) {
          (void)sig; (void)info;
          ucontext_t *uc = (ucontext_t *)context;
          unsigned char *rip = (unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
          if (rip[0] != 0xEF) { signal(SIGSEGV, SIG_DFL); return; }
          uc->uc_mcontext.gregs[REG_RIP] += 1;
        }

        static unsigned char table[256] __attribute__((aligned(64)));
        static unsigned char region[64 + 256 * 32] __attribute__((aligned(64)));
        static struct gt_names names;
        static struct gt_tracer t;
        static volatile long stops, mid, broken;

        /* Stopped here, as a timeout stops a vCPU: the slot the unpublished record reuses either still
           holds the old record, or already has the new TSC (stored first). */
        static void on_alarm(int sig) {
          (void)sig;
          uint64_t ws = t.region->write_sequence;
          if (ws <= 256) return;
          const volatile uint64_t *p0 = (const volatile uint64_t *)(t.slots + ((ws & 255) << 5));
          const volatile uint64_t *p1 = (const volatile uint64_t *)(t.slots + (((ws + 1) & 255) << 5));
          uint64_t old = ws - 256;
          int tsc_new = p0[1] > p1[1];
          int other_new = (uint32_t)(p0[0] >> 32) != (uint32_t)((old / 256) % 2 + 1) || p0[2] != old;
          stops++;
          if (tsc_new) mid++;
          if (other_new && !tsc_new) broken++;
        }

        int main(void) {
          struct sigaction sa;
          memset(&sa, 0, sizeof sa);
          sa.sa_sigaction = step_over_out;
          sa.sa_flags = SA_SIGINFO;
          sigaction(SIGSEGV, &sa, 0);
          gt_names_init(&names, table, sizeof table);
          gt_tracer_register(&t, &names, (uint64_t)(uintptr_t)region, 256, GT_MODE_FLIGHT, 0);
          uint32_t even = gt_name(&t, "even"), odd = gt_name(&t, "odd");
          signal(SIGALRM, on_alarm);
          struct itimerval every = {{0, 20}, {0, 20}};
          setitimer(ITIMER_REAL, &every, 0);
          struct timespec start, now;
          clock_gettime(CLOCK_MONOTONIC, &start);
          for (uint64_t s = 0;; s++) {
            gt_counter(&t, (s / 256) % 2 ? odd : even, (int64_t)s);
            if ((s & 0xFFFF) == 0) {
              clock_gettime(CLOCK_MONOTONIC, &now);
              double secs = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
              if (secs > 2) break;
            }
          }
          struct itimerval off = {{0, 0}, {0, 0}};
          setitimer(ITIMER_REAL, &off, 0);
          printf("stops %ld mid %ld broken %ld\\n", stops, mid, broken);
          return 0;
        }
        """;
    List<String> out = compileAndRun("torn", source);

    assertThat(out).hasSize(1);
    String[] words = out.getFirst().split(" "); // stops N mid M broken B
    assertThat(Long.parseLong(words[1])).as("stops").isPositive();
    assertThat(Long.parseLong(words[3])).as("stops inside a record").isPositive();
    assertThat(Long.parseLong(words[5])).as("header or argument new, TSC old").isZero();
  }

  /** Zeroes the TSC field of every slot that is not a continuation (those carry text there). */
  private static void maskTimestamps(byte[] region) {
    for (int at = TraceRegionDescriptor.HEADER_LENGTH; at < region.length; at += 32) {
      if (region[at] != RecordKind.CONTINUATION) {
        java.util.Arrays.fill(region, at + 8, at + 16, (byte) 0);
      }
    }
  }

  private static byte[] golden(String file) throws IOException {
    try (var in = CHeaderTest.class.getResourceAsStream("/golden/abi-1.0.0/" + file)) {
      assertThat(in).as(file).isNotNull();
      return in.readAllBytes();
    }
  }
}
