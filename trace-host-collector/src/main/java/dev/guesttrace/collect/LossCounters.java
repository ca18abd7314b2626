package dev.guesttrace.collect;

/**
 * Records that did not reach the trace, by cause. Nothing is lost silently: every record the guest
 * meant to write and the trace does not hold is counted in exactly one of these.
 *
 * @param flightOverwritten flight mode: slots overwritten before the host read them
 * @param streamOverrun stream mode: slots the guest wrote over before the host read them (its write
 *     sequence ran more than a ring ahead of the host's cursor)
 * @param undecodable slots inside the written range that held no usable record (empty, unknown
 *     kind, a continuation without its message); each is also a diagnostic
 * @param quotaDropped records read but not kept because the run's memory quota was full
 * @param guestDropped records the guest reported it could not write (the header's drop counter)
 */
public record LossCounters(
    long flightOverwritten,
    long streamOverrun,
    long undecodable,
    long quotaDropped,
    long guestDropped) {

  /** No losses. */
  public static final LossCounters NONE = new LossCounters(0, 0, 0, 0, 0);

  /** Sum of every cause. */
  public long total() {
    return flightOverwritten + streamOverrun + undecodable + quotaDropped + guestDropped;
  }

  /** Field-wise sum. */
  public LossCounters plus(LossCounters other) {
    return new LossCounters(
        flightOverwritten + other.flightOverwritten,
        streamOverrun + other.streamOverrun,
        undecodable + other.undecodable,
        quotaDropped + other.quotaDropped,
        guestDropped + other.guestDropped);
  }
}
