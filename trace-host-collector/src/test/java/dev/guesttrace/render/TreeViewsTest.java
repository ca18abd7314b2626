package dev.guesttrace.render;

import static dev.guesttrace.compare.TestTrees.span;
import static dev.guesttrace.compare.TestTrees.withEvents;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.guesttrace.compare.TestTrees;
import dev.guesttrace.span.SpanEvent;
import dev.guesttrace.span.SpanKind;
import dev.guesttrace.span.SpanNode;
import dev.guesttrace.span.TraceTree;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The tree's options for big traces, and its JSON/CSV form. */
class TreeViewsTest {
  static TraceTree one(SpanNode root) {
    return TestTrees.tree(TestTrees.summary("t", "h", 1e9), root);
  }

  static String render(TextTreeRenderer renderer, TraceTree tree) {
    StringWriter text = new StringWriter();
    renderer.render(tree, new PrintWriter(text));
    return text.toString();
  }

  /** run 5µs..105µs > call > (a, b 1µs, c); the run does not start at 0 on the tree's clock. */
  static TraceTree small() {
    return one(
        span(
            SpanKind.HOST_RUN,
            0,
            "run",
            5_000,
            105_000,
            span(
                "call",
                10_000,
                90_000,
                span("a", 11_000, 40_000, span("a1", 12_000, 13_000)),
                span("b", 41_000, 42_000),
                span("c", 43_000, 89_000))));
  }

  @Test
  void timeCountsFromTheRunStart_inOneUnit() {
    assertThat(render(TextTreeRenderer.full().compact(true), small()))
        .isEqualTo(
            """
            [0µs      ] [host] run 100µs
            [5µs      ]   call 80µs
            [6µs      ]     a 29µs
            [7µs      ]       a1 1µs
            [36µs     ]     b 1µs
            [38µs     ]     c 46µs
            """);
    assertThat(
            render(TextTreeRenderer.full().compact(true).unit(TextTreeRenderer.Unit.NS), small()))
        .startsWith("[0ns      ] [host] run 100µs\n[5000ns   ]   call 80µs\n");
  }

  @Test
  void longRun_columnWidensInsteadOfSlipping() {
    TraceTree tree =
        one(span(SpanKind.HOST_RUN, 0, "run", 0, 12_345_678_000L, span("x", 2_000_000, 3_000_000)));
    assertThat(render(TextTreeRenderer.full().compact(true), tree))
        .isEqualTo(
            """
            [0ms        ] [host] run 12.35s
            [2ms        ]   x 1ms
            """);
    TraceTree hours = one(span(SpanKind.HOST_RUN, 0, "run", 0, 200_000_000_000L));
    assertThat(render(TextTreeRenderer.full().compact(true), hours))
        .isEqualTo("[0s       ] [host] run 200s\n");
  }

  @Test
  void maxDepthAndMinDuration_summarizeWhatTheyHideOnOneLine() {
    assertThat(render(TextTreeRenderer.full().compact(true).maxDepth(2), small()))
        .isEqualTo(
            """
            [0µs      ] [host] run 100µs
            [5µs      ]   call 80µs
            [6µs      ]     ... 3 spans (4 with theirs) below --max-depth 2, 76µs in all
            """);
    assertThat(render(TextTreeRenderer.full().compact(true).minDuration(10_000), small()))
        .isEqualTo(
            """
            [0µs      ] [host] run 100µs
            [5µs      ]   call 80µs
            [6µs      ]     a 29µs
            [7µs      ]       ... 1 span shorter than 10µs, 1µs in all
            [36µs     ]     ... 1 span shorter than 10µs, 1µs in all
            [38µs     ]     c 46µs
            """);
  }

  @Test
  void filter_keepsMatchesWithTheirAncestors() {
    assertThat(render(TextTreeRenderer.full().filter(Pattern.compile("^a1$|^b")), small()))
        .isEqualTo(
            """
            [0µs      ] > [host] run
            [5µs      ]   > call
            [6µs      ]     > a
            [7µs      ]       > a1
            [8µs      ]       < a1 1µs
            [35µs     ]     < a 29µs
            [36µs     ]     > b
            [37µs     ]     < b 1µs
            [85µs     ]   < call 80µs
            [100µs    ] < [host] run 100µs
            """);
    assertThat(render(TextTreeRenderer.full().filter(Pattern.compile("nothing")), small()))
        .isEqualTo("(no span matches --filter nothing)\n");
  }

  /** A vcpu_work of {@code n} identical work spans (each with one mix) and a last different one. */
  static TraceTree repeated(int n) {
    SpanNode work = span("vcpu_work", 0, 1_000_000);
    for (int i = 0; i < n; i++) {
      long t = 1_000 + i * 10_000L;
      work.addChild(span("work", t, t + 2_000 + i * 1_000L, span("mix", t + 100, t + 200)));
    }
    work.addChild(span("work", 900_000, 901_000));
    return one(work);
  }

  @Test
  void identicalConsecutiveSiblings_foldIntoOneLine() {
    assertThat(render(TextTreeRenderer.full(), repeated(5)))
        .isEqualTo(
            """
            [0ms      ] > vcpu_work
            [0.001ms  ]   work ×5, total 20µs, min/median/max 2µs/4µs/6µs (1 span inside each)
            [0.9ms    ]   > work
            [0.901ms  ]   < work 1µs
            [1ms      ] < vcpu_work 1ms
            """);
    assertThat(render(TextTreeRenderer.full().compact(true).fold(0), repeated(2)).lines())
        .hasSize(6);
    // Two are not enough for the default fold of 3.
    assertThat(render(TextTreeRenderer.full().compact(true), repeated(2))).doesNotContain("×");
  }

  @Test
  void folding_stopsAtAnEventBetweenSiblingsAndAtADifferentShape() {
    SpanNode parent = span("p", 0, 100_000);
    for (int i = 0; i < 3; i++) {
      parent.addChild(span("w", i * 10_000L, i * 10_000L + 1_000));
    }
    parent.addEvent(new SpanEvent(25_000, SpanEvent.Kind.MESSAGE, "between", 0, 0));
    for (int i = 3; i < 6; i++) {
      parent.addChild(
          withEvents(
              span("w", i * 10_000L, i * 10_000L + 1_000),
              new SpanEvent(
                  i * 10_000L + 1, SpanEvent.Kind.MESSAGE, i == 5 ? "odd" : "same", 0, 0)));
    }
    String text = render(TextTreeRenderer.full(), one(parent));
    assertThat(text)
        .isEqualTo(
            """
            [0µs      ] > p
            [0µs      ]   w ×3, total 3µs, min/median/max 1µs/1µs/1µs
            [25µs     ]   between
            [30µs     ]   > w
            [30µs     ]     same
            [31µs     ]   < w 1µs
            [40µs     ]   > w
            [40µs     ]     same
            [41µs     ]   < w 1µs
            [50µs     ]   > w
            [50µs     ]     odd
            [51µs     ]   < w 1µs
            [100µs    ] < p 100µs
            """);
  }

  @Test
  void failure_isMarkedInsideTheDeepestOpenSpanOfItsVcpu() {
    SpanNode step = span("step", 30_000, 60_000, span("compute", 31_000, 32_000));
    step.end(60_000, true);
    SpanNode call = span("call", 20_000, 60_000, span("step", 21_000, 25_000), step);
    call.end(60_000, true);
    TraceTree tree =
        one(
            span(
                SpanKind.HOST_RUN,
                0,
                "run",
                0,
                61_000,
                span(SpanKind.HOST_GUEST_CALL, 0, "Run", 19_000, 60_000, call)));
    assertThat(
            render(
                TextTreeRenderer.full()
                    .compact(true)
                    .failure("aborted on vCPU 0 code=42: deliberate abort in step 7"),
                tree))
        .isEqualTo(
            """
            [0µs      ] [host] run 61µs
            [19µs     ]   [host] Run 41µs
            [20µs     ]     call 40µs (never ended)
            [21µs     ]       step 4µs
            [30µs     ]       step 30µs (never ended)
            [31µs     ]         compute 1µs
            [60µs     ]         !! aborted on vCPU 0 code=42: deliberate abort in step 7
            """);
  }

  @Test
  void lineBudget_stopsWithANoteOnHowToSeeMore() {
    String text = render(TextTreeRenderer.full().compact(true).maxLines(3), small());
    assertThat(text)
        .isEqualTo(
            """
            [0µs      ] [host] run 100µs
            [5µs      ]   call 80µs
            [6µs      ]     a 29µs
            ... output cut at 3 lines (3 spans shown): --max-lines 0 shows all; --max-depth,\
             --min-duration, --filter and --vcpu narrow the tree
            """);
  }

  @Test
  void deepNesting_rendersWithoutRecursion() {
    SpanNode root = span("f", 0, 2_000_000);
    SpanNode at = root;
    for (int i = 1; i < 20_000; i++) {
      SpanNode child = span("f", i, 2_000_000 - i);
      at.addChild(child);
      at = child;
    }
    TraceTree tree = one(root);
    StringWriter text = new StringWriter();
    assertThat(TextTreeRenderer.full().maxLines(0).render(tree, new PrintWriter(text)))
        .isEqualTo(20_000);
    assertThat(text.toString().lines().count()).isEqualTo(40_000);
    assertThat(
            text.toString().lines().skip(TextTreeRenderer.MAX_INDENT + 1).findFirst().orElseThrow())
        .isEqualTo("[0ms      ] " + "  ".repeat(TextTreeRenderer.MAX_INDENT) + "(level 102) > f");
    StringWriter csv = new StringWriter();
    assertThat(
            TreeDataWriter.write(
                tree, TreeDataWriter.Selection.all(), OutputFormat.CSV, new PrintWriter(csv)))
        .isEqualTo(20_000);
    assertThat(csv.toString().lines().skip(20_000))
        .containsExactly("20000,19999,f,0,guest,19999,1980001,false");
  }

  @Test
  void json_oneObjectPerSpanRelativeToTheRunStart() throws Exception {
    SpanNode a = small().vcpus().get(0).roots().get(0).children().get(0).children().get(0);
    TraceTree tree = small();
    tree.vcpus()
        .get(0)
        .roots()
        .get(0)
        .children()
        .get(0)
        .children()
        .get(1)
        .addEvent(new SpanEvent(41_500, SpanEvent.Kind.MESSAGE, "say \"hi\"\n", 0, 0));
    StringWriter out = new StringWriter();
    TreeDataWriter.write(
        tree,
        new TreeDataWriter.Selection(OptionalInt.of(0), 3, 0, null),
        OutputFormat.JSON,
        new PrintWriter(out));
    JsonNode json = new ObjectMapper().readTree(out.toString());
    assertThat(a.name()).isEqualTo("a");
    assertThat(json.get("schema").asText()).isEqualTo("guesttrace.tree/1");
    assertThat(json.get("run_ns").asLong()).isEqualTo(100_000);
    JsonNode spans = json.get("spans");
    assertThat(spans).hasSize(5);
    assertThat(spans.get(0).toString())
        .isEqualTo(
            "{\"id\":1,\"parent\":null,\"name\":\"run\",\"vcpu\":0,\"kind\":\"host_run\","
                + "\"start_ns\":0,\"end_ns\":100000,\"unclosed\":false}");
    assertThat(spans.get(3).get("name").asText()).isEqualTo("b");
    assertThat(spans.get(3).get("parent").asLong()).isEqualTo(2);
    assertThat(spans.get(3).get("events").get(0).get("text").asText()).isEqualTo("say \"hi\"\n");
    assertThat(spans.get(3).get("events").get(0).get("time_ns").asLong()).isEqualTo(36_500);
  }
}
