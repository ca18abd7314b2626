package dev.guesttrace.abi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.CallCodec.CallFormatException;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CallCodecTest {
  private static final int BUFFER = 16 * 1024;

  private final MemorySegment memory = Arena.ofAuto().allocate(64 * 1024);

  /** A segment holding exactly {@code bytes}: any read outside them throws. */
  private static MemorySegment exactly(byte[] bytes) {
    return MemorySegment.ofArray(bytes.clone());
  }

  /** A raw message: u32 length prefix (of the rest) then the bytes given by {@code body}. */
  private static byte[] message(ByteBuffer body) {
    body.flip();
    ByteBuffer out = ByteBuffer.allocate(4 + body.remaining()).order(ByteOrder.LITTLE_ENDIAN);
    out.putInt(body.remaining()).put(body);
    return out.array();
  }

  private static ByteBuffer body() {
    return ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static FunctionCall readCall(byte[] message) {
    return CallCodec.readCall(exactly(message), 0, message.length);
  }

  private static Object readValue(byte[] message) {
    return CallCodec.readValue(exactly(message), 0, message.length);
  }

  @Test
  void call_roundTripsEveryValueType() {
    FunctionCall call =
        new FunctionCall(
            "print\u00e9\uD83D\uDE00",
            List.of(
                42L,
                Long.MIN_VALUE,
                "",
                "h\u00e9llo \u20ac",
                new byte[0],
                new byte[] {0, (byte) 0xFF, 7}));

    int written = CallCodec.writeCall(memory, 100, BUFFER, call);
    FunctionCall read = CallCodec.readCall(memory, 100, BUFFER);

    assertThat(read.name()).isEqualTo(call.name());
    assertThat(read.args()).hasSize(6);
    assertThat(read.args().subList(0, 4)).isEqualTo(call.args().subList(0, 4));
    assertThat((byte[]) read.args().get(4)).isEmpty();
    assertThat((byte[]) read.args().get(5)).containsExactly(0, 0xFF, 7);
    // prefix 4, name 2 + 11, count 2, longs 2 * (1 + 8), strings (1 + 4) and (1 + 4 + 10),
    // byte arrays (1 + 4) and (1 + 4 + 3)
    assertThat(written).isEqualTo(4 + 2 + 11 + 2 + 18 + 5 + 15 + 5 + 8);
    assertThat(memory.get(ValueLayout.JAVA_INT_UNALIGNED, 100)).isEqualTo(written - 4);
  }

  @Test
  void call_limitsRoundTrip() {
    List<Object> args = new ArrayList<>(Collections.nCopies(CallCodec.MAX_ARGS, (Object) 1L));
    FunctionCall call = new FunctionCall("n".repeat(CallCodec.NAME_MAX_BYTES), args);

    CallCodec.writeCall(memory, 0, BUFFER, call);

    assertThat(CallCodec.readCall(memory, 0, BUFFER)).isEqualTo(call);
  }

  @Test
  void value_roundTripsEachType() {
    for (Object v : new Object[] {null, 0L, -1L, "", "\u6e2c\u5b9a"}) {
      CallCodec.writeValue(memory, 8, 64, v);
      assertThat(CallCodec.readValue(memory, 8, 64)).isEqualTo(v);
    }
    CallCodec.writeValue(memory, 8, 64, new byte[] {1, 2, 3});
    assertThat((byte[]) CallCodec.readValue(memory, 8, 64)).containsExactly(1, 2, 3);
  }

  @Test
  void writeCall_tooLargeOrNotFitting_throws() {
    assertThatThrownBy(
            () ->
                CallCodec.writeCall(
                    memory, 0, BUFFER, new FunctionCall("n".repeat(257), List.of())))
        .isInstanceOf(CallFormatException.class)
        .hasMessage("call too large: nameBytes=257 args=0");
    List<Object> tooMany = new ArrayList<>(Collections.nCopies(33, (Object) 1L));
    assertThatThrownBy(() -> CallCodec.writeCall(memory, 0, BUFFER, new FunctionCall("f", tooMany)))
        .hasMessage("call too large: nameBytes=1 args=33");
    assertThatThrownBy(
            () ->
                CallCodec.writeCall(memory, 0, 16, new FunctionCall("f", List.of("x".repeat(20)))))
        .isInstanceOf(CallFormatException.class)
        .hasMessageStartingWith("call does not fit its buffer");
    assertThatThrownBy(() -> CallCodec.writeValue(memory, 0, 3, null))
        .isInstanceOf(CallFormatException.class);
  }

  @Test
  void functionCall_rejectsUnsupportedArgumentTypes() {
    assertThatThrownBy(() -> new FunctionCall("f", List.of(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("unsupported argument type: java.lang.Integer");
  }

  @Test
  void functionCall_typedAccessorsFallBack() {
    FunctionCall call = new FunctionCall("f", List.of(5L, "s"));

    assertThat(call.longArg(0, -1)).isEqualTo(5);
    assertThat(call.longArg(1, -1)).isEqualTo(-1);
    assertThat(call.longArg(9, -1)).isEqualTo(-1);
    assertThat(call.stringArg(1, "x")).isEqualTo("s");
    assertThat(call.stringArg(0, "x")).isEqualTo("x");
  }

  @Test
  void read_bufferOutsideMemory_rejected() {
    MemorySegment small = MemorySegment.ofArray(new byte[64]);

    assertThatThrownBy(() -> CallCodec.readCall(small, 0, 65))
        .isInstanceOf(CallFormatException.class)
        .hasMessage("call buffer outside guest memory: offset=0");
    assertThatThrownBy(() -> CallCodec.readCall(small, -4, 8))
        .hasMessage("call buffer outside guest memory: offset=-4");
    assertThatThrownBy(() -> CallCodec.readCall(small, 62, 4))
        .hasMessage("call buffer outside guest memory: offset=62");
    assertThatThrownBy(() -> CallCodec.readValue(small, 0, 3))
        .hasMessage("call buffer outside guest memory: offset=0");
  }

  @Test
  void read_lengthPrefixLongerThanBuffer_rejected() {
    byte[] m = {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0, 0};

    assertThatThrownBy(() -> readCall(m))
        .isInstanceOf(CallFormatException.class)
        .hasMessage(
            "call message longer than its buffer: expected at most 2 bytes, found 4294967295");
  }

  @Test
  void read_nameLengthChecked() {
    assertThatThrownBy(() -> readCall(message(body().putShort((short) 257))))
        .hasMessage("function name too long: expected at most 256 bytes, found 257");
    assertThatThrownBy(() -> readCall(message(body().putShort((short) 5).put((byte) 'a'))))
        .hasMessage("call message cut short: expected 5 bytes of text, found 1");
    assertThatThrownBy(() -> readCall(message(body().put((byte) 1))))
        .hasMessage("call message cut short: expected 2 bytes of length, found 1");
  }

  @Test
  void read_nameNotUtf8_rejected() {
    byte[] m =
        message(body().putShort((short) 2).put((byte) 0xC3).put((byte) 0x28).putShort((short) 0));

    assertThatThrownBy(() -> readCall(m)).hasMessage("call text is not valid UTF-8");
  }

  @Test
  void read_argCountChecked() {
    assertThatThrownBy(
            () ->
                readCall(message(body().putShort((short) 1).put((byte) 'f').putShort((short) 33))))
        .hasMessage("too many arguments: expected at most 32, found 33");
    assertThatThrownBy(
            () ->
                readCall(
                    message(
                        body()
                            .putShort((short) 1)
                            .put((byte) 'f')
                            .putShort((short) 2)
                            .put((byte) 1)
                            .putLong(9))))
        .hasMessage("call message cut short: expected 1 bytes of type, found 0");
    assertThatThrownBy(() -> readCall(message(body().putShort((short) 1).put((byte) 'f'))))
        .hasMessage("call message cut short: expected 2 bytes of length, found 0");
  }

  @Test
  void read_voidArgument_rejected() {
    assertThatThrownBy(
            () ->
                readCall(
                    message(
                        body()
                            .putShort((short) 1)
                            .put((byte) 'f')
                            .putShort((short) 1)
                            .put((byte) 0))))
        .hasMessage("argument 0 is void");
  }

  @Test
  void read_valueLengthsChecked() {
    assertThatThrownBy(() -> readValue(message(body().put((byte) 1).putInt(7))))
        .hasMessage("call message cut short: expected 8 bytes of long, found 4");
    assertThatThrownBy(() -> readValue(message(body().put((byte) 2).putShort((short) 1))))
        .hasMessage("call message cut short: expected 4 bytes of length, found 2");
    assertThatThrownBy(() -> readValue(message(body().put((byte) 2).putInt(10).put((byte) 'x'))))
        .hasMessage("call message cut short: expected 10 bytes of text, found 1");
    assertThatThrownBy(() -> readValue(message(body().put((byte) 3).putInt(-1))))
        .hasMessage("call message cut short: expected 4294967295 bytes of bytes, found 0");
    assertThatThrownBy(() -> readValue(message(body().put((byte) 9))))
        .hasMessage("unknown value type: expected 0..3, found 9");
    assertThatThrownBy(() -> readValue(message(body())))
        .hasMessage("call message cut short: expected 1 bytes of type, found 0");
    assertThatThrownBy(() -> readValue(message(body().put((byte) 2).putInt(1).put((byte) 0xFF))))
        .hasMessage("call text is not valid UTF-8");
  }

  @Test
  void read_ignoresBytesBeyondTheLengthPrefix() {
    byte[] m = message(body().put((byte) 1).putLong(77));
    byte[] padded = new byte[m.length + 8];
    System.arraycopy(m, 0, padded, 0, m.length);
    padded[m.length] = 9; // not part of the message

    assertThat(CallCodec.readValue(exactly(padded), 0, padded.length)).isEqualTo(77L);
  }

  /**
   * Mutates valid messages at random (seeded, so a failure reproduces) and decodes them within a
   * segment of exactly the buffer's size: each must decode or fail with a {@link
   * CallFormatException}, never another exception, never a read outside the buffer.
   */
  @Test
  void read_fuzzedMessages_failOnlyWithCallFormatException() {
    Random random = new Random(0x6775_6573_7474L);
    List<byte[]> seeds = new ArrayList<>();
    MemorySegment scratch = Arena.ofAuto().allocate(4096);
    Object[][] argSets = {
      {},
      {1L, "two", new byte[] {3}},
      {"\u00e9\u20ac\uD83D\uDE00", Long.MAX_VALUE},
      {new byte[40], "", 0L, "x".repeat(30)}
    };
    for (Object[] args : argSets) {
      int n = CallCodec.writeCall(scratch, 0, 4096, new FunctionCall("fn_\u00e9", List.of(args)));
      seeds.add(scratch.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
    }
    for (Object v : new Object[] {null, 5L, "text", new byte[] {1, 2}}) {
      int n = CallCodec.writeValue(scratch, 0, 4096, v);
      seeds.add(scratch.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
    }

    int decoded = 0;
    int rejected = 0;
    for (int iteration = 0; iteration < 5000; iteration++) {
      byte[] m = seeds.get(random.nextInt(seeds.size())).clone();
      int mutations = 1 + random.nextInt(4);
      for (int k = 0; k < mutations; k++) {
        int at = random.nextInt(m.length);
        switch (random.nextInt(5)) {
          case 0 -> m[at] = (byte) random.nextInt(256);
          case 1 -> m[at] ^= (byte) (1 << random.nextInt(8));
          case 2 -> m[at] = (byte) (random.nextBoolean() ? 0xFF : 0x00);
          case 3 -> m = java.util.Arrays.copyOf(m, Math.max(4, at)); // truncate
          default -> {
            // A length field set large: u16 at a random place, or the u32 prefix.
            int where = random.nextBoolean() ? 0 : Math.min(at, m.length - 2);
            m[where] = (byte) 0xFF;
            m[where + 1] = (byte) 0x7F;
          }
        }
      }
      boolean asCall = random.nextBoolean();
      byte[] input = m;
      try {
        if (asCall) {
          readCall(input);
        } else {
          readValue(input);
        }
        decoded++;
      } catch (CallFormatException e) {
        assertThat(e.getMessage()).doesNotContain("\n").isNotBlank();
        rejected++;
      } catch (RuntimeException | Error e) {
        throw new AssertionError(
            "iteration "
                + iteration
                + " threw "
                + e
                + " for "
                + java.util.HexFormat.of().formatHex(input),
            e);
      }
    }
    // Both outcomes must occur, or the mutator is not exercising anything.
    assertThat(decoded).isPositive();
    assertThat(rejected).isPositive();
  }

  @Test
  void readCall_stringArgumentText_decodesUtf8() {
    byte[] name = "f".getBytes(StandardCharsets.UTF_8);
    byte[] text = "\u00e9".getBytes(StandardCharsets.UTF_8);
    byte[] m =
        message(
            body()
                .putShort((short) name.length)
                .put(name)
                .putShort((short) 1)
                .put((byte) 2)
                .putInt(text.length)
                .put(text));

    assertThat(readCall(m)).isEqualTo(new FunctionCall("f", List.of("\u00e9")));
  }
}
