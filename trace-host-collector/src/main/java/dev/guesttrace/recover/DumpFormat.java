package dev.guesttrace.recover;

import java.util.Locale;
import java.util.Optional;

/** How a guest-memory dump lays guest physical memory out in its file. */
public enum DumpFormat {
  /**
   * A raw file of guest RAM: guest physical address 0 at file offset 0 (a Firecracker snapshot
   * memory file, {@code guesttrace run --dump-memory}, a copy of the VMM's memory file).
   */
  RAW("raw"),

  /**
   * An ELF64 core file whose {@code PT_LOAD} program headers map guest physical addresses ({@code
   * p_paddr}) to file offsets, as QEMU's {@code dump-guest-memory} writes.
   */
  ELF_CORE("elf-core");

  private final String cliName;

  DumpFormat(String cliName) {
    this.cliName = cliName;
  }

  /** The name on the command line and in the trace header: {@code raw} or {@code elf-core}. */
  public String cliName() {
    return cliName;
  }

  /** The format named {@code name} ({@code raw} or {@code elf-core}), if any. */
  public static Optional<DumpFormat> ofCliName(String name) {
    for (DumpFormat f : values()) {
      if (f.cliName.equals(name.toLowerCase(Locale.ROOT))) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
  }
}
