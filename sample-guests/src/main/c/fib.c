/*
 * fib: the C twin of Guest02Fib. Fib(n) by naive recursion with one "fib" span per call (arg0 = n):
 * fib(20) is 21,891 calls, 43,782 records, wrapping the default 2048-slot ring about twenty times.
 *
 *   ./guesttrace run fib --backend kvm --arg n=25
 */
#include "gtguest.h"

#define DEFAULT_N 20
#define MAX_N 35

static int64_t fib(struct gt_tracer *t, uint32_t name, int64_t n) {
  gt_begin_args(t, name, (uint64_t)n, 0);
  int64_t result = n < 2 ? n : fib(t, name, n - 1) + fib(t, name, n - 2);
  gt_end(t, name);
  return result;
}

void guest_main(struct gt_runtime *rt) { (void)rt; }

void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  if (!gt_name_is(call, "Fib")) {
    *result = gt_unknown_function(call, error, sizeof error);
    return;
  }
  int64_t fallback = gt_arg_long(rt, "n", DEFAULT_N, 0, MAX_N);
  int64_t n = gt_long_arg(call, 0, fallback);
  n = n < 0 ? 0 : n > MAX_N ? MAX_N : n;
  struct gt_tracer *t = &rt->tracer;
  uint32_t name = gt_name(t, "fib");
  int slow = gt_is_slow(rt, "fib");
  gt_begin_args(t, name, (uint64_t)n, 0);
  if (slow) {
    gt_spin(rt);
  }
  int64_t value = n < 2 ? n : fib(t, name, n - 1) + fib(t, name, n - 2);
  gt_end(t, name);
  *result = gt_long(value);
}
