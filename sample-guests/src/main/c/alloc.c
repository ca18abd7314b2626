/*
 * alloc: the C twin of Guest03Alloc. A bump pointer + first-fit free list allocator in the vCPU's
 * share of the heap; each operation allocates 16..4096 bytes ("malloc" span + alloc record) or frees
 * a live block ("free" span + free record), all inside one "churn" span.
 *
 *   ./guesttrace run alloc --backend kvm --arg ops=20000 --arg leak=3
 */
#include "gtguest.h"

#define LIVE_SLOTS 64
#define HEADER 16
#define ALIGN 16
#define MIN_SPLIT 64

struct heap {
  uint64_t bump;
  uint64_t end;
  uint64_t free_head;
};

static uint64_t *block_word(uint64_t block, int index) {
  return (uint64_t *)(uintptr_t)(block + 8 * (uint64_t)index);
}

static uint64_t heap_malloc(struct heap *h, uint64_t bytes) {
  uint64_t size = ((bytes ? bytes : 1) + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
  uint64_t previous = 0;
  for (uint64_t block = h->free_head; block != 0; block = *block_word(block, 1)) {
    uint64_t block_size = *block_word(block, 0);
    if (block_size >= size) {
      uint64_t rest = *block_word(block, 1);
      if (block_size - size >= MIN_SPLIT + HEADER) {
        uint64_t tail = block + HEADER + size;
        *block_word(tail, 0) = block_size - size - HEADER;
        *block_word(tail, 1) = rest;
        rest = tail;
        *block_word(block, 0) = size;
      }
      if (previous == 0) {
        h->free_head = rest;
      } else {
        *block_word(previous, 1) = rest;
      }
      *block_word(block, 1) = 0;
      return block + HEADER;
    }
    previous = block;
  }
  if (h->end - h->bump < HEADER + size) {
    return 0;
  }
  uint64_t block = h->bump;
  h->bump += HEADER + size;
  *block_word(block, 0) = size;
  *block_word(block, 1) = 0;
  return block + HEADER;
}

static void heap_free(struct heap *h, uint64_t address) {
  uint64_t block = address - HEADER;
  *block_word(block, 1) = h->free_head;
  h->free_head = block;
}

static uint64_t xorshift(uint64_t x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

struct churn {
  struct gt_runtime *rt;
  struct heap heap;
  uint64_t live[LIVE_SLOTS];
  uint64_t sizes[LIVE_SLOTS];
  uint32_t free_name;
  int slow_free;
};

static void release(struct churn *c, int slot) {
  struct gt_tracer *t = &c->rt->tracer;
  uint64_t address = c->live[slot];
  uint64_t size = c->sizes[slot];
  gt_begin_args(t, c->free_name, size, 0);
  if (c->slow_free) {
    gt_spin(c->rt);
  }
  heap_free(&c->heap, address);
  gt_end(t, c->free_name);
  /* The size the guest asked for, as in the alloc record, so the host's live bytes balance. */
  gt_free(t, address, size);
  c->live[slot] = 0;
}

void guest_main(struct gt_runtime *rt) { (void)rt; }

void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  static struct churn churns[GT_MAX_VCPUS];
  if (!gt_name_is(call, "Churn")) {
    *result = gt_unknown_function(call, error, sizeof error);
    return;
  }
  int64_t ops = gt_long_arg(call, 0, gt_arg_long(rt, "ops", 1000, 0, 10000000));
  int64_t leak = gt_arg_long(rt, "leak", 0, 0, LIVE_SLOTS);
  int slow_malloc = gt_is_slow(rt, "malloc");
  struct churn *c = &churns[rt->vcpu_id];
  gt_memset(c, 0, sizeof *c);
  c->rt = rt;
  c->heap.bump = (rt->heap_address + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
  c->heap.end = rt->heap_address + rt->heap_length;
  c->slow_free = gt_is_slow(rt, "free");
  struct gt_tracer *t = &rt->tracer;
  uint32_t churn = gt_name(t, "churn");
  uint32_t malloc_name = gt_name(t, "malloc");
  c->free_name = gt_name(t, "free");
  uint64_t seed = 0x9E3779B97F4A7C15ull * (rt->vcpu_id + 1);
  gt_begin_args(t, churn, (uint64_t)ops, 0);
  for (int64_t op = 0; op < ops; op++) {
    seed = xorshift(seed);
    int slot = (int)((seed >> 33) % LIVE_SLOTS);
    if (c->live[slot] == 0) {
      uint64_t size = 16 + (seed >> 52) % 4081; /* 16..4096 */
      gt_begin_args(t, malloc_name, size, 0);
      if (slow_malloc) {
        gt_spin(rt);
      }
      uint64_t address = heap_malloc(&c->heap, size);
      gt_end(t, malloc_name);
      if (address != 0) {
        gt_alloc(t, address, size);
        gt_memset((void *)(uintptr_t)address, slot, size);
        c->live[slot] = address;
        c->sizes[slot] = size;
      }
    } else {
      release(c, slot);
    }
  }
  int64_t kept = 0;
  for (int slot = 0; slot < LIVE_SLOTS; slot++) {
    if (c->live[slot] != 0) {
      if (kept < leak) {
        kept++;
      } else {
        release(c, slot);
      }
    }
  }
  gt_end(t, churn);
  *result = gt_long(kept);
}
