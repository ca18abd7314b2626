package dev.guesttrace.file;

import static dev.guesttrace.file.TraceFileFormat.HAS_ARG0;
import static dev.guesttrace.file.TraceFileFormat.HAS_ARG1;
import static dev.guesttrace.file.TraceFileFormat.HAS_NAME;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.collect.RecordBatch;
import dev.guesttrace.file.proto.Chunk;
import dev.guesttrace.file.proto.Records;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link RecordsChunkEncoder} against protobuf's own encoder: the chunk the generated builders make
 * of the same batch (the writer's encoding before the hand encoder, kept here as the reference),
 * framed by {@link TraceFileFormat#frame}, must be the same bytes, for random batches that reach
 * every branch of the wire format (zero and non-zero vCPU, name ids, arguments, first TSC and
 * records-before; negative and huge deltas; messages empty, ASCII, multi-byte, long).
 */
class RecordsChunkEncoderTest {
  private static final int[] KINDS = {
    RecordKind.SPAN_BEGIN,
    RecordKind.SPAN_END,
    RecordKind.MESSAGE,
    RecordKind.ALLOC,
    RecordKind.FREE
  };

  @Test
  void randomBatches_sameBytesAsProtobuf() {
    SplittableRandom random = new SplittableRandom(0x6E7C0DE5L);
    RecordsChunkEncoder encoder = new RecordsChunkEncoder(); // reused, as the writer reuses it
    for (int round = 0; round < 2_000; round++) {
      int capacity = 1 + random.nextInt(round % 10 == 0 ? 5_000 : 40);
      RecordBatch batch = randomBatch(random, capacity);
      long recordsBefore =
          switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> random.nextInt(300);
            case 2 -> random.nextLong(1L << 40);
            default -> -1L; // uint64 max: ten varint bytes
          };
      encoder.encode(batch, recordsBefore);
      byte[] expected = reference(batch, recordsBefore);
      assertThat(Arrays.copyOf(encoder.frameBytes(), encoder.frameLength()))
          .as("round %d: %d records, vCPU %d", round, batch.size(), batch.vcpu())
          .isEqualTo(expected);
      assertThat(TraceFileFormat.checks(expected, expected.length)).isTrue();
    }
  }

  @Test
  void varintLength_matchesProtobuf() {
    long[] values = {0, 1, 127, 128, 16_383, 16_384, 1L << 35, Long.MAX_VALUE, -1L, Long.MIN_VALUE};
    for (long v : values) {
      assertThat(RecordsChunkEncoder.varintLength(v))
          .as("%d", v)
          .isEqualTo(com.google.protobuf.CodedOutputStream.computeUInt64SizeNoTag(v));
    }
  }

  private static RecordBatch randomBatch(SplittableRandom random, int capacity) {
    RecordBatch batch = new RecordBatch(capacity);
    int vcpu =
        random.nextInt(3) == 0
            ? 0
            : random.nextInt(3) == 0 ? Integer.MAX_VALUE : 1 + random.nextInt(64);
    batch.reset(vcpu);
    int n = 1 + random.nextInt(capacity);
    long tsc = random.nextInt(4) == 0 ? 0 : random.nextLong();
    for (int i = 0; i < n; i++) {
      switch (random.nextInt(5)) {
        case 0 -> tsc += random.nextInt(100);
        case 1 -> tsc -= random.nextInt(1_000_000); // time going backwards: negative deltas
        case 2 -> tsc = random.nextLong(); // anything, wrapping deltas
        default -> tsc += random.nextInt(10_000);
      }
      int kind = KINDS[random.nextInt(KINDS.length)];
      if (kind == RecordKind.MESSAGE) {
        batch.addMessage(tsc, randomText(random));
      } else {
        int nameId =
            random.nextBoolean() ? 0 : random.nextInt(3) == 0 ? -1 : 1 + random.nextInt(500);
        batch.add(kind, nameId, tsc, randomArg(random), randomArg(random));
      }
    }
    return batch;
  }

  private static long randomArg(SplittableRandom random) {
    return switch (random.nextInt(5)) {
      case 0, 1 -> 0;
      case 2 -> random.nextInt(1_000);
      case 3 -> -random.nextInt(1_000);
      default -> random.nextLong();
    };
  }

  private static String randomText(SplittableRandom random) {
    return switch (random.nextInt(5)) {
      case 0 -> "";
      case 1 -> "hello from the guest";
      case 2 -> "µs, ünïcode, 漢字 and 🙂";
      case 3 -> "x".repeat(random.nextInt(4_097));
      default -> Long.toString(random.nextLong());
    };
  }

  /** The chunk as protobuf's generated builders encode it. */
  private static byte[] reference(RecordBatch batch, long recordsBefore) {
    int n = batch.size();
    byte[] flags = new byte[n];
    Records.Builder b = Records.newBuilder().setVcpu(batch.vcpu()).setFirstTsc(batch.tscTicks(0));
    long previous = batch.tscTicks(0);
    for (int i = 0; i < n; i++) {
      int kind = batch.kind(i);
      int f = kind;
      if (i > 0) {
        b.addTscDeltas(batch.tscTicks(i) - previous);
        previous = batch.tscTicks(i);
      }
      if (kind == RecordKind.MESSAGE) {
        b.addMessages(batch.message(i));
      } else {
        if (batch.nameId(i) != 0) {
          f |= HAS_NAME;
          b.addNameIds(batch.nameId(i));
        }
        if (batch.arg0(i) != 0) {
          f |= HAS_ARG0;
          b.addArgs(batch.arg0(i));
        }
        if (batch.arg1(i) != 0) {
          f |= HAS_ARG1;
          b.addArgs(batch.arg1(i));
        }
      }
      flags[i] = (byte) f;
    }
    b.setFlags(ByteString.copyFrom(flags)).setRecordsBefore(recordsBefore);
    return TraceFileFormat.frame(Chunk.newBuilder().setRecords(b).build());
  }
}
