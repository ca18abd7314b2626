package dev.guesttrace.samples.hostile;

import dev.guesttrace.abi.RecordKind;
import dev.guesttrace.guest.GuestRuntime;

/**
 * Bytes that are not UTF-8, in a name and in a message: appends a name-table entry {@code
 * "bad\xC3(\xFF"} and writes a span under it, and a message {@code "msg\xE2\x82"} (a cut three-byte
 * sequence). The host replaces the bad bytes with U+FFFD, counts each text once ({@code bad_utf8},
 * twice), and keeps the records.
 */
public final class HostileBadUtf8 extends HostileGuest {
  /** The name's bytes. */
  static final byte[] BAD_NAME = {'b', 'a', 'd', (byte) 0xC3, '(', (byte) 0xFF};

  /** The message's bytes. */
  static final byte[] BAD_MESSAGE = {'m', 's', 'g', (byte) 0xE2, (byte) 0x82};

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public HostileBadUtf8() {}

  @Override
  public String name() {
    return "hostile-bad-utf8";
  }

  @Override
  public String summary() {
    return "Writes a name and a message whose bytes are not valid UTF-8";
  }

  @Override
  void misbehave(GuestRuntime runtime) {
    RawRing raw = new RawRing(runtime);
    int id = raw.appendName(BAD_NAME.length, BAD_NAME);
    long s = raw.reserve(3);
    raw.record(s, RecordKind.SPAN_BEGIN, id);
    raw.messageHead(s + 1, BAD_MESSAGE.length, BAD_MESSAGE);
    raw.record(s + 2, RecordKind.SPAN_END, id);
    raw.tracer.flush();
  }
}
