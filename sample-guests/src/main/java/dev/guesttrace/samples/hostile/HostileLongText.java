package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.abi.TraceRecordDescriptor;
import dev.guesttrace.guest.GuestRuntime;

/**
 * Names and messages over their limits: a message whose length field says 65535 bytes (the limit is
 * 4096) followed by the continuation slots of a 4096-byte message; a message that says 200 bytes
 * but whose continuation slots are missing (a counter follows); and last a name-table entry whose
 * length prefix says 65535 bytes (the limit is 256). The host cuts the first message to the limit
 * ({@code message_too_long}), keeps the inline part of the second ({@code continuation_missing}),
 * stops reading the table at the bad entry ({@code name_too_long}), and keeps everything else.
 */
public final class HostileLongText extends HostileGuest {
  private int tick;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileLongText() {}

  @Override
  public String name() {
    return "hostile-long-text";
  }

  @Override
  public String summary() {
    return "Writes messages and a name longer than their limits, and a message cut short";
  }

  @Override
  void prepare(GuestRuntime runtime) {
    tick = runtime.tracer().name("tick");
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    int continuations = TraceRecordDescriptor.MESSAGE_MAX_CONTINUATIONS;
    long s = raw.reserve(1 + continuations + 1 + 1);
    raw.messageHead(
        s, 0xFFFF, "LLLLLLLLLLLLLLLL".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    for (int c = 1; c <= continuations; c++) {
      raw.continuation(s + c, (byte) 'L');
    }
    long cut = s + 1 + continuations;
    raw.messageHead(cut, 200, "cut short here..".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    raw.slot(
        cut + 1,
        TraceRecordDescriptor.header(RecordKind.COUNTER, 0, 0, tick),
        raw.cpu.rdtsc(),
        1,
        0);
    raw.appendName(0xFFFF, "much too long".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    raw.tracer.flush();
  }
}
