package dev.guesttrace.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileReader;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.run.GuestRun;
import dev.guesttrace.span.SpanTreeBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What a hostile guest makes the collector keep must also survive the trace file: streamed by the
 * writer during the run, read back by the reader with the same records, losses and diagnostics.
 */
class HostileTraceFileTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "hostile-bad-pointer",
        "hostile-bad-name-table",
        "hostile-capacity-lie",
        "hostile-sequence-jump",
        "hostile-sequence-back",
        "hostile-unknown-kind",
        "hostile-undefined-name",
        "hostile-bad-utf8",
        "hostile-long-text",
        "hostile-unbalanced-spans",
        "hostile-time-backwards",
        "hostile-fault-mid-record",
        "hostile-abort-unflushed"
      })
  void hostileRun_streamedToAFile_readsBackTheSameTrace(String guest) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TraceFileWriter writer = new TraceFileWriter(bytes, "hostile test");
    GuestRun.Result r =
        GuestRun.builder(Hostile.config(guest, Map.of()).build()).setSink(writer).build().execute();
    writer.close();
    List<String> warnings = new ArrayList<>();

    TraceData read =
        TraceFileReader.read(
            new ByteArrayInputStream(bytes.toByteArray()), warnings::add, Long.MAX_VALUE);

    assertThat(warnings).isEmpty();
    assertThat(read.recordCount()).isEqualTo(r.data().recordCount());
    assertThat(read.losses()).isEqualTo(r.data().losses());
    assertThat(Hostile.diagnostics(read)).isEqualTo(Hostile.diagnostics(r.data()));
    assertThat(Hostile.beginNames(read)).isEqualTo(Hostile.beginNames(r.data()));
    assertThat(read.outcome()).isEqualTo(r.outcome());
    assertThat(Hostile.diagnostics(SpanTreeBuilder.buildWithDetails(read).diagnostics()))
        .isEqualTo(Hostile.diagnostics(SpanTreeBuilder.buildWithDetails(r.data()).diagnostics()));
  }
}
