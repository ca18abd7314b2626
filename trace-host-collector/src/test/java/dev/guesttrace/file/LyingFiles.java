package dev.guesttrace.file;

import dev.guesttrace.file.proto.Chunk;
import dev.guesttrace.file.proto.Header;
import dev.guesttrace.file.proto.HostSpan;
import dev.guesttrace.file.proto.HostSpans;
import dev.guesttrace.file.proto.Name;
import dev.guesttrace.file.proto.Names;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Trace files built on purpose, chunk by chunk with the .proto messages, the way an attacker would:
 * headers that claim thousands of vCPUs, name ids at the top of the range, storms of host spans.
 * Framed as format 1.0 (length, chunk), which every reader must keep reading.
 */
public final class LyingFiles {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  private LyingFiles() {
    out.writeBytes(new byte[] {'G', 'T', 'R', 'A', 'C', 'E', 1, 0});
  }

  /** A file with a header claiming {@code vcpus} vCPUs. */
  public static LyingFiles withHeader(int vcpus) {
    LyingFiles f = new LyingFiles();
    f.chunk(
        Chunk.newBuilder()
            .setHeader(
                Header.newBuilder()
                    .setGuest("liar")
                    .setBackend("emulated")
                    .setVcpuCount(vcpus)
                    .setMode("stream")
                    .setStartMonotonicNanos(1_000_000)
                    .setHostName("host")
                    .setHostAbiVersion("1.0.0"))
            .build());
    return f;
  }

  /** One name chunk: name {@code id} on every vCPU in {@code 0..vcpus-1}. */
  public LyingFiles nameOnEveryVcpu(int vcpus, int id) {
    Names.Builder names = Names.newBuilder();
    for (int v = 0; v < vcpus; v++) {
      names.addNames(Name.newBuilder().setVcpu(v).setId(id).setName("n"));
    }
    return chunk(Chunk.newBuilder().setNames(names).build());
  }

  /** Host spans in chunks of 1000: {@code count} spans spread over vCPUs {@code 0..vcpus-1}. */
  public LyingFiles hostSpans(int count, int vcpus) {
    HostSpans.Builder spans = HostSpans.newBuilder();
    for (int i = 0; i < count; i++) {
      spans.addSpans(
          HostSpan.newBuilder()
              .setVcpu(i % vcpus)
              .setKind(HostSpan.Kind.HOST_CALL)
              .setName("HostPrint")
              .setStartHostNanos(1_000_000 + i)
              .setEndHostNanos(1_000_000 + i + 1));
      if (spans.getSpansCount() == 1000 || i == count - 1) {
        chunk(Chunk.newBuilder().setHostSpans(spans).build());
        spans = HostSpans.newBuilder();
      }
    }
    return this;
  }

  /** Appends one chunk, length-prefixed. */
  public LyingFiles chunk(Chunk c) {
    try {
      c.writeDelimitedTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return this;
  }

  /** The file's bytes. */
  public byte[] bytes() {
    return out.toByteArray();
  }
}
