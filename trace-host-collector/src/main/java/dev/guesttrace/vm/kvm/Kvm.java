package dev.guesttrace.vm.kvm;

/**
 * Numbers from {@code /usr/include/linux/kvm.h} (x86-64): ioctl requests, exit reasons and the
 * offsets of {@code struct kvm_run}, {@code struct kvm_sregs} and {@code struct kvm_segment} this
 * backend uses. Checked against the header on the build machine with a small C program.
 */
final class Kvm {
  static final int API_VERSION = 12;

  static final long GET_API_VERSION = 0xAE00L;
  static final long CREATE_VM = 0xAE01L;
  static final long GET_VCPU_MMAP_SIZE = 0xAE04L;
  static final long GET_SUPPORTED_CPUID = 0xC008AE05L;
  static final long CREATE_VCPU = 0xAE41L;
  static final long SET_USER_MEMORY_REGION = 0x4020AE46L;
  static final long SET_TSS_ADDR = 0xAE47L;
  static final long RUN = 0xAE80L;
  static final long GET_REGS = 0x8090AE81L;
  static final long SET_REGS = 0x4090AE82L;
  static final long GET_SREGS = 0x8138AE83L;
  static final long SET_SREGS = 0x4138AE84L;
  static final long SET_CPUID2 = 0x4008AE90L;
  static final long GET_TSC_KHZ = 0xAEA3L;

  static final int EXIT_IO = 2;
  static final int EXIT_HLT = 5;
  static final int EXIT_MMIO = 6;
  static final int EXIT_SHUTDOWN = 8;
  static final int EXIT_FAIL_ENTRY = 9;
  static final int EXIT_INTR = 10;
  static final int EXIT_INTERNAL_ERROR = 17;

  // struct kvm_run
  static final long RUN_IMMEDIATE_EXIT = 1;
  static final long RUN_EXIT_REASON = 8;
  static final long RUN_IO_DIRECTION = 32;
  static final long RUN_IO_SIZE = 33;
  static final long RUN_IO_PORT = 34;
  static final long RUN_IO_COUNT = 36;
  static final long RUN_IO_DATA_OFFSET = 40;
  static final int IO_DIRECTION_OUT = 1;
  static final long RUN_MMIO_PHYS_ADDR = 32;
  static final long RUN_MMIO_LEN = 48;
  static final long RUN_MMIO_IS_WRITE = 52;
  static final long RUN_FAIL_ENTRY_REASON = 32;
  static final long RUN_INTERNAL_SUBERROR = 32;

  // struct kvm_regs: 18 u64 in Register order
  static final long REGS_SIZE = 144;

  // struct kvm_sregs
  static final long SREGS_SIZE = 312;
  static final long SREGS_CS = 0;
  static final long SREGS_DS = 24;
  static final long SREGS_ES = 48;
  static final long SREGS_FS = 72;
  static final long SREGS_GS = 96;
  static final long SREGS_SS = 120;
  static final long SREGS_TR = 144;
  static final long SREGS_LDT = 168;
  static final long SREGS_GDT = 192;
  static final long SREGS_IDT = 208;
  static final long SREGS_CR0 = 224;
  static final long SREGS_CR3 = 240;
  static final long SREGS_CR4 = 248;
  static final long SREGS_EFER = 264;

  // struct kvm_segment
  static final long SEG_BASE = 0;
  static final long SEG_LIMIT = 8;
  static final long SEG_SELECTOR = 12;
  static final long SEG_TYPE = 14;
  static final long SEG_PRESENT = 15;
  static final long SEG_DPL = 16;
  static final long SEG_DB = 17;
  static final long SEG_S = 18;
  static final long SEG_L = 19;
  static final long SEG_G = 20;
  static final long SEG_UNUSABLE = 22;

  // struct kvm_dtable
  static final long DTABLE_BASE = 0;
  static final long DTABLE_LIMIT = 8;

  // struct kvm_userspace_memory_region
  static final long MEMORY_REGION_SIZE = 32;

  // struct kvm_cpuid2 / kvm_cpuid_entry2
  static final long CPUID2_HEADER = 8;
  static final long CPUID_ENTRY_SIZE = 40;

  private Kvm() {}
}
