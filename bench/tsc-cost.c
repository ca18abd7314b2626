/* The cost of the three ways to read the TSC, for docs/performance.md ("The record path"):
 * rdtsc, rdtscp, lfence + rdtsc; best of 5 loops of 10 M reads, thread CPU time (steady on a
 * machine shared with other work).  gcc -O2 -o /tmp/tsc-cost bench/tsc-cost.c && /tmp/tsc-cost */
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <x86intrin.h>
static double cpu(){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(){
  const long N=10000000; volatile uint64_t sink; unsigned aux; double best[3]={1e9,1e9,1e9};
  for(int r=0;r<5;r++){
    double t0=cpu(); uint64_t s=0; for(long i=0;i<N;i++) s+=__rdtsc(); sink=s; double t1=cpu();
    s=0; for(long i=0;i<N;i++) s+=__rdtscp(&aux); sink=s; double t2=cpu();
    s=0; for(long i=0;i<N;i++){ _mm_lfence(); s+=__rdtsc();} sink=s; double t3=cpu();
    double v[3]={(t1-t0)/N,(t2-t1)/N,(t3-t2)/N}; for(int k=0;k<3;k++) if(v[k]<best[k]) best[k]=v[k];
  }
  printf("best of 5 x 10M, thread CPU time: rdtsc %.2f ns, rdtscp %.2f ns, lfence+rdtsc %.2f ns\n",best[0],best[1],best[2]);
}
