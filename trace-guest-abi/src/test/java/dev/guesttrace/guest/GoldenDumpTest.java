package dev.guesttrace.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Golden guest-memory dumps of ABI 1.0.0 (as HdrHistogram keeps its old log formats): for each
 * scenario, {@code NAME.region.bin} (the trace region), {@code NAME.names.bin} (the name table) and
 * {@code NAME.txt} (what {@link ReferenceReader} decodes from them) under {@code
 * src/test/resources/golden/abi-1.0.0/}.
 *
 * <p>Two checks per scenario: the committed dumps decode to the committed text (old traces stay
 * readable by a reader written from docs/abi.md), and today's writer produces the committed bytes
 * (the writer has not changed the ABI by accident).
 *
 * <p>To regenerate after an intended change (a new ABI version gets a new folder; never rewrite an
 * old one): {@code ./build -q -pl trace-guest-abi test -Dtest=GoldenDumpTest
 * -Dguesttrace.golden.write=src/test/resources/golden/abi-1.0.0}.
 */
class GoldenDumpTest {
  private static final String FOLDER = "/golden/abi-1.0.0/";
  private static final long TABLE = 0x10000;
  private static final int TABLE_LENGTH = 256;
  private static final long REGION = 0x11000;
  private static final int CAPACITY = 256;

  private record Scenario(String name, int mode, Consumer<Tracer> records) {}

  private static final List<Scenario> SCENARIOS =
      List.of(
          new Scenario("stream-basic", 0, GoldenDumpTest::basic),
          new Scenario("flight-wrapped", 1, GoldenDumpTest::wrapped));

  /** One of everything: nested spans with arguments, messages, alloc, free, counter. */
  private static void basic(Tracer t) {
    int main = t.name("main");
    int parse = t.name("parse");
    int size = t.name("gr\u00f6\u00dfe");
    t.begin(main, 1, 2);
    t.begin(parse);
    t.message("hello");
    t.message("caf\u00e9 \u20ac 12 \uD83D\uDE00 and a tail past sixteen bytes");
    t.alloc(0x20000, 64);
    t.counter(size, -5);
    t.free(0x20000, 64);
    t.end(parse);
    t.end(main);
  }

  /** A flight ring that wrapped with its oldest live slots in the middle of a message. */
  private static void wrapped(Tracer t) {
    int tick = t.name("tick");
    for (int i = 0; i < 254; i++) {
      t.counter(tick, i);
    }
    t.message("x".repeat(16) + "y".repeat(31) + "z".repeat(31) + "!"); // 4 slots: 254..257
    for (int i = 0; i < 126; i++) {
      t.begin(tick, i, 0); // 258..509
      t.end(tick);
    }
    t.counter(tick, 510); // writeSequence 511: the live slots are 255..510
  }

  private static TestCpu run(Scenario s) {
    TestCpu cpu = new TestCpu(0, 1 << 18);
    NameTableWriter names = new NameTableWriter(cpu.memory(), TABLE, TABLE_LENGTH);
    Tracer tracer = Tracer.register(cpu, names, REGION, CAPACITY, s.mode());
    s.records().accept(tracer);
    return cpu;
  }

  private static byte[] region(TestCpu cpu) {
    return cpu.memory().asSlice(REGION, 64 + CAPACITY * 32L).toArray(ValueLayout.JAVA_BYTE);
  }

  private static byte[] names(TestCpu cpu) {
    return cpu.memory().asSlice(TABLE, TABLE_LENGTH).toArray(ValueLayout.JAVA_BYTE);
  }

  /** The text a reader decodes from a region and name-table dump. */
  static String describe(String scenario, byte[] region, byte[] table) {
    ByteBuffer r = ByteBuffer.wrap(region);
    ReferenceReader.Header h = ReferenceReader.header(r);
    List<String> names = ReferenceReader.names(ByteBuffer.wrap(table));
    List<String> lines = new ArrayList<>();
    lines.add("# guesttrace golden dump, trace ABI 1.0.0, scenario " + scenario);
    lines.add(h.describe());
    StringBuilder n = new StringBuilder("names");
    for (int id = 1; id < names.size(); id++) {
      n.append(' ').append(id).append(':').append(names.get(id));
    }
    lines.add(n.toString());
    long end = h.writeSequence();
    long start = Math.max(0, end - h.capacity());
    lines.add("records from=" + start + " to=" + end);
    for (ReferenceReader.Record rec : ReferenceReader.decode(r, start, end, h.capacity())) {
      lines.add(ReferenceReader.format(rec, names));
    }
    return String.join("\n", lines) + "\n";
  }

  private static byte[] resource(String file) {
    try (InputStream in = GoldenDumpTest.class.getResourceAsStream(FOLDER + file)) {
      assertThat(in).as("golden file %s%s", FOLDER, file).isNotNull();
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void goldenDumps_decodeToTheirCommittedText() {
    for (Scenario s : SCENARIOS) {
      String expected = new String(resource(s.name() + ".txt"), StandardCharsets.UTF_8);
      String decoded =
          describe(s.name(), resource(s.name() + ".region.bin"), resource(s.name() + ".names.bin"));
      assertThat(decoded).as(s.name()).isEqualTo(expected);
    }
  }

  @Test
  void writer_producesTheCommittedBytes() {
    for (Scenario s : SCENARIOS) {
      TestCpu cpu = run(s);
      assertThat(region(cpu))
          .as(s.name() + " region")
          .isEqualTo(resource(s.name() + ".region.bin"));
      assertThat(names(cpu)).as(s.name() + " names").isEqualTo(resource(s.name() + ".names.bin"));
    }
  }

  @Test
  void goldenText_mentionsEveryRecordKindOfAbi1() {
    String text = new String(resource("stream-basic.txt"), StandardCharsets.UTF_8);
    assertThat(text)
        .contains(" span_begin ", " span_end ", " message ", " alloc ", " free ", " counter ");
    String wrapped = new String(resource("flight-wrapped.txt"), StandardCharsets.UTF_8);
    // The oldest three live slots are the message's continuations: skipped, not misread.
    assertThat(wrapped).contains("records from=255 to=511\nseq=258 ");
  }

  /** Writes the golden files; runs only when asked to (see the class comment). */
  @Test
  void writeGoldenFiles_whenRequested() throws IOException {
    String target = System.getProperty("guesttrace.golden.write");
    org.junit.jupiter.api.Assumptions.assumeTrue(
        target != null, "set -Dguesttrace.golden.write=DIR to regenerate the golden files");
    Path dir = Path.of(target);
    Files.createDirectories(dir);
    for (Scenario s : SCENARIOS) {
      TestCpu cpu = run(s);
      byte[] region = region(cpu);
      byte[] names = names(cpu);
      Files.write(dir.resolve(s.name() + ".region.bin"), region);
      Files.write(dir.resolve(s.name() + ".names.bin"), names);
      Files.writeString(dir.resolve(s.name() + ".txt"), describe(s.name(), region, names));
    }
  }
}
