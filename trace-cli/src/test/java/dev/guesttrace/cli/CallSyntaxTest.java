package dev.guesttrace.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import java.util.List;
import org.junit.jupiter.api.Test;

class CallSyntaxTest {
  @Test
  void parse_integersStringsAndBytes_areTypedAsTheCodecTypesThem() {
    FunctionCall call =
        CallSyntax.parse(" Mix( 42, -7 , \"a \\\"b\\\"\\n\\u00e9\", 0xDEad01, 0x) ");
    assertThat(call.name()).isEqualTo("Mix");
    assertThat(call.args()).hasSize(5);
    assertThat(call.args().subList(0, 3)).containsExactly(42L, -7L, "a \"b\"\né");
    assertThat((byte[]) call.args().get(3)).containsExactly(0xDE, 0xAD, 0x01);
    assertThat((byte[]) call.args().get(4)).isEmpty();
  }

  @Test
  void parse_nameAloneOrEmptyParentheses_isACallWithoutArguments() {
    assertThat(CallSyntax.parse("main")).isEqualTo(new FunctionCall("main", List.of()));
    assertThat(CallSyntax.parse("main()")).isEqualTo(new FunctionCall("main", List.of()));
  }

  @Test
  void parse_mistakes_sayWhatWasExpectedWhere() {
    assertThatThrownBy(() -> CallSyntax.parse("Fib(20"))
        .hasMessage("expected ')' at column 7, found the end");
    assertThatThrownBy(() -> CallSyntax.parse("Fib(x)"))
        .hasMessage("expected an integer, a \"string\" or 0x bytes at column 5, found 'x'");
    assertThatThrownBy(() -> CallSyntax.parse("P(\"abc)"))
        .hasMessage("string not closed: expected '\"' at column 3, found '\"'");
    assertThatThrownBy(() -> CallSyntax.parse("P(\"\\q\")"))
        .hasMessage(
            "unknown escape \\q: expected one of \\\" \\\\ \\n \\t \\r \\0 \\uXXXX at column 4,"
                + " found '\\'");
    assertThatThrownBy(() -> CallSyntax.parse("B(0xabc)"))
        .hasMessage(
            "expected an even number of hex digits after 0x (two per byte) at column 3, found '0'");
    assertThatThrownBy(() -> CallSyntax.parse("N(99999999999999999999)"))
        .hasMessage("integer out of the 64-bit range at column 3: 99999999999999999999");
    assertThatThrownBy(() -> CallSyntax.parse("F(1) x"))
        .hasMessage("expected the end after ')' at column 6, found 'x'");
    assertThatThrownBy(() -> CallSyntax.parse("(1)"))
        .hasMessage("expected a function name at column 1, found '('");
  }

  @Test
  void parse_tooManyArguments_refused() {
    String args = String.join(",", java.util.Collections.nCopies(33, "1"));
    assertThatThrownBy(() -> CallSyntax.parse("F(" + args + ")"))
        .hasMessageStartingWith("more than 32 arguments at column ");
  }
}
