/*
 * record-cost: the C recorder's record path (guesttrace.h, flight mode: no exits) run as an
 * ordinary host process on this CPU, to time what a guest under hardware virtualization executes
 * (rdtsc is not trapped there: the CPU applies the TSC offset/scale itself). Not a guest: it is
 * built by hand, not by the Maven build.
 *
 *   gcc -O2 -std=gnu11 -I../../../../../trace-guest-abi/src/main/c -o /tmp/record-cost record-cost.c
 *   /tmp/record-cost
 *
 * Times with the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID), best of 5, so time spent waiting
 * for a core on a shared machine does not count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "native-tracer.h"

#define CAPACITY 2048
#define SPANS 10000000L
#define ROUNDS 5

static _Alignas(64) uint8_t region[GT_REGION_HEADER_LENGTH + CAPACITY * GT_RECORD_LENGTH];
static _Alignas(64) uint8_t table[64 * 1024];

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void) {
  static struct gt_names names;
  static struct gt_tracer t;
  native_flight_tracer(&t, &names, region, CAPACITY, table, sizeof table);
  uint32_t name = gt_name(&t, "bench_span");

  uint64_t best = UINT64_MAX, best_off = UINT64_MAX;
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t start = cpu_ns();
    for (long i = 0; i < SPANS; i++) {
      gt_begin(&t, name);
      gt_end(&t, name);
    }
    uint64_t ticks = cpu_ns() - start;
    best = ticks < best ? ticks : best;
    t.enabled = 0;
    start = cpu_ns();
    for (long i = 0; i < SPANS; i++) {
      gt_begin(&t, name);
      gt_end(&t, name);
      __asm__ volatile("" ::: "memory");
    }
    ticks = cpu_ns() - start;
    best_off = ticks < best_off ? ticks : best_off;
    t.enabled = 1;
  }
  uint64_t rdtsc_best = UINT64_MAX;
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t start = cpu_ns();
    for (long i = 0; i < SPANS; i++) {
      (void)gt_rdtsc();
    }
    uint64_t ticks = cpu_ns() - start;
    rdtsc_best = ticks < rdtsc_best ? ticks : rdtsc_best;
  }
  printf("record (flight mode, %d slots): %.2f ns per record, best of %d x %ld spans\n", CAPACITY,
         best / (2.0 * SPANS), ROUNDS, SPANS);
  printf("tracing off (enabled check only): %.2f ns per call\n", best_off / (2.0 * SPANS));
  printf("rdtsc alone: %.2f ns\n", rdtsc_best / (double)SPANS);
  printf("records written: %llu, overwritten: %llu\n", (unsigned long long)t.write_sequence,
         (unsigned long long)t.overwritten_slots);
  return 0;
}
