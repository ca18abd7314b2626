package dev.guesttrace.perfetto;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.BootInfo;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.run.RunConfig;
import dev.guesttrace.samples.SampleGuests;
import dev.guesttrace.span.SpanTreeBuilder;
import dev.guesttrace.span.TraceTree;
import dev.guesttrace.vm.GuestSource;
import dev.guesttrace.vm.emulated.EmulatedBackend;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every hostile sample guest's run written as Perfetto JSON: no event before the run (a guest whose
 * clock goes backwards once put a counter at −562 s), and the nesting a viewer rebuilds from the
 * events is the clipped span tree.
 */
class PerfettoHostileGuestsTest {
  @Test
  void everyHostileGuest_jsonHasNoNegativeTimestampAndNestsAsTheTree() throws Exception {
    List<String> hostile =
        SampleGuests.names().stream().filter(n -> n.startsWith("hostile-")).toList();
    assertThat(hostile).hasSizeGreaterThanOrEqualTo(15).contains("hostile-time-backwards");

    for (String guest : hostile) {
      TraceTree tree = SpanTreeBuilder.build(run(guest).data());

      JsonNode json = PerfettoJsonWriterTest.parse(tree, PerfettoJsonWriter.Options.DEFAULT);

      assertThat(PerfettoJsonWriterTest.timestamps(json))
          .as(guest)
          .isNotEmpty()
          .allSatisfy(ts -> assertThat(ts).as(guest).isNotNegative());
      assertThat(PerfettoJsonWriterTest.spansWithParents(json))
          .as(guest)
          .isEqualTo(PerfettoJsonWriterTest.expectedSpansWithParents(tree));
    }
  }

  private static GuestRun.Result run(String guest) throws Exception {
    RunConfig config =
        RunConfig.builder(
                new GuestSource.Java(
                    guest, GuestRuntime.image(SampleGuests.find(guest).orElseThrow())),
                new EmulatedBackend())
            .setCalls(0)
            .setCall(new FunctionCall("main", List.of()))
            .setMemoryBytes(16L << 20)
            // hostile-never-halts ends here; every other guest ends on its own well within it.
            .setTimeout(Duration.ofMillis(500))
            .setMode(BootInfo.MODE_STREAM)
            .setArgs(Map.of("records", "200", "flushes", "2000"))
            .build();
    return GuestRun.builder(config).build().execute();
  }
}
