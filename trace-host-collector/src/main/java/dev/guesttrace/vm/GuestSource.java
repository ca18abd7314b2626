package dev.guesttrace.vm;

import dev.guesttrace.guest.GuestImage;
import java.nio.file.Path;

/** What a backend runs: a Java guest image (emulated backend) or a native ELF binary (KVM). */
public sealed interface GuestSource {
  /** A guest's display name, e.g. {@code hello}. */
  String name();

  /**
   * A Java guest for the emulated backend.
   *
   * @param name the guest's name
   * @param image its code
   */
  record Java(String name, GuestImage image) implements GuestSource {}

  /**
   * A freestanding ELF64 binary for KVM.
   *
   * @param name the guest's name
   * @param elf path to the binary
   */
  record Elf(String name, Path elf) implements GuestSource {}
}
