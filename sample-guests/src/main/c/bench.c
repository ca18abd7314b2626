/*
 * bench: measurements of the native recorder and of exits, taken inside the guest with its own TSC
 * (trace-benchmarks' KvmExitBenchmark drives it; it is not a traced sample).
 *
 *   Records(n)  n spans (2n records) through the tracer the boot info set up (stream, flight or
 *               off); returns the TSC ticks the loop took.
 *   Exits(n)    n OUT round trips on port 0x7E (guest -> host handler -> guest); stores each one's
 *               ticks at the vCPU's heap and returns that address.
 *   Seed(n)     the seed design for comparison: n records of 80 bytes with the span name copied in
 *               as text (64 bytes), one OUT every 32 records; returns ticks.
 */
#include "gtguest.h"

#define BENCH_PORT 0x7E

void guest_main(struct gt_runtime *rt) { (void)rt; }

static int64_t records(struct gt_runtime *rt, int64_t n) {
  struct gt_tracer *t = &rt->tracer;
  uint32_t name = gt_name(t, "bench_span");
  uint64_t start = gt_rdtsc();
  for (int64_t i = 0; i < n; i++) {
    gt_begin(t, name);
    gt_end(t, name);
  }
  return (int64_t)(gt_rdtsc() - start);
}

static int64_t exits(struct gt_runtime *rt, int64_t n) {
  uint64_t *ticks = (uint64_t *)(uintptr_t)rt->heap_address;
  if ((uint64_t)n * 8 > rt->heap_length) {
    n = (int64_t)(rt->heap_length / 8);
  }
  for (int64_t i = 0; i < n; i++) {
    uint64_t before = gt_rdtsc();
    gt_out(BENCH_PORT, (uint32_t)i, 0, 0);
    ticks[i] = gt_rdtsc() - before;
  }
  return (int64_t)rt->heap_address;
}

struct seed_record {
  uint64_t tsc;
  uint64_t kind;
  char name[64];
};

static int64_t seed(struct gt_runtime *rt, int64_t n) {
  static const char span_name[64] = "bench_span";
  struct seed_record *buffer = (struct seed_record *)(uintptr_t)rt->heap_address;
  uint64_t start = gt_rdtsc();
  uint32_t used = 0;
  for (int64_t i = 0; i < n; i++) {
    struct seed_record *r = &buffer[used++];
    r->tsc = gt_rdtsc();
    r->kind = (uint64_t)(i & 1);
    gt_memcpy(r->name, span_name, sizeof r->name);
    __asm__ volatile("" ::: "memory");
    if (used == 32) {
      gt_out(BENCH_PORT, used, (uint64_t)(uintptr_t)buffer, 0);
      used = 0;
    }
  }
  return (int64_t)(gt_rdtsc() - start);
}

void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  int64_t n = gt_long_arg(call, 0, 1000);
  if (gt_name_is(call, "Records")) {
    *result = gt_long(records(rt, n));
  } else if (gt_name_is(call, "Exits")) {
    *result = gt_long(exits(rt, n));
  } else if (gt_name_is(call, "Seed")) {
    *result = gt_long(seed(rt, n));
  } else {
    *result = gt_unknown_function(call, error, sizeof error);
  }
}
