package dev.guesttrace.vm.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the backend says about itself where it cannot run, and what it refuses. */
class KvmBackendTest {
  @TempDir Path dir;

  private static boolean linuxX86() {
    String arch = System.getProperty("os.arch");
    return System.getProperty("os.name").startsWith("Linux")
        && (arch.equals("amd64") || arch.equals("x86_64"));
  }

  @Test
  void unavailableReason_noDevice_saysSo() {
    assumeTrue(linuxX86(), "skipped: not x86-64 Linux");
    Path missing = dir.resolve("kvm");
    assertThat(new KvmBackend(missing).unavailableReason()).contains("no " + missing);
  }

  @Test
  void unavailableReason_notAKvmDevice_saysWhyItCannotBeUsed() throws Exception {
    assumeTrue(linuxX86(), "skipped: not x86-64 Linux");
    Path file = Files.writeString(dir.resolve("kvm"), "not a device");
    // A regular file opens, but KVM_GET_API_VERSION on it fails with ENOTTY.
    assertThat(new KvmBackend(file).unavailableReason())
        .contains("cannot open " + file + ": Inappropriate ioctl for device");
  }

  @Test
  void openFailure_permissionDenied_saysWhatTheUserNeeds() throws Exception {
    // Tests run as root here, where no mode keeps the device shut: the message alone is checked.
    Path file = Files.writeString(dir.resolve("kvm"), "");
    String group =
        Files.readAttributes(file, java.nio.file.attribute.PosixFileAttributes.class)
            .group()
            .getName();
    String denied = KvmBackend.openFailure(file, 13, "Permission denied");
    assertThat(denied)
        .startsWith("cannot open " + file + ": Permission denied (this user needs read and write")
        .doesNotContain("\n")
        .contains(
            group.equals("root")
                ? "ask the machine's administrator for it, often through a group 'kvm'"
                : "add the user to group '" + group + "' and log in again");
    assertThat(KvmBackend.openFailure(file, 1, "Operation not permitted")).contains("this user");
    assertThat(KvmBackend.openFailure(file, 2, "No such file or directory"))
        .isEqualTo("cannot open " + file + ": No such file or directory");
  }

  @Test
  void hypervisorModule_readsSysModule() throws Exception {
    Path sys = Files.createDirectories(dir.resolve("module"));
    assertThat(KvmBackend.hypervisorModule(sys)).isEmpty();
    Files.createDirectories(sys.resolve("kvm"));
    Files.createDirectories(sys.resolve("kvm_pvm"));
    assertThat(KvmBackend.hypervisorModule(sys)).contains("kvm_pvm");
    Files.createDirectories(sys.resolve("kvm_amd"));
    assertThat(KvmBackend.hypervisorModule(sys)).contains("kvm_amd");
  }

  @Test
  void name_isKvm() {
    assertThat(new KvmBackend().name()).isEqualTo("kvm");
  }

  @Test
  void create_javaGuest_refusedWithOneLine() {
    assertThatThrownBy(
            () ->
                new KvmBackend()
                    .create(
                        new VmConfig(4 << 20, 1, Duration.ofSeconds(1), VmConfig.TscConfig.HOST),
                        new GuestSource.Java("hello", null)))
        .isInstanceOf(VmException.class)
        .hasMessage("the kvm backend runs native ELF guests, not Java guests: guest=hello");
  }

  @Test
  void find_unknownOrMalformedName_isEmpty() {
    assertThat(KvmGuests.find("no-such-guest")).isEmpty();
    assertThat(KvmGuests.find("../etc/passwd")).isEmpty();
  }
}
