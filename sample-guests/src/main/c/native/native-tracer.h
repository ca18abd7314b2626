/*
 * native-tracer.h: the C recorder (guesttrace.h) set up in an ordinary host process, for the
 * native measurements beside it (record-cost.c, fib-floor.c): what gt_tracer_register() does,
 * without its OUT, which only a guest can execute. Flight mode, so that no record ever needs an
 * exit: the ring just wraps.
 */
#ifndef NATIVE_TRACER_H
#define NATIVE_TRACER_H

#include "guesttrace.h"

/* Prepares `region` (GT_REGION_HEADER_LENGTH + capacity * GT_RECORD_LENGTH bytes, capacity a
 * power of two) and `t` as a registered flight-mode tracer whose names go to `table`. */
static inline void native_flight_tracer(struct gt_tracer *t, struct gt_names *names,
                                        uint8_t *region, uint32_t capacity, void *table,
                                        uint32_t table_length) {
  gt_names_init(names, table, table_length);
  volatile struct gt_region_header *h = (volatile struct gt_region_header *)region;
  h->magic = GT_REGION_MAGIC;
  h->capacity = capacity;
  h->mode = GT_MODE_FLIGHT;
  t->region = h;
  t->slots = region + GT_REGION_HEADER_LENGTH;
  t->names = names;
  t->capacity = capacity;
  t->mask = capacity - 1;
  t->flight = 1;
  t->enabled = 1;
}

#endif
