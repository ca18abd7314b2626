package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The verbs that read a trace file, on files written by {@code run -o}. */
class FileVerbsTest {
  @TempDir static Path dir;
  static Path hello;
  static CliTest.Outcome helloRun;

  @BeforeAll
  static void writeTrace() {
    hello = dir.resolve("hello.gtrace");
    helloRun = CliTest.run("run", "hello", "--deterministic", "-o", hello.toString());
  }

  @Test
  void everyReadingVerb_refusesAFileOverMaxRecordsNamingTheOption() {
    for (String verb : new String[] {"tree", "info", "stats", "flame", "allocs"}) {
      CliTest.Outcome o = CliTest.run(verb, hello.toString(), "--max-records", "5");
      assertThat(o.status()).as(verb).isEqualTo(1);
      assertThat(o.err())
          .as(verb)
          .isEqualTo(
              "guesttrace "
                  + verb
                  + ": "
                  + hello
                  + ": holds more than 5 records, this reader's limit: --max-records N reads more"
                  + " (about 50 B of heap per record)\n");
      CliTest.Outcome zero = CliTest.run(verb, hello.toString(), "--max-records", "0");
      assertThat(zero.status()).as(verb).isEqualTo(2);
      assertThat(zero.err()).as(verb).contains("--max-records: expected 1 or more, found 0");
    }
    CliTest.Outcome perfetto =
        CliTest.run(
            "perfetto",
            hello.toString(),
            "-o",
            dir.resolve("h.json").toString(),
            "--max-records=5");
    assertThat(perfetto.status()).isEqualTo(1);
    assertThat(perfetto.err()).contains(": holds more than 5 records, this reader's limit");
    CliTest.Outcome compare =
        CliTest.run("compare", hello.toString(), "--vs", hello.toString(), "--max-records=5");
    assertThat(compare.status()).isEqualTo(1);
    assertThat(compare.err()).contains(": holds more than 5 records, this reader's limit");
    assertThat(CliTest.run("tree", hello.toString(), "--max-records", "1000").status()).isZero();
  }

  @Test
  void runQuietToAFile_streamsTheSameTraceAsARunThatPrintsIt() {
    // --quiet -o keeps no records in memory (the file is written as the run goes); the file must
    // hold exactly what a run that also builds and prints the tree writes.
    Path streamed = dir.resolve("streamed.gtrace");
    Path kept = dir.resolve("kept.gtrace");
    String[] common = {"run", "fib", "--arg", "n=6", "--calls", "3", "--deterministic"};
    CliTest.Outcome quiet = CliTest.run(concat(common, "-o", streamed.toString(), "--quiet"));
    assertThat(quiet.status()).as(quiet.err()).isZero();
    assertThat(quiet.err()).isEmpty();
    CliTest.Outcome printed = CliTest.run(concat(common, "-o", kept.toString()));
    assertThat(printed.status()).as(printed.err()).isZero();

    CliTest.Outcome streamedTree = CliTest.run("tree", streamed.toString(), "--format", "csv");
    CliTest.Outcome keptTree = CliTest.run("tree", kept.toString(), "--format", "csv");
    assertThat(streamedTree.status()).isZero();
    assertThat(streamedTree.out()).isEqualTo(keptTree.out()).contains("fib");
    // Boot: 6 spans (12 records); each call: 25 fib spans and 17 records of dispatch and halt.
    assertThat(CliTest.run("info", streamed.toString()).out())
        .contains("records      " + (12 + 3 * (2 * 25 + 17)) + "\n");
  }

  private static String[] concat(String[] first, String... more) {
    String[] all = Arrays.copyOf(first, first.length + more.length);
    System.arraycopy(more, 0, all, first.length, more.length);
    return all;
  }

  @Test
  void runThenTree_printsTheSameTree() {
    assertThat(helloRun.status()).isZero();
    assertThat(helloRun.err()).contains("wrote " + hello);
    CliTest.Outcome tree = CliTest.run("tree", hello.toString());
    assertThat(tree.status()).isZero();
    assertThat(tree.out()).isEqualTo(helloRun.out());
    assertThat(CliTest.run("tree", hello.toString(), "--compact").out().lines())
        .contains("[23µs     ]     dispatch_function 34µs");
  }

  @Test
  void info_showsHostCalibrationLossesAndExits() {
    CliTest.Outcome info = CliTest.run("info", hello.toString());
    assertThat(info.status()).isZero();
    assertThat(info.out())
        .contains("guest        hello")
        .contains("run          emulated backend, 1 vCPU, stream mode")
        .contains("calibration  1.000000 GHz (fit over guest exit pairs)")
        .contains("lost         none")
        .contains("diagnostics  none")
        .contains("out      host_call         1");
  }

  @Test
  void stats_listsEveryFunctionWithCounts() {
    CliTest.Outcome stats = CliTest.run("stats", hello.toString());
    assertThat(stats.status()).isZero();
    assertThat(stats.out().lines().filter(l -> l.startsWith("try_pop_shared_input_data_into")))
        .singleElement()
        .satisfies(l -> assertThat(l.split("\\s+")[1]).isEqualTo("2"));
  }

  @Test
  void tree_optionsForBigTracesAndFormats() throws Exception {
    CliTest.Outcome depth =
        CliTest.run("tree", hello.toString(), "--compact", "--max-depth", "2", "--unit", "ns");
    assertThat(depth.status()).isZero();
    assertThat(depth.out())
        .isEqualTo(
            """
            [0ns      ] [host] run hello 64µs
            [3000ns   ]   [host] trace register 1µs
            [6000ns   ]   entrypoint 9µs
            [7000ns   ]     ... 3 spans (4 with theirs) below --max-depth 2, 5µs in all
            [16000ns  ]   halt 5µs
            [18000ns  ]     ... 1 span below --max-depth 2, 1µs in all
            [21000ns  ]   [host] PrintOutput 42µs
            [23000ns  ]     ... 2 spans (14 with theirs) below --max-depth 2, 39µs in all
            """);
    CliTest.Outcome filtered =
        CliTest.run(
            "tree", hello.toString(), "--compact", "--filter", "HostPrint", "--max-lines", "4");
    assertThat(filtered.out().lines())
        .containsExactly(
            "[0µs      ] [host] run hello 64µs",
            "[21µs     ]   [host] PrintOutput 42µs",
            "[23µs     ]     dispatch_function 34µs",
            "[24µs     ]       internal_dispatch_function 32µs",
            "... output cut at 4 lines (4 spans shown): --max-lines 0 shows all; --max-depth,"
                + " --min-duration, --filter and --vcpu narrow the tree");
    CliTest.Outcome json = CliTest.run("tree", hello.toString(), "--format", "json");
    com.fasterxml.jackson.databind.JsonNode spans =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out()).get("spans");
    assertThat(spans).hasSize(24);
    assertThat(spans.get(23).get("name").asText()).isEqualTo("trace flush");
    assertThat(spans.get(23).get("kind").asText()).isEqualTo("host_exit");
    assertThat(CliTest.run("tree", hello.toString(), "--unit", "hours").err())
        .isEqualTo("guesttrace tree: --unit: expected auto, ns, us, ms or s, found 'hours'\n");
    assertThat(CliTest.run("tree", hello.toString(), "--fold", "1").status()).isEqualTo(2);
  }

  @Test
  void infoAndCompare_jsonAndCsv() throws Exception {
    CliTest.Outcome info = CliTest.run("info", hello.toString(), "--format", "json");
    assertThat(info.status()).isZero();
    com.fasterxml.jackson.databind.JsonNode doc =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(info.out());
    assertThat(doc.get("schema").asText()).isEqualTo("guesttrace.info/1");
    assertThat(doc.get("guest").asText()).isEqualTo("hello");
    assertThat(doc.get("records").asLong()).isEqualTo(45);
    assertThat(doc.get("calibration").get("ticks_per_second").asDouble()).isEqualTo(1e9);
    assertThat(doc.get("lost").get("known").asBoolean()).isTrue();
    assertThat(doc.get("vm_exits").findValuesAsText("port")).contains("host_call");
    assertThat(CliTest.run("info", hello.toString(), "--format", "csv").out().lines())
        .startsWith("field,value", "guest,hello", "backend,emulated")
        .contains("records,45");

    CliTest.Outcome compare =
        CliTest.run("compare", hello.toString(), "--vs", hello.toString(), "--format", "csv");
    assertThat(compare.status()).isZero();
    assertThat(compare.out().lines())
        .startsWith(
            "path,a_count,b_count,a_total_ns,b_total_ns,total_ratio,total_mark,a_self_ns,"
                + "b_self_ns,self_ratio,self_mark",
            "run hello,1,1,61000,61000,1.0000,none,7000,7000,1.0000,none");
    com.fasterxml.jackson.databind.JsonNode cmp =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(
                CliTest.run(
                        "compare", hello.toString(), "--vs", hello.toString(), "--format", "json")
                    .out());
    assertThat(cmp.get("schema").asText()).isEqualTo("guesttrace.compare/1");
    assertThat(cmp.get("rows").get(0).get("a").get("total_ns").get("median").asLong())
        .isEqualTo(61_000); // trace exits excluded by default
  }

  @Test
  void allocs_ofTheAllocSample() {
    Path file = dir.resolve("alloc.gtrace");
    assertThat(
            CliTest.run(
                    "run",
                    "alloc",
                    "--deterministic",
                    "--arg",
                    "ops=6",
                    "--arg",
                    "leak=1",
                    "--quiet",
                    "-o",
                    file.toString())
                .status())
        .isZero();
    CliTest.Outcome allocs = CliTest.run("allocs", file.toString());
    assertThat(allocs.status()).isZero();
    String path =
        "[host] run alloc;[host] Churn;dispatch_function;internal_dispatch_function;"
            + "call_guest_function;churn";
    assertThat(allocs.out().lines())
        .startsWith(
            "allocations  6 (10.8 KiB), 5 freed (10.1 KiB)",
            "peak live    10.8 KiB in 6 blocks, first at 49µs after the run's start",
            "never freed  1 block, 789 B",
            "unmatched    0 frees of an address not live (never allocated in the trace, or freed"
                + " twice)")
        .contains("  0x3ac40 789 B allocated at 43µs on vCPU 0 in " + path);
    assertThat(CliTest.run("allocs", file.toString(), "--format", "csv").out().lines())
        .containsExactly(
            "path,allocs,alloc_bytes,frees,freed_bytes,live_blocks,live_bytes",
            path + ",6,11108,5,10319,1,789");
  }

  @Test
  void stats_topSortAndFormats() throws Exception {
    CliTest.Outcome top = CliTest.run("stats", hello.toString(), "--top", "2");
    assertThat(top.status()).isZero();
    assertThat(top.out().lines().limit(5))
        .containsExactly(
            "run 64µs on 1 vCPU, 24 spans; by function, sorted by total",
            "function              count      total   %run       self   %run        min     median"
                + "        p99        max",
            "[host] run hello          1       64µs 100.0%        7µs  10.9%       64µs       64µs"
                + "       64µs       64µs",
            "[host] PrintOutput        1       42µs  65.6%        3µs   4.7%       42µs       42µs"
                + "       42µs       42µs",
            "... 18 more rows (--top 0 shows all)");
    assertThat(top.out())
        .contains("tracing overhead: 3 trace exits, 3µs (4.7% of run), 2µs inside guest spans");
    CliTest.Outcome json =
        CliTest.run("stats", hello.toString(), "--format", "json", "--exclude-tracing");
    assertThat(json.status()).isZero();
    com.fasterxml.jackson.databind.JsonNode doc =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out());
    assertThat(doc.get("schema").asText()).isEqualTo("guesttrace.stats/1");
    assertThat(doc.get("rows").get(0).get("total_ns").asLong()).isEqualTo(64_000 - 3_000);
    assertThat(json.out()).doesNotContain("trace flush").doesNotContain("vm exits");
    CliTest.Outcome bad = CliTest.run("stats", hello.toString(), "--sort", "speed");
    assertThat(bad.status()).isEqualTo(2);
    assertThat(bad.err())
        .isEqualTo(
            "guesttrace stats: --sort: expected total, self, count, min, median, p99, max or name,"
                + " found 'speed'\n");
  }

  @Test
  void perfettoFlameCompare_writeTheirOutputs() throws IOException {
    Path json = dir.resolve("hello.json");
    assertThat(CliTest.run("perfetto", hello.toString(), "-o", json.toString()).status()).isZero();
    assertThat(Files.readString(json))
        .startsWith("{")
        .contains("\"traceEvents\"", "dispatch_function");

    CliTest.Outcome folded = CliTest.run("flame", hello.toString());
    assertThat(folded.status()).isZero();
    assertThat(folded.out().lines())
        .anyMatch(l -> l.matches("run hello;PrintOutput;dispatch_function;.* \\d+"));
    Path svg = dir.resolve("flame.svg");
    assertThat(CliTest.run("flame", hello.toString(), "--svg", svg.toString()).status()).isZero();
    assertThat(Files.readString(svg)).startsWith("<?xml").contains("<svg");

    CliTest.Outcome compare = CliTest.run("compare", hello.toString(), "--vs", hello.toString());
    assertThat(compare.status()).isZero();
    assertThat(compare.out()).contains("dispatch_function", "no path differs beyond the noise");
  }

  @Test
  void cutFile_readsToTheLastCompleteBatchWithAWarning() throws IOException {
    byte[] whole = Files.readAllBytes(hello);
    Path cut = dir.resolve("cut.gtrace");
    Files.write(cut, Arrays.copyOf(whole, whole.length - 7));
    CliTest.Outcome tree = CliTest.run("tree", cut.toString());
    assertThat(tree.status()).isZero();
    assertThat(tree.err()).startsWith("guesttrace tree: warning: ");
    CliTest.Outcome info = CliTest.run("info", cut.toString());
    assertThat(info.status()).isZero();
    assertThat(info.out().lines().filter(l -> l.startsWith("file ")))
        .singleElement()
        .satisfies(l -> assertThat(l).startsWith("file         trace file cut short at byte "));
    assertThat(info.out())
        .contains("lost         unknown: the file has no end (the run was cut short), it holds ");
  }

  @Test
  void notATrace_isOneLineAndExit1() throws IOException {
    Path junk = dir.resolve("junk.gtrace");
    Files.writeString(junk, "this is not a trace file at all");
    CliTest.Outcome info = CliTest.run("info", junk.toString());
    assertThat(info.status()).isEqualTo(1);
    assertThat(info.err().lines())
        .singleElement()
        .asString()
        .startsWith("guesttrace info: " + junk);
    CliTest.Outcome missing = CliTest.run("tree", dir.resolve("nope.gtrace").toString());
    assertThat(missing.status()).isEqualTo(1);
    assertThat(missing.err())
        .isEqualTo("guesttrace tree: no such file: " + dir.resolve("nope.gtrace") + "\n");
  }

  @Test
  void exportToNothing_failsInOneLineAndLeavesTheFile() throws IOException {
    byte[] before = Files.readAllBytes(hello);
    CliTest.Outcome export =
        CliTest.run(
            "export", hello.toString(), "--otlp", "http://127.0.0.1:9", "--otlp-timeout", "2s");
    assertThat(export.status()).isEqualTo(1);
    assertThat(export.err().lines()).singleElement().asString().contains("failed");
    assertThat(Files.readAllBytes(hello)).isEqualTo(before);
  }
}
