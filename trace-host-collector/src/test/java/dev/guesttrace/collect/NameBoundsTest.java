package dev.guesttrace.collect;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.abi.ExitPorts;
import dev.guesttrace.abi.NameTableDescriptor;
import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.guest.NameTableWriter;
import dev.guesttrace.guest.Tracer;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Names are input too: a guest that registers again and again, each time naming a new name table
 * full of names, must not grow the host (nor the trace file) without end. The collector reads at
 * most {@link RegionRegistrar#MAX_NAME_TABLES} tables and {@link RegionRegistrar#MAX_NAMES_PER_RUN}
 * names per run, and says so ({@code names_capped}).
 */
class NameBoundsTest {
  private static final long TABLES_ADDRESS = 1 << 20;

  /** Counts the names the collector hands on. */
  private static final class NameCounter extends TraceSinks.Adapter {
    final AtomicLong names = new AtomicLong();

    @Override
    public void onName(int vcpu, int nameId, String name) {
      names.incrementAndGet();
    }
  }

  /**
   * Formats a table of {@code count} empty names at {@code address} (each entry is 4 zero bytes, so
   * only the header is written), registers vCPU 0's ring naming it, and flushes one record. Rings
   * alternate between two places: the host drains the previous ring at a registration, and a guest
   * that formats the very region it registers again would make that one's sequence go back.
   */
  private static void registerWithTable(
      FakeGuest g, FakeGuest.Cpu cpu, int i, long address, int count) {
    NameTableWriter table =
        new NameTableWriter(g.memory, address, NameTableDescriptor.HEADER_LENGTH + 4 * count);
    NameTableDescriptor.NAME_COUNT_HANDLE.set(g.memory, address, count);
    NameTableDescriptor.USED_LENGTH_HANDLE.set(g.memory, address, 4 * count);
    Tracer t =
        Tracer.register(
            cpu,
            table,
            FakeGuest.REGIONS_ADDRESS + (i % 2) * 0x4000L,
            256,
            TraceRegionDescriptor.MODE_STREAM);
    assertThat(t.registerStatus()).isEqualTo(ExitPorts.REGISTER_ACCEPTED);
    t.counter(0, 1);
    t.flush();
  }

  @Test
  void tablesFullOfNames_theRunReadsAtMostItsLimitAndSaysSo() {
    NameCounter counter = new NameCounter();
    FakeGuest g =
        new FakeGuest(
            TraceDataTest.header(1),
            TraceCollector.DEFAULT_MAX_RECORDS,
            counter,
            b -> b,
            16L << 20);
    FakeGuest.Cpu cpu = g.cpu(0);
    int full = NameTableDescriptor.MAX_NAMES;
    long stride = NameTableDescriptor.HEADER_LENGTH + 4L * full;
    int tables = RegionRegistrar.MAX_NAMES_PER_RUN / full + 1; // 17: one table more than the limit

    for (int i = 0; i < tables; i++) {
      registerWithTable(g, cpu, i, TABLES_ADDRESS + i * stride, full);
    }
    TraceData data = g.finish();

    assertThat(counter.names.get()).isEqualTo(RegionRegistrar.MAX_NAMES_PER_RUN);
    assertThat(data.records(0).size()).isEqualTo(tables);
    assertThat(data.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.NAMES_CAPPED,
                0,
                1,
                "names beyond the run's limit of 1048576 not read: name table at 0x"
                    + Long.toHexString(TABLES_ADDRESS + (tables - 1) * stride)
                    + " from id 1"));
  }

  @Test
  void everRegisteringWithANewTable_atMostTheTableLimitIsRead() {
    NameCounter counter = new NameCounter();
    FakeGuest g =
        new FakeGuest(TraceDataTest.header(1), TraceCollector.DEFAULT_MAX_RECORDS, counter, b -> b);
    FakeGuest.Cpu cpu = g.cpu(0);
    int tables = RegionRegistrar.MAX_NAME_TABLES + 10;

    for (int i = 0; i < tables; i++) {
      registerWithTable(g, cpu, i, TABLES_ADDRESS + i * 64L, 2);
    }
    TraceData data = g.finish();

    assertThat(counter.names.get()).isEqualTo(2L * RegionRegistrar.MAX_NAME_TABLES);
    assertThat(data.records(0).size()).isEqualTo(tables);
    assertThat(data.diagnostics())
        .containsExactly(
            new Diagnostic(
                Diagnostics.NAMES_CAPPED,
                0,
                10,
                "more name tables than a run reads (limit 256): the ring is read without names:"
                    + " nameTableAddress=0x"
                    + Long.toHexString(TABLES_ADDRESS + RegionRegistrar.MAX_NAME_TABLES * 64L)));
  }
}
