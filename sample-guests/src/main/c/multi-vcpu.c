/*
 * multi-vcpu: the C twin of Guest04MultiVcpu. Runs on 4 vCPUs by default; vCPU i runs (i + 1) *
 * units "work" spans with four "mix" spans inside, at boot (units / 2) and in every call, so the
 * per-vCPU trees differ. Each vCPU has its own ring and its own host thread.
 *
 *   ./guesttrace run multi-vcpu --backend kvm --vcpus 4 --arg units=100
 */
#include "gtguest.h"

#define DEFAULT_UNITS 20

static int64_t work(struct gt_runtime *rt, int64_t units) {
  struct gt_tracer *t = &rt->tracer;
  uint32_t vcpu_work = gt_name(t, "vcpu_work");
  uint32_t work_name = gt_name(t, "work");
  uint32_t mix = gt_name(t, "mix");
  uint32_t vcpu = rt->vcpu_id;
  int slow = gt_is_slow(rt, "work");
  int64_t spans = (int64_t)(vcpu + 1) * units;
  uint64_t sum = vcpu;
  gt_begin_args(t, vcpu_work, vcpu, (uint64_t)spans);
  for (int64_t i = 0; i < spans; i++) {
    gt_begin_args(t, work_name, (uint64_t)i, 0);
    if (slow) {
      gt_spin(rt);
    }
    for (int j = 0; j < 4; j++) {
      gt_begin(t, mix);
      for (int k = 0; k < 64; k++) {
        sum = sum * 6364136223846793005ull + 1442695040888963407ull;
        __asm__ volatile("" : "+r"(sum)); /* keep the loop: it is the work being traced */
      }
      gt_end(t, mix);
    }
    gt_end(t, work_name);
  }
  gt_end(t, vcpu_work);
  return (int64_t)sum;
}

void guest_main(struct gt_runtime *rt) {
  work(rt, gt_arg_long(rt, "units", DEFAULT_UNITS, 0, 1000000) / 2);
}

void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  if (!gt_name_is(call, "Work")) {
    *result = gt_unknown_function(call, error, sizeof error);
    return;
  }
  int64_t units = gt_long_arg(call, 0, gt_arg_long(rt, "units", DEFAULT_UNITS, 0, 1000000));
  *result = gt_long(work(rt, units));
}
