/*
 * abort: the C twin of Guest05Abort. Works through "step" spans and aborts in the middle of one
 * (code 42) without flushing its ring, as a panic without a working tracer would: the host recovers
 * the unflushed records from guest memory and reports the abort code and message.
 *
 *   ./guesttrace run abort --backend kvm --arg step=3
 *   ./guesttrace run abort --backend kvm --arg at=boot
 */
#include "gtguest.h"

#define ABORT_CODE 42
#define STEPS 10

static void put_decimal(char *buffer, size_t *at, int64_t value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0) {
    buffer[(*at)++] = digits[--n];
  }
}

static void append(char *buffer, size_t *at, const char *text) {
  while (*text) {
    buffer[(*at)++] = *text++;
  }
}

static void steps(struct gt_runtime *rt) {
  struct gt_tracer *t = &rt->tracer;
  uint32_t step = gt_name(t, "step");
  uint32_t compute = gt_name(t, "compute");
  int64_t abort_at = gt_arg_long(rt, "step", 7, 0, STEPS - 1);
  for (int64_t i = 0; i < STEPS; i++) {
    gt_begin_args(t, step, (uint64_t)i, 0);
    gt_begin(t, compute);
    gt_end(t, compute);
    if (i == abort_at) {
      char text[64];
      size_t n = 0;
      append(text, &n, "step ");
      put_decimal(text, &n, i);
      append(text, &n, " failed: giving up");
      gt_message_n(t, text, n);
      n = 0;
      append(text, &n, "deliberate abort in step ");
      put_decimal(text, &n, i);
      text[n] = 0;
      /* No flush: the records of steps 0..i stay in the ring for the host to recover. */
      gt_abort_without_flush(rt, ABORT_CODE, text);
    }
    gt_end(t, step);
  }
}

static int at_boot(struct gt_runtime *rt) {
  size_t length;
  const char *at = gt_arg(rt, "at", &length);
  return at != 0 && length == 4 && at[0] == 'b' && at[1] == 'o' && at[2] == 'o' && at[3] == 't';
}

void guest_main(struct gt_runtime *rt) {
  if (at_boot(rt)) {
    steps(rt);
  }
}

void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  if (!gt_name_is(call, "Run")) {
    *result = gt_unknown_function(call, error, sizeof error);
    return;
  }
  steps(rt);
  *result = gt_void();
}
