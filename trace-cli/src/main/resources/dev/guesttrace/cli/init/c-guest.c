/*
 * @NAME@: a native guesttrace guest (written by `guesttrace init c`; docs/guests.md explains it).
 *
 * Build it (@NAME@.elf) and run it on KVM, printing its span tree:
 *   make
 *   guesttrace run @NAME@.elf --call 'Work(3)'
 *
 * The guest library (sdk/gtguest.h) boots the vCPU, sets up tracing, decodes each guest call and
 * traces its own plumbing (entrypoint, dispatch_function, ...); this file adds the guest's own
 * spans, messages, counters and allocations.
 */
#include "gtguest.h"

/* Name ids, interned once at boot (the name table is shared: every vCPU gets the same ids). */
static uint32_t work_name, step_name, items_name;

/* At boot on each vCPU, inside the span hyperlight_main. */
void guest_main(struct gt_runtime *rt) {
  work_name = gt_name(&rt->tracer, "work");
  step_name = gt_name(&rt->tracer, "step");
  items_name = gt_name(&rt->tracer, "items");
  gt_log(rt, GT_LOG_INFO, "@NAME@ booted");
}

/* One guest call, inside the span call_guest_function: Work(steps) returns the sum of squares. */
void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  if (!gt_name_is(call, "Work")) {
    *result = gt_unknown_function(call, error, sizeof error);
    return;
  }
  /* Work() is Work(1); anything but one integer 0..1000 is an error the host reports. */
  int64_t steps = gt_long_arg(call, 0, 1);
  if (call->argc > 1 || (call->argc == 1 && call->args[0].type != GT_CALL_TYPE_LONG) || steps < 0 ||
      steps > 1000) {
    *result = gt_string("error: Work expects one integer, 0..1000 steps");
    return;
  }
  struct gt_tracer *t = &rt->tracer;
  uint64_t buffer = rt->heap_address; /* this vCPU's share of the guest heap */
  int64_t sum = 0;
  gt_begin_args(t, work_name, (uint64_t)steps, 0);
  for (int64_t i = 1; i <= steps; i++) {
    gt_begin(t, step_name);
    gt_alloc(t, buffer, 4096);
    sum += i * i;
    gt_counter(t, items_name, i);
    gt_free(t, buffer, 4096);
    gt_end(t, step_name);
  }
  gt_message(t, "work done");
  gt_end(t, work_name);
  *result = gt_long(sum);
}
