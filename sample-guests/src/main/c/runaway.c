/*
 * runaway: the C twin of Guest06Runaway. Its call loops forever doing "spin" spans with a "tick"
 * inside; the host stops it at --timeout and shows what it did until then.
 *
 *   ./guesttrace run runaway --backend kvm --timeout 1s
 */
#include "gtguest.h"

static __attribute__((noreturn)) void spin(struct gt_runtime *rt) {
  struct gt_tracer *t = &rt->tracer;
  uint32_t spin_name = gt_name(t, "spin");
  uint32_t tick = gt_name(t, "tick");
  for (uint64_t i = 0;; i++) {
    gt_begin_args(t, spin_name, i, 0);
    gt_begin(t, tick);
    gt_end(t, tick);
    gt_end(t, spin_name);
  }
}

void guest_main(struct gt_runtime *rt) {
  size_t length;
  const char *at = gt_arg(rt, "at", &length);
  if (at != 0 && length == 4 && at[0] == 'b' && at[1] == 'o' && at[2] == 'o' && at[3] == 't') {
    spin(rt);
  }
}

void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  if (!gt_name_is(call, "Spin")) {
    *result = gt_unknown_function(call, error, sizeof error);
    return;
  }
  spin(rt);
}
