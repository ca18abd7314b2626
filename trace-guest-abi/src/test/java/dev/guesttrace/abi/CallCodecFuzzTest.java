package dev.guesttrace.abi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.guesttrace.abi.CallCodec.CallFormatException;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The call codec against what a guest can put in a call buffer: random valid calls round-trip
 * exactly, and every mutation of one (flipped bits, random and boundary bytes, a lying length
 * prefix, lying string and byte lengths, truncation) reads as a call or a {@link
 * CallFormatException}, never another exception, never past the buffer.
 *
 * <p>CI runs {@value #DEFAULT_CASES} cases; {@code -Dguesttrace.fuzz.iterations=N} runs more and
 * {@code -Dguesttrace.fuzz.seed=S} starts elsewhere (docs/robustness.md).
 */
class CallCodecFuzzTest {
  static final int DEFAULT_CASES = 10_000;
  static final int BUFFER = 1024;

  @Test
  void randomCallsRoundTrip_mutatedCallsReadOrFailInOneLine() {
    int cases = Integer.getInteger("guesttrace.fuzz.iterations", DEFAULT_CASES);
    long seed0 = Long.getLong("guesttrace.fuzz.seed", 0);
    try (Arena arena = Arena.ofConfined()) {
      // The buffer sits at the end of its segment: a read past the limit would fault, not pass.
      MemorySegment memory = arena.allocate(BUFFER + 64);
      long at = 64;
      for (long seed = seed0; seed < seed0 + cases; seed++) {
        Random random = new Random(seed);
        FunctionCall call = randomCall(random);
        memory.fill((byte) 0);
        int written;
        try {
          written = CallCodec.writeCall(memory, at, BUFFER, call);
        } catch (CallFormatException e) {
          continue; // too large for the buffer: the writer says so
        }
        FunctionCall read = CallCodec.readCall(memory, at, BUFFER);
        assertThat(read.name()).as("seed %d", seed).isEqualTo(call.name());
        assertThat(read.args()).as("seed %d", seed).hasSize(call.args().size());
        for (int i = 0; i < call.args().size(); i++) {
          Object a = call.args().get(i);
          Object b = read.args().get(i);
          if (a instanceof byte[] x) {
            assertThat((byte[]) b).as("seed %d", seed).isEqualTo(x);
          } else {
            assertThat(b).as("seed %d", seed).isEqualTo(a);
          }
        }
        mutate(memory, at, written, random);
        try {
          FunctionCall m = CallCodec.readCall(memory, at, BUFFER);
          assertThat(m.args().size()).isLessThanOrEqualTo(CallCodec.MAX_ARGS);
        } catch (CallFormatException e) {
          assertThat(e.getMessage()).as("seed %d", seed).doesNotContain("\n");
        } catch (RuntimeException e) {
          fail("seed " + seed + ": " + e, e);
        }
        try {
          CallCodec.readValue(memory, at, BUFFER);
        } catch (CallFormatException e) {
          assertThat(e.getMessage()).doesNotContain("\n");
        } catch (RuntimeException e) {
          fail("seed " + seed + " (value): " + e, e);
        }
      }
    }
  }

  private static FunctionCall randomCall(Random random) {
    int nameLength = random.nextInt(8) == 0 ? random.nextInt(300) : 1 + random.nextInt(20);
    StringBuilder name = new StringBuilder();
    for (int i = 0; i < nameLength; i++) {
      name.append(
          random.nextInt(10) == 0 ? (char) (0x80 + random.nextInt(0x700)) : (char) ('a' + i % 26));
    }
    int argCount = random.nextInt(6) == 0 ? random.nextInt(40) : random.nextInt(5);
    List<Object> args = new ArrayList<>();
    for (int i = 0; i < argCount; i++) {
      args.add(
          switch (random.nextInt(3)) {
            case 0 -> random.nextLong();
            case 1 -> "s".repeat(random.nextInt(random.nextInt(5) == 0 ? 600 : 20));
            default -> {
              byte[] b = new byte[random.nextInt(random.nextInt(5) == 0 ? 600 : 20)];
              random.nextBytes(b);
              yield b;
            }
          });
    }
    return new FunctionCall(name.toString(), args);
  }

  /** One to three of: a flipped bit, a random or boundary byte, a lying u32, a cut length. */
  private static void mutate(MemorySegment m, long at, int written, Random random) {
    int n = 1 + random.nextInt(3);
    for (int k = 0; k < n; k++) {
      long p = at + random.nextInt(Math.max(1, written));
      switch (random.nextInt(5)) {
        case 0 ->
            m.set(
                ValueLayout.JAVA_BYTE,
                p,
                (byte) (m.get(ValueLayout.JAVA_BYTE, p) ^ 1 << random.nextInt(8)));
        case 1 -> m.set(ValueLayout.JAVA_BYTE, p, (byte) random.nextInt(256));
        case 2 -> {
          int[] boundary = {0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, -1, BUFFER, BUFFER - 4};
          if (p + 4 <= at + BUFFER) {
            m.set(ValueLayout.JAVA_INT_UNALIGNED, p, boundary[random.nextInt(boundary.length)]);
          }
        }
        case 3 -> // the length prefix
            m.set(ValueLayout.JAVA_INT_UNALIGNED, at, random.nextInt(BUFFER + 16) - 8);
        default -> { // cut: the rest zeroed
          byte[] zeros = new byte[(int) (at + BUFFER - p)];
          Arrays.fill(zeros, (byte) 0);
          MemorySegment.copy(zeros, 0, m, ValueLayout.JAVA_BYTE, p, zeros.length);
        }
      }
    }
  }
}
