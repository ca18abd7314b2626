package dev.guesttrace.vm.kvm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds tiny ELF64 executables around hand-assembled x86-64 code, for backend tests. */
final class TestElf {
  static final long LOAD_ADDRESS = KvmVm.IMAGE_BASE;

  private TestElf() {}

  /** An ELF with one RX PT_LOAD segment holding {@code code} at {@link #LOAD_ADDRESS}. */
  static byte[] of(byte[] code) {
    int headers = 64 + 56;
    ByteBuffer b = ByteBuffer.allocate(headers + code.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1, 0});
    b.position(16);
    b.putShort((short) 2); // ET_EXEC
    b.putShort((short) 62); // EM_X86_64
    b.putInt(1);
    b.putLong(LOAD_ADDRESS + headers); // entry: first code byte
    b.putLong(64); // phoff
    b.putLong(0); // shoff
    b.putInt(0);
    b.putShort((short) 64);
    b.putShort((short) 56);
    b.putShort((short) 1);
    b.putShort((short) 64);
    b.putShort((short) 0);
    b.putShort((short) 0);
    // program header
    b.putInt(1); // PT_LOAD
    b.putInt(5); // R+X
    b.putLong(0); // offset
    b.putLong(LOAD_ADDRESS); // vaddr
    b.putLong(LOAD_ADDRESS); // paddr
    b.putLong(headers + code.length); // filesz
    b.putLong(headers + code.length + 4096); // memsz: a zeroed tail, as .bss
    b.putLong(4096);
    b.put(code);
    return b.array();
  }

  /** Writes {@link #of} to a file under {@code dir}. */
  static Path write(Path dir, byte[] code) throws IOException {
    Path file = Files.createTempFile(dir, "guest", ".elf");
    Files.write(file, of(code));
    return file;
  }

  /** Concatenates machine-code fragments. */
  static byte[] code(int... bytes) {
    byte[] out = new byte[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = (byte) bytes[i];
    }
    return out;
  }
}
