package dev.guesttrace.abi;

/**
 * The I/O ports a guest writes to (an {@code OUT} instruction, a VM exit) and the register
 * conventions that go with them. docs/abi.md, "Exits", is the normative text.
 *
 * <p>Every OUT to one of these ports carries the guest's TSC, read just before the OUT, in {@code
 * RCX}: each exit hands the host a (guest TSC, host monotonic ns) calibration pair at no extra
 * cost. The 32-bit value written by the OUT ({@code EAX}) is the operation or code; pointers and
 * lengths travel in {@code RDI} and {@code RSI}.
 *
 * <table>
 *   <caption>Ports and registers</caption>
 *   <tr><th>port</th><th>EAX (OUT value)</th><th>RDI</th><th>RSI</th><th>RCX</th></tr>
 *   <tr><td>TRACE</td><td>{@link #TRACE_OP_REGISTER}</td><td>region address</td>
 *       <td>region length</td><td>guest TSC</td></tr>
 *   <tr><td colspan="5">on resume from REGISTER, RAX holds the status
 *       ({@link #REGISTER_ACCEPTED} or a {@code REGISTER_REFUSED_*} code)</td></tr>
 *   <tr><td>TRACE</td><td>{@link #TRACE_OP_FLUSH}</td><td>region address</td><td>-</td>
 *       <td>guest TSC</td></tr>
 *   <tr><td>HOST_CALL</td><td>0</td><td>-</td><td>-</td><td>guest TSC</td></tr>
 *   <tr><td>LOG</td><td>level</td><td>-</td><td>-</td><td>guest TSC</td></tr>
 *   <tr><td>ABORT</td><td>abort code</td><td>-</td><td>-</td><td>guest TSC</td></tr>
 * </table>
 */
public final class ExitPorts {
  /** Trace region registration and flush. */
  public static final int TRACE = 0x70;

  /**
   * Call a host function: the call is in this vCPU's output buffer, the result comes back in its
   * input buffer ({@link GuestLayout}).
   */
  public static final int HOST_CALL = 0x71;

  /** A log line: {@code u32 length} then UTF-8 in this vCPU's output buffer; EAX is the level. */
  public static final int LOG = 0x72;

  /**
   * The guest gives up: EAX is the abort code; a {@code u32 length} and UTF-8 message may sit in
   * this vCPU's output buffer (length 0 if none). The host drains the rings and ends the run.
   */
  public static final int ABORT = 0x73;

  /** OUT value on {@link #TRACE}: register the region at RDI (RSI bytes) for this vCPU. */
  public static final int TRACE_OP_REGISTER = 1;

  /** OUT value on {@link #TRACE}: records up to the header's write sequence are ready. */
  public static final int TRACE_OP_FLUSH = 2;

  /**
   * REGISTER status, in {@code RAX} when the guest resumes from {@link #TRACE_OP_REGISTER}: the
   * host accepted the region and will read it. docs/abi.md, "REGISTER status".
   */
  public static final int REGISTER_ACCEPTED = 0;

  /**
   * REGISTER status: {@code RAX} still holds the OUT value ({@link #TRACE_OP_REGISTER}): the host
   * did not answer (a host older than the status, or a VMM that does not pass it on). The guest
   * cannot tell whether its region is read; it should trace as if accepted.
   */
  public static final int REGISTER_NO_ANSWER = TRACE_OP_REGISTER;

  /** REGISTER status: refused, the run's tracing mode is {@code off}; counted by the host. */
  public static final int REGISTER_REFUSED_TRACING_OFF = 2;

  /** REGISTER status: refused, the region (RDI, RSI) is not inside guest memory or too short. */
  public static final int REGISTER_REFUSED_OUTSIDE_MEMORY = 3;

  /** REGISTER status: refused, the region's magic is not {@code GTRC}. */
  public static final int REGISTER_REFUSED_BAD_MAGIC = 4;

  /** REGISTER status: refused, the region's ABI version is one the host cannot read. */
  public static final int REGISTER_REFUSED_ABI_INCOMPATIBLE = 5;

  /** REGISTER status: refused, header length, record length, capacity or mode out of the ABI. */
  public static final int REGISTER_REFUSED_BAD_HEADER = 6;

  /** REGISTER status: refused, the registering vCPU is not one of the VM's. */
  public static final int REGISTER_REFUSED_VCPU = 7;

  /** Log levels, as in the OUT value on {@link #LOG}. */
  public static final int LOG_ERROR = 1;

  public static final int LOG_WARN = 2;
  public static final int LOG_INFO = 3;
  public static final int LOG_DEBUG = 4;

  private ExitPorts() {}

  /**
   * A stable name for output, e.g. {@code "trace"}, {@code "0x80"} for ports ABI 1.0 does not use.
   */
  public static String name(int port) {
    return switch (port) {
      case TRACE -> "trace";
      case HOST_CALL -> "host_call";
      case LOG -> "log";
      case ABORT -> "abort";
      default -> String.format("0x%x", port);
    };
  }
}
