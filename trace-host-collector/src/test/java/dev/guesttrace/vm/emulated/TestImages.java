package dev.guesttrace.vm.emulated;

import dev.guesttrace.guest.GuestCpu;
import dev.guesttrace.guest.GuestImage;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.VmConfig;
import dev.guesttrace.vm.VmConfig.TscConfig;
import dev.guesttrace.vm.VmConfig.TscSource;
import java.time.Duration;
import java.util.function.Consumer;

/** Small hand-written guest images for backend tests. */
final class TestImages {
  static final TscConfig VIRTUAL = new TscConfig(0, 0, 0, TscSource.VIRTUAL);

  private TestImages() {}

  /** An image whose boot runs {@code boot} and whose dispatch runs {@code dispatch}. */
  static GuestImage image(Consumer<GuestCpu> boot, Consumer<GuestCpu> dispatch) {
    return new GuestImage() {
      @Override
      public void boot(GuestCpu cpu) {
        boot.accept(cpu);
      }

      @Override
      public void dispatch(GuestCpu cpu) {
        dispatch.accept(cpu);
      }
    };
  }

  /** An image whose boot runs {@code boot}; dispatch halts at once. */
  static GuestImage boot(Consumer<GuestCpu> boot) {
    return image(boot, GuestCpu::hlt);
  }

  static GuestSource.Java source(GuestImage image) {
    return new GuestSource.Java("test", image);
  }

  static VmConfig config(int vcpus, Duration timeout, TscConfig tsc) {
    return new VmConfig(4 << 20, vcpus, timeout, tsc);
  }

  static VmConfig config() {
    return config(1, Duration.ofSeconds(10), VIRTUAL);
  }
}
