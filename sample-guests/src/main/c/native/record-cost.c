/*
 * record-cost: the C recorder's record path (guesttrace.h, flight mode: no exits) run as an
 * ordinary host process on this CPU, to time what a guest under hardware virtualization executes
 * (rdtsc is not trapped there: the CPU applies the TSC offset/scale itself). Not a guest: it is
 * built by hand, not by the Maven build.
 *
 *   gcc -O2 -std=gnu11 -I../../../../../trace-guest-abi/src/main/c -o /tmp/record-cost record-cost.c
 *   /tmp/record-cost 2596122      # TSC kHz, e.g. from KVM_GET_TSC_KHZ or /proc/cpuinfo
 */
#include <stdio.h>
#include <stdlib.h>

#include "guesttrace.h"

#define CAPACITY 2048
#define SPANS 10000000L
#define ROUNDS 5

static _Alignas(64) uint8_t region[GT_REGION_HEADER_LENGTH + CAPACITY * GT_RECORD_LENGTH];
static _Alignas(64) uint8_t table[64 * 1024];

int main(int argc, char **argv) {
  double khz = argc > 1 ? atof(argv[1]) : 2596122.0;
  static struct gt_names names;
  static struct gt_tracer t;
  gt_names_init(&names, table, sizeof table);
  /* gt_tracer_register() without its OUT, which only a guest can execute. */
  volatile struct gt_region_header *h = (volatile struct gt_region_header *)region;
  h->magic = GT_REGION_MAGIC;
  h->capacity = CAPACITY;
  h->mode = GT_MODE_FLIGHT;
  t.region = h;
  t.slots = region + GT_REGION_HEADER_LENGTH;
  t.names = &names;
  t.capacity = CAPACITY;
  t.mask = CAPACITY - 1;
  t.flight = 1;
  t.enabled = 1;
  uint32_t name = gt_name(&t, "bench_span");

  uint64_t best = UINT64_MAX, best_off = UINT64_MAX;
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t start = gt_rdtsc();
    for (long i = 0; i < SPANS; i++) {
      gt_begin(&t, name);
      gt_end(&t, name);
    }
    uint64_t ticks = gt_rdtsc() - start;
    best = ticks < best ? ticks : best;
    t.enabled = 0;
    start = gt_rdtsc();
    for (long i = 0; i < SPANS; i++) {
      gt_begin(&t, name);
      gt_end(&t, name);
      __asm__ volatile("" ::: "memory");
    }
    ticks = gt_rdtsc() - start;
    best_off = ticks < best_off ? ticks : best_off;
    t.enabled = 1;
  }
  uint64_t rdtsc_best = UINT64_MAX;
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t start = gt_rdtsc();
    for (long i = 0; i < SPANS; i++) {
      (void)gt_rdtsc();
    }
    uint64_t ticks = gt_rdtsc() - start;
    rdtsc_best = ticks < rdtsc_best ? ticks : rdtsc_best;
  }
  double ns_per_tick = 1e6 / khz;
  printf("record (flight mode, %d slots): %.2f ns per record (%.1f ticks), best of %d x %ld spans\n",
         CAPACITY, best * ns_per_tick / (2.0 * SPANS), best / (2.0 * SPANS), ROUNDS, SPANS);
  printf("tracing off (enabled check only): %.2f ns per call\n", best_off * ns_per_tick / (2.0 * SPANS));
  printf("rdtsc alone: %.2f ns\n", rdtsc_best * ns_per_tick / SPANS);
  printf("records written: %llu, overwritten: %llu\n", (unsigned long long)t.write_sequence,
         (unsigned long long)t.overwritten_slots);
  return 0;
}
