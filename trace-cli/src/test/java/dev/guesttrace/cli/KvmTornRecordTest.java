package dev.guesttrace.cli;

import static dev.guesttrace.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.abi.TraceRegionDescriptor;
import dev.guesttrace.collect.Diagnostics;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.vm.kvm.KvmBackend;
import dev.guesttrace.vm.kvm.KvmGuests;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The C recorder on KVM, stopped by the timeout in a wrapped flight ring (docs/abi.md, "A record
 * cut short"): {@code runaway}'s loop is almost all record code, so about half the stops land
 * inside a record. Each run's memory dump says what the guest left in the slot the unpublished
 * record reuses; the trace must agree: that slot dropped and counted exactly when it holds a TSC
 * later than the last published record's, else every slot kept. Skipped, saying why, without
 * /dev/kvm.
 */
class KvmTornRecordTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsKvm() {
    String reason = new KvmBackend().unavailableReason().orElse(null);
    assumeTrue(reason == null, "skipped: " + reason);
    assumeTrue(KvmGuests.find("runaway").isPresent(), "skipped: no native build of runaway");
  }

  @Test
  void flightRingStoppedByTheTimeout_theTraceDropsExactlyWhatTheGuestLeftHalfWritten()
      throws Exception {
    int torn = 0;
    int wrapped = 0;
    for (int i = 0; i < 4; i++) {
      Path file = dir.resolve("r" + i + ".gtrace");
      Path dump = dir.resolve("r" + i + ".bin");
      CliTest.Outcome o =
          run(
              "run",
              "runaway",
              "--backend",
              "kvm",
              "--mode",
              "flight",
              "--timeout",
              "500ms",
              "--quiet",
              "-o",
              file.toString(),
              "--dump-memory",
              dump.toString());
      assertThat(o.status()).as(o.err()).isEqualTo(1);
      if (o.err().contains("during boot")) {
        continue; // a loaded machine: the boot itself ran past 500 ms, no ring was registered
      }

      Ring ring = ring(Files.readAllBytes(dump));
      TraceData data = TraceFileReader.read(file, w -> {});
      long dropped =
          data.diagnostics().stream()
              .filter(d -> d.kind().equals(Diagnostics.FLIGHT_RECORD_TORN))
              .count();
      if (ring.written() < ring.capacity()) {
        // A loaded machine gave the guest too little time to fill its ring: no slot was reused,
        // nothing to drop. (From one ring-full on, the next record reuses the oldest slot.)
        assertThat(dropped).as("run %d", i).isZero();
        continue;
      }
      wrapped++;
      assertThat(dropped).as("run %d", i).isEqualTo(ring.reusedSlotNew() ? 1 : 0);
      // The call's records: one ring, less the slot the unpublished record had written.
      assertThat(callRecords(data))
          .as("run %d", i)
          .isEqualTo(ring.capacity() - (ring.reusedSlotNew() ? 1 : 0));
      torn += ring.reusedSlotNew() ? 1 : 0;
    }
    assumeTrue(wrapped > 0, "skipped: the guest never wrapped its ring in 500 ms (machine loaded)");
    System.out.println(
        "KvmTornRecordTest: "
            + torn
            + " of "
            + wrapped
            + " stops in a wrapped ring inside a record");
  }

  /** Records of the call (its "spin" and "tick" spans), not the boot's. */
  private static long callRecords(TraceData data) {
    var r = data.records(0);
    long n = 0;
    for (int i = 0; i < r.size(); i++) {
      String name = r.name(r.nameId(i));
      n += "spin".equals(name) || "tick".equals(name) ? 1 : 0;
    }
    return n;
  }

  /**
   * The flight ring of a dump: its capacity, write sequence, and whether the reused slot is new.
   */
  private record Ring(int capacity, long written, boolean reusedSlotNew) {}

  /**
   * In the dump's trace region: whether the slot of {@code writeSequence} (the one the next record
   * reuses) holds a TSC later than the last published record's.
   */
  private static Ring ring(byte[] memory) {
    ByteBuffer b = ByteBuffer.wrap(memory).order(ByteOrder.LITTLE_ENDIAN);
    for (int at = 0; at + 64 <= memory.length; at += 8) {
      if (b.getInt(at) != TraceRegionDescriptor.MAGIC
          || b.getInt(at + TraceRegionDescriptor.MODE_OFFSET)
              != TraceRegionDescriptor.MODE_FLIGHT) {
        continue;
      }
      int capacity = b.getInt(at + TraceRegionDescriptor.CAPACITY_OFFSET);
      long written = b.getLong(at + TraceRegionDescriptor.WRITE_SEQUENCE_OFFSET);
      int slots = at + TraceRegionDescriptor.HEADER_LENGTH;
      long reusedTsc = b.getLong(slots + (int) (written & (capacity - 1)) * 32 + 8);
      long lastTsc = b.getLong(slots + (int) ((written - 1) & (capacity - 1)) * 32 + 8);
      return new Ring(capacity, written, Long.compareUnsigned(reusedTsc, lastTsc) > 0);
    }
    throw new AssertionError("no flight trace region in the dump");
  }
}
