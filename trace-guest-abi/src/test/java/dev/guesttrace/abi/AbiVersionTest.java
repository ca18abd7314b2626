package dev.guesttrace.abi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AbiVersionTest {

  @Test
  void current_is1_0_0() {
    assertThat(AbiVersion.CURRENT).isEqualTo(new AbiVersion(1, 0, 0));
    assertThat(AbiVersion.CURRENT.packed()).isEqualTo(0x0001_0000);
    assertThat(AbiVersion.CURRENT).hasToString("1.0.0");
  }

  @Test
  void packed_majorMinorPatchInThatOrder() {
    assertThat(new AbiVersion(2, 3, 4).packed()).isEqualTo(0x0002_0304);
    assertThat(new AbiVersion(0xFFFF, 0xFF, 0xFF).packed()).isEqualTo(0xFFFF_FFFF);
  }

  @Test
  void fromPacked_roundTrips() {
    for (AbiVersion v :
        new AbiVersion[] {
          new AbiVersion(0, 0, 0),
          new AbiVersion(1, 0, 0),
          new AbiVersion(1, 2, 3),
          new AbiVersion(0xFFFF, 0xFF, 0xFF)
        }) {
      assertThat(AbiVersion.fromPacked(v.packed())).isEqualTo(v);
    }
    assertThat(AbiVersion.fromPacked(0x0003_0201)).isEqualTo(new AbiVersion(3, 2, 1));
  }

  @Test
  void canRead_sameMajorAndGuestMinorNotNewer() {
    AbiVersion host = new AbiVersion(1, 2, 0);

    assertThat(host.canRead(new AbiVersion(1, 0, 0))).isTrue();
    assertThat(host.canRead(new AbiVersion(1, 2, 9))).isTrue();
    assertThat(host.canRead(new AbiVersion(1, 3, 0))).isFalse();
    assertThat(host.canRead(new AbiVersion(2, 0, 0))).isFalse();
    assertThat(host.canRead(new AbiVersion(0, 2, 0))).isFalse();
  }

  @Test
  void incompatibilityMessage_namesBothSides() {
    assertThat(AbiVersion.CURRENT.incompatibilityMessage(new AbiVersion(2, 0, 0)))
        .isEqualTo("trace ABI not compatible: host=1.0.0 guest=2.0.0");
  }

  @Test
  void constructor_outOfRange_throwsNamingValues() {
    assertThatThrownBy(() -> new AbiVersion(1, 256, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("version out of range: major=1 minor=256 patch=0");
    assertThatThrownBy(() -> new AbiVersion(-1, 0, 0)).hasMessageContaining("major=-1");
    assertThatThrownBy(() -> new AbiVersion(0x10000, 0, 0)).hasMessageContaining("major=65536");
    assertThatThrownBy(() -> new AbiVersion(1, 0, 256)).hasMessageContaining("patch=256");
  }
}
