package dev.guesttrace.abi;

/**
 * The x86-64 general-purpose registers, in the order of Linux's {@code struct kvm_regs}, so that an
 * ordinal is also the field index there (each field 8 bytes).
 */
public enum Register {
  RAX,
  RBX,
  RCX,
  RDX,
  RSI,
  RDI,
  RSP,
  RBP,
  R8,
  R9,
  R10,
  R11,
  R12,
  R13,
  R14,
  R15,
  RIP,
  RFLAGS;

  /** Registers in ordinal order, without the copy {@code values()} makes. */
  private static final Register[] VALUES = values();

  /** The register with this ordinal. */
  public static Register of(int ordinal) {
    return VALUES[ordinal];
  }

  /** Number of registers. */
  public static final int COUNT = 18;
}
