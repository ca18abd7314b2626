package dev.guesttrace.vm.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * The 64-bit world the host builds before a guest's first instruction, as Hyperlight's host does:
 * identity-mapped page tables with 2 MiB pages, a flat GDT, long-mode segment registers and control
 * registers. Everything lives in the backend's reserved area {@code 0x2000..0xFFFF} of {@link
 * dev.guesttrace.abi.GuestLayout}. There is no IDT: any exception the guest takes becomes a triple
 * fault, which the host reports as a fault with the registers.
 */
final class LongMode {
  static final long GDT_ADDRESS = 0x2000;
  static final long PML4_ADDRESS = 0x3000;
  static final long PDPT_ADDRESS = 0x4000;
  static final long PD_ADDRESS = 0x5000;

  /** Page directories mapped: 2, each 1 GiB, covering guest RAM and the image window. */
  static final int PAGE_DIRECTORIES = 2;

  private static final long PAGE_PRESENT = 1;
  private static final long PAGE_WRITABLE = 2;
  private static final long PAGE_ACCESSED = 0x20;
  private static final long PAGE_DIRTY = 0x40;
  private static final long PAGE_LARGE = 0x80;
  private static final long TWO_MIB = 2L << 20;

  private static final long CR0_PE = 1;
  private static final long CR0_MP = 1 << 1;
  private static final long CR0_ET = 1 << 4;
  private static final long CR0_NE = 1 << 5;
  private static final long CR0_WP = 1 << 16;
  private static final long CR0_PG = 1L << 31;
  private static final long CR4_PAE = 1 << 5;
  private static final long CR4_OSFXSR = 1 << 9;
  private static final long CR4_OSXMMEXCPT = 1 << 10;
  private static final long EFER_LME = 1 << 8;
  private static final long EFER_LMA = 1 << 10;

  static final int CODE_SELECTOR = 0x08;
  static final int DATA_SELECTOR = 0x10;
  static final int TSS_SELECTOR = 0x18;

  private LongMode() {}

  /** Writes the GDT and page tables identity-mapping the first 2 GiB into guest RAM. */
  static void writeTables(MemorySegment memory) {
    memory.asSlice(GDT_ADDRESS, 0x10000 - GDT_ADDRESS).fill((byte) 0);
    // null, 64-bit code (L=1, P, DPL 0, execute/read), data (read/write, 4 GiB), TSS (busy, 16 B)
    memory.set(JAVA_LONG, GDT_ADDRESS + 8, 0x00AF9B000000FFFFL);
    memory.set(JAVA_LONG, GDT_ADDRESS + 16, 0x00CF93000000FFFFL);
    memory.set(JAVA_LONG, GDT_ADDRESS + 24, 0x00008B0000000067L);
    // Accessed and dirty are set up front, so a shadow-paging hypervisor never has to write them
    // back into these tables on the guest's first touch of a page.
    long table = PAGE_PRESENT | PAGE_WRITABLE | PAGE_ACCESSED;
    memory.set(JAVA_LONG, PML4_ADDRESS, PDPT_ADDRESS | table);
    long pages = PAGE_DIRECTORIES * 512L;
    for (int d = 0; d < PAGE_DIRECTORIES; d++) {
      long pd = PD_ADDRESS + d * 0x1000L;
      memory.set(JAVA_LONG, PDPT_ADDRESS + d * 8L, pd | table);
    }
    for (long p = 0; p < pages; p++) {
      memory.set(JAVA_LONG, PD_ADDRESS + p * 8, p * TWO_MIB | table | PAGE_DIRTY | PAGE_LARGE);
    }
  }

  /** Fills {@code sregs} (a {@code struct kvm_sregs} read from the vCPU) for 64-bit mode. */
  static void setSpecialRegisters(MemorySegment sregs) {
    segment(sregs, Kvm.SREGS_CS, CODE_SELECTOR, 11, true);
    for (long at :
        new long[] {Kvm.SREGS_DS, Kvm.SREGS_ES, Kvm.SREGS_FS, Kvm.SREGS_GS, Kvm.SREGS_SS}) {
      segment(sregs, at, DATA_SELECTOR, 3, false);
    }
    long tr = Kvm.SREGS_TR;
    sregs.set(JAVA_LONG, tr + Kvm.SEG_BASE, 0);
    sregs.set(JAVA_INT, tr + Kvm.SEG_LIMIT, 0x67);
    sregs.set(JAVA_SHORT, tr + Kvm.SEG_SELECTOR, (short) TSS_SELECTOR);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_TYPE, (byte) 11);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_PRESENT, (byte) 1);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_DPL, (byte) 0);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_DB, (byte) 0);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_S, (byte) 0);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_L, (byte) 0);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_G, (byte) 0);
    sregs.set(JAVA_BYTE, tr + Kvm.SEG_UNUSABLE, (byte) 0);
    sregs.set(JAVA_LONG, Kvm.SREGS_GDT + Kvm.DTABLE_BASE, GDT_ADDRESS);
    sregs.set(JAVA_SHORT, Kvm.SREGS_GDT + Kvm.DTABLE_LIMIT, (short) (4 * 8 - 1));
    sregs.set(JAVA_LONG, Kvm.SREGS_IDT + Kvm.DTABLE_BASE, 0);
    sregs.set(JAVA_SHORT, Kvm.SREGS_IDT + Kvm.DTABLE_LIMIT, (short) 0);
    sregs.set(JAVA_LONG, Kvm.SREGS_CR0, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG);
    sregs.set(JAVA_LONG, Kvm.SREGS_CR3, PML4_ADDRESS);
    sregs.set(JAVA_LONG, Kvm.SREGS_CR4, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT);
    sregs.set(JAVA_LONG, Kvm.SREGS_EFER, EFER_LME | EFER_LMA);
  }

  private static void segment(MemorySegment sregs, long at, int selector, int type, boolean code) {
    sregs.set(JAVA_LONG, at + Kvm.SEG_BASE, 0);
    sregs.set(JAVA_INT, at + Kvm.SEG_LIMIT, 0xFFFFFFFF);
    sregs.set(JAVA_SHORT, at + Kvm.SEG_SELECTOR, (short) selector);
    sregs.set(JAVA_BYTE, at + Kvm.SEG_TYPE, (byte) type);
    sregs.set(JAVA_BYTE, at + Kvm.SEG_PRESENT, (byte) 1);
    sregs.set(JAVA_BYTE, at + Kvm.SEG_DPL, (byte) 0);
    sregs.set(JAVA_BYTE, at + Kvm.SEG_DB, (byte) (code ? 0 : 1));
    sregs.set(JAVA_BYTE, at + Kvm.SEG_S, (byte) 1);
    sregs.set(JAVA_BYTE, at + Kvm.SEG_L, (byte) (code ? 1 : 0));
    sregs.set(JAVA_BYTE, at + Kvm.SEG_G, (byte) 1);
    sregs.set(JAVA_BYTE, at + Kvm.SEG_UNUSABLE, (byte) 0);
  }
}
