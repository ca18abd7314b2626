/*
 * fib-floor: what a span per call costs a naive recursive Fibonacci when each record carries its
 * own TSC read, in C, natively on this CPU, with the C recorder itself (guesttrace.h, flight mode:
 * no exits). It is the floor under issue 15's guest-call loss targets for the fib guest: the same
 * recursion as Guest02Fib and fib.c, one span (two records, two rdtsc) per call, against the
 * same recursion untraced, and against the recursion with only the two rdtsc per call and no
 * record (what any tracer that stamps each event has to pay, Tracy and LTTng included). Not a
 * guest: built by hand or by `bench/figure floor`, not by the Maven build.
 *
 *   gcc -O2 -std=gnu11 -I../../../../../trace-guest-abi/src/main/c -o /tmp/fib-floor fib-floor.c
 *   /tmp/fib-floor
 *
 * Times with the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID), best of ROUNDS, so time spent
 * waiting for a core on a shared machine does not count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "native-tracer.h"

#define CAPACITY 2048
#define ROUNDS 7
#define TARGET_NODES 20000000L /* fib nodes per timed round: long enough for the CPU clock */

static _Alignas(64) uint8_t region[GT_REGION_HEADER_LENGTH + CAPACITY * GT_RECORD_LENGTH];
static _Alignas(64) uint8_t table[64 * 1024];
static struct gt_names names;
static struct gt_tracer tracer;
static uint32_t fib_name;
static volatile uint64_t sink; /* keeps the compiler from dropping a result or a TSC read */

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* noinline: the three variants recurse for real, as the guests do, rather than being unrolled. */
__attribute__((noinline)) static uint64_t fib_plain(uint64_t n) {
  return n < 2 ? n : fib_plain(n - 1) + fib_plain(n - 2);
}

__attribute__((noinline)) static uint64_t fib_clocked(uint64_t n) {
  uint64_t begin_tsc = gt_rdtsc();
  uint64_t result = n < 2 ? n : fib_clocked(n - 1) + fib_clocked(n - 2);
  uint64_t end_tsc = gt_rdtsc();
  return result + ((end_tsc - begin_tsc) >> 63); /* 0 on an invariant TSC; keeps both reads */
}

__attribute__((noinline)) static uint64_t fib_traced(uint64_t n) {
  gt_begin_args(&tracer, fib_name, n, 0);
  uint64_t result = n < 2 ? n : fib_traced(n - 1) + fib_traced(n - 2);
  gt_end(&tracer, fib_name);
  return result;
}

static uint64_t nodes(uint64_t n) { return n < 2 ? 1 : 1 + nodes(n - 1) + nodes(n - 2); }

/* Best CPU ns per fib(n) over ROUNDS rounds of `reps` calls. */
static double best_ns(uint64_t (*fib)(uint64_t), uint64_t n, long reps) {
  uint64_t best = UINT64_MAX;
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t start = cpu_ns();
    uint64_t acc = 0;
    for (long i = 0; i < reps; i++) {
      acc += fib(n);
      __asm__ volatile("" ::: "memory");
    }
    uint64_t elapsed = cpu_ns() - start;
    sink += acc;
    best = elapsed < best ? elapsed : best;
  }
  return (double)best / (double)reps;
}

int main(int argc, char **argv) {
  native_flight_tracer(&tracer, &names, region, CAPACITY, table, sizeof table);
  fib_name = gt_name(&tracer, "fib");

  printf("fib(n) natively, best of %d rounds, CPU ns per call (thread CPU clock); a span per fib call\n",
         ROUNDS);
  printf("%4s %8s %8s %12s %12s %12s %10s %10s\n", "n", "spans", "records", "untraced", "2 rdtsc/span",
         "traced", "loss rdtsc", "loss trace");
  int first = argc > 1 ? 1 : 0;
  static const uint64_t default_ns[] = {1, 5, 10, 15, 20};
  int count = argc > 1 ? argc - 1 : (int)(sizeof default_ns / sizeof default_ns[0]);
  for (int i = 0; i < count; i++) {
    uint64_t n = first ? strtoull(argv[i + 1], NULL, 10) : default_ns[i];
    if (n > 30) {
      fprintf(stderr, "fib-floor: n at most 30: %llu\n", (unsigned long long)n);
      return 2;
    }
    uint64_t spans = nodes(n);
    long reps = (long)(TARGET_NODES / (long)spans);
    reps = reps < 1 ? 1 : reps;
    double plain = best_ns(fib_plain, n, reps);
    double clocked = best_ns(fib_clocked, n, reps);
    double traced = best_ns(fib_traced, n, reps);
    printf("%4llu %8llu %8llu %12.1f %12.1f %12.1f %9.1f%% %9.1f%%\n", (unsigned long long)n,
           (unsigned long long)spans, (unsigned long long)(2 * spans), plain, clocked, traced,
           100.0 * (1.0 - plain / clocked), 100.0 * (1.0 - plain / traced));
  }
  uint64_t rdtsc_best = UINT64_MAX;
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t start = cpu_ns(), acc = 0;
    for (long i = 0; i < TARGET_NODES; i++) {
      acc += gt_rdtsc();
    }
    uint64_t elapsed = cpu_ns() - start;
    sink += acc;
    rdtsc_best = elapsed < rdtsc_best ? elapsed : rdtsc_best;
  }
  printf("rdtsc alone: %.2f ns; records written %llu (flight ring of %d slots)\n",
         (double)rdtsc_best / TARGET_NODES, (unsigned long long)tracer.write_sequence, CAPACITY);
  return 0;
}
