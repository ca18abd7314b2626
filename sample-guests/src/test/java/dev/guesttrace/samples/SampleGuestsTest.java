package dev.guesttrace.samples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.guest.GuestProgram;
import org.junit.jupiter.api.Test;

class SampleGuestsTest {
  @Test
  void names_listsTheNumberedSamplesInOrder() {
    assertThat(SampleGuests.names())
        .filteredOn(n -> !n.startsWith("hostile-"))
        .containsExactly("hello", "fib", "alloc", "multi-vcpu", "abort", "runaway");
  }

  @Test
  void all_everyGuestHasAOneLineSummary() {
    assertThat(SampleGuests.all())
        .allSatisfy(
            g -> {
              assertThat(g.summary()).isNotBlank().doesNotContain("\n");
              assertThat(g.defaultCall().name()).isNotBlank();
            });
  }

  @Test
  void find_knownName_returnsAFreshInstance() {
    GuestProgram first = SampleGuests.find("multi-vcpu").orElseThrow();
    GuestProgram second = SampleGuests.find("multi-vcpu").orElseThrow();

    assertThat(first).isInstanceOf(Guest04MultiVcpu.class).isNotSameAs(second);
    assertThat(first.defaultVcpus()).isEqualTo(4);
    assertThat(SampleGuests.find("hello").orElseThrow().defaultCall().args())
        .containsExactly("Hello, World!");
  }

  @Test
  void find_unknownName_isEmpty() {
    assertThat(SampleGuests.find("nope")).isEmpty();
  }
}
