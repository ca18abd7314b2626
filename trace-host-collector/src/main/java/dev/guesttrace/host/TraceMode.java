package dev.guesttrace.host;

/** How the guest traces: what the VMM told it in the boot info, and what the tracer expects. */
public enum TraceMode {
  /** The guest exits (FLUSH) when its ring fills: nothing is overwritten. */
  STREAM,
  /** The ring overwrites its oldest records and never exits; read at the end. */
  FLIGHT,
  /** The guest traces nothing; a region it registers anyway is refused and counted. */
  OFF;

  /** The mode's name as traces and the command line spell it: {@code stream}, ... */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
