/*
 * guesttrace.h -- trace ABI 1.0 for native (C) guests: layouts, constants, and the recorder.
 *
 * Freestanding C11 (-std=c11 or later) for x86-64 (gcc or clang): no libc, only <stdint.h> and <stddef.h>, which
 * every freestanding implementation provides. Everything is `static inline`; include it in one or
 * many translation units.
 *
 * This header is the C twin of the Java classes in trace-guest-abi (dev.guesttrace.abi.*): every
 * constant below carries the value of the Java constant named in its comment, and a test
 * (trace-guest-abi, compiled with gcc) checks them against Java. The byte layouts are also pinned by
 * _Static_assert on offsetof, so a compiler cannot move a field. docs/abi.md is the normative text.
 *
 * The recorder (gt_tracer) writes exactly the bytes the Java guest's Tracer writes:
 *   - a record is one rdtsc, four 8-byte stores (the TSC word first), then a release store of
 *     writeSequence;
 *   - stream mode: when the ring is full, one OUT on GT_PORT_TRACE (EAX=GT_TRACE_OP_FLUSH,
 *     RDI=region address, RCX=guest TSC); flight mode: never exits, counts overwritten slots;
 *   - names are interned once into a name table shared by all vCPUs; records carry the id;
 *   - messages up to GT_MESSAGE_MAX_BYTES continue in CONTINUATION slots.
 *
 *   static struct gt_names names;          // shared by every vCPU
 *   static struct gt_tracer tracer;        // one per vCPU
 *   gt_names_init(&names, (void *)table_address, table_length);
 *   gt_tracer_register(&tracer, &names, region_address, capacity, GT_MODE_STREAM, vcpu_id);
 *   uint32_t parse = gt_name(&tracer, "parse");   // once
 *   gt_begin(&tracer, parse); ... gt_end(&tracer, parse);
 *   gt_flush(&tracer);                            // before halt
 *
 * Guest physical addresses are used as pointers: the host identity-maps guest memory.
 */
#ifndef GUESTTRACE_H
#define GUESTTRACE_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__x86_64__)
#error "guesttrace.h: the native guest ABI is defined for x86-64 only"
#endif

/* ---------------------------------------------------------------------------------------------
 * Version (AbiVersion): major << 16 | minor << 8 | patch.
 * ------------------------------------------------------------------------------------------- */
#define GT_ABI_MAJOR 1
#define GT_ABI_MINOR 0
#define GT_ABI_PATCH 0
#define GT_ABI_VERSION ((GT_ABI_MAJOR << 16) | (GT_ABI_MINOR << 8) | GT_ABI_PATCH)

/* ---------------------------------------------------------------------------------------------
 * Trace region (TraceRegionDescriptor): 64-byte header, then capacity slots of 32 bytes.
 * ------------------------------------------------------------------------------------------- */
#define GT_REGION_MAGIC 0x43525447u /* "GTRC" little-endian; MAGIC */
#define GT_REGION_MAGIC_OFFSET 0
#define GT_REGION_ABI_VERSION_OFFSET 4
#define GT_REGION_HEADER_LENGTH_OFFSET 8
#define GT_REGION_RECORD_LENGTH_OFFSET 10
#define GT_REGION_CAPACITY_OFFSET 12
#define GT_REGION_MODE_OFFSET 16
#define GT_REGION_VCPU_ID_OFFSET 20
#define GT_REGION_WRITE_SEQUENCE_OFFSET 24
#define GT_REGION_DROPPED_RECORDS_OFFSET 32
#define GT_REGION_OVERWRITTEN_SLOTS_OFFSET 40
#define GT_REGION_NAME_TABLE_ADDRESS_OFFSET 48
#define GT_REGION_NAME_TABLE_LENGTH_OFFSET 56
#define GT_REGION_FLUSH_COUNT_OFFSET 60
#define GT_REGION_HEADER_LENGTH 64
#define GT_MODE_STREAM 0 /* MODE_STREAM */
#define GT_MODE_FLIGHT 1 /* MODE_FLIGHT */
#define GT_REGION_MIN_CAPACITY 256
#define GT_REGION_MAX_CAPACITY (1u << 24)

/* ---------------------------------------------------------------------------------------------
 * Record slot (TraceRecordDescriptor).
 * ------------------------------------------------------------------------------------------- */
#define GT_RECORD_KIND_OFFSET 0
#define GT_RECORD_FLAGS_OFFSET 1
#define GT_RECORD_AUX_OFFSET 2
#define GT_RECORD_NAME_ID_OFFSET 4
#define GT_RECORD_TSC_OFFSET 8
#define GT_RECORD_ARG0_OFFSET 16
#define GT_RECORD_ARG1_OFFSET 24
#define GT_RECORD_LENGTH 32
#define GT_RECORD_SHIFT 5
#define GT_MESSAGE_INLINE_OFFSET 16
#define GT_MESSAGE_INLINE_BYTES 16
#define GT_CONTINUATION_PAYLOAD_OFFSET 1
#define GT_CONTINUATION_PAYLOAD_BYTES 31
#define GT_MESSAGE_MAX_BYTES 4096
#define GT_MESSAGE_MAX_CONTINUATIONS 132

/* Record kinds (RecordKind). */
#define GT_KIND_EMPTY 0
#define GT_KIND_SPAN_BEGIN 1
#define GT_KIND_SPAN_END 2
#define GT_KIND_MESSAGE 3
#define GT_KIND_CONTINUATION 4
#define GT_KIND_ALLOC 5
#define GT_KIND_FREE 6
#define GT_KIND_COUNTER 7
#define GT_KIND_MAX_KNOWN 7

/* ---------------------------------------------------------------------------------------------
 * Name table (NameTableDescriptor).
 * ------------------------------------------------------------------------------------------- */
#define GT_NAMES_MAGIC 0x544E5447u /* "GTNT" */
#define GT_NAMES_MAGIC_OFFSET 0
#define GT_NAMES_TABLE_LENGTH_OFFSET 4
#define GT_NAMES_NAME_COUNT_OFFSET 8
#define GT_NAMES_USED_LENGTH_OFFSET 12
#define GT_NAMES_HEADER_LENGTH 16
#define GT_NAMES_ENTRY_LENGTH_PREFIX 2
#define GT_NAMES_ENTRY_ALIGNMENT 4
#define GT_NAMES_NAME_MAX_BYTES 256
#define GT_NAMES_MAX_NAMES 65536
#define GT_NAMES_MAX_TABLE_LENGTH (4u << 20)

/* ---------------------------------------------------------------------------------------------
 * Exits (ExitPorts). Every OUT carries the guest TSC in RCX; EAX is the op or code.
 * ------------------------------------------------------------------------------------------- */
#define GT_PORT_TRACE 0x70
#define GT_PORT_HOST_CALL 0x71
#define GT_PORT_LOG 0x72
#define GT_PORT_ABORT 0x73
#define GT_TRACE_OP_REGISTER 1 /* RDI = region address, RSI = region length */
#define GT_TRACE_OP_FLUSH 2    /* RDI = region address */
/* REGISTER status: RAX when the guest resumes from REGISTER (docs/abi.md, "REGISTER status"). */
#define GT_REGISTER_ACCEPTED 0               /* REGISTER_ACCEPTED */
#define GT_REGISTER_NO_ANSWER 1              /* REGISTER_NO_ANSWER: RAX still the OUT value */
#define GT_REGISTER_REFUSED_TRACING_OFF 2    /* REGISTER_REFUSED_TRACING_OFF */
#define GT_REGISTER_REFUSED_OUTSIDE_MEMORY 3 /* REGISTER_REFUSED_OUTSIDE_MEMORY */
#define GT_REGISTER_REFUSED_BAD_MAGIC 4      /* REGISTER_REFUSED_BAD_MAGIC */
#define GT_REGISTER_REFUSED_ABI_INCOMPATIBLE 5 /* REGISTER_REFUSED_ABI_INCOMPATIBLE */
#define GT_REGISTER_REFUSED_BAD_HEADER 6     /* REGISTER_REFUSED_BAD_HEADER */
#define GT_REGISTER_REFUSED_VCPU 7           /* REGISTER_REFUSED_VCPU */
/* Host call status: RAX when the guest resumes from HOST_CALL; 0 = the input buffer holds the
 * result, otherwise it holds the error text as a STRING (docs/guests.md, "Host functions"). */
#define GT_HOST_CALL_OK 0
#define GT_HOST_CALL_UNKNOWN_FUNCTION 1
#define GT_HOST_CALL_MALFORMED 2
#define GT_HOST_CALL_FAILED 3
#define GT_HOST_CALL_RESULT_TOO_LARGE 4
#define GT_LOG_ERROR 1
#define GT_LOG_WARN 2
#define GT_LOG_INFO 3
#define GT_LOG_DEBUG 4

/* ---------------------------------------------------------------------------------------------
 * Guest memory and boot info (GuestLayout, BootInfo).
 * ------------------------------------------------------------------------------------------- */
#define GT_BOOT_INFO_ADDRESS 0x1000
#define GT_FIRST_FREE_ADDRESS 0x10000
#define GT_BOOT_MAGIC 0x49425447u /* "GTBI" */
#define GT_BOOT_MAGIC_OFFSET 0
#define GT_BOOT_ABI_VERSION_OFFSET 4
#define GT_BOOT_MEMORY_LENGTH_OFFSET 8
#define GT_BOOT_VCPU_COUNT_OFFSET 16
#define GT_BOOT_CALL_BUFFER_LENGTH_OFFSET 20
#define GT_BOOT_CALL_BUFFERS_ADDRESS_OFFSET 24
#define GT_BOOT_HEAP_ADDRESS_OFFSET 32
#define GT_BOOT_HEAP_LENGTH_OFFSET 40
#define GT_BOOT_RING_LENGTH_OFFSET 48
#define GT_BOOT_MODE_OFFSET 52
#define GT_BOOT_ARGS_LENGTH_OFFSET 56
#define GT_BOOT_ARGS_OFFSET 64
#define GT_BOOT_INFO_HEADER_LENGTH 64
#define GT_BOOT_ARGS_MAX_BYTES (4096 - GT_BOOT_INFO_HEADER_LENGTH)
#define GT_DEFAULT_CALL_BUFFER_LENGTH (16 * 1024)
#define GT_CALL_LENGTH_PREFIX 4
#define GT_BOOT_MODE_STREAM 0 /* BootInfo.MODE_STREAM */
#define GT_BOOT_MODE_FLIGHT 1 /* BootInfo.MODE_FLIGHT */
#define GT_BOOT_MODE_OFF 2    /* BootInfo.MODE_OFF */

/* Call buffer encoding (CallCodec). */
#define GT_CALL_TYPE_VOID 0
#define GT_CALL_TYPE_LONG 1
#define GT_CALL_TYPE_STRING 2
#define GT_CALL_TYPE_BYTES 3
#define GT_CALL_NAME_MAX_BYTES 256
#define GT_CALL_MAX_ARGS 32

/* ---------------------------------------------------------------------------------------------
 * The layouts as C structs, pinned to the offsets above.
 * ------------------------------------------------------------------------------------------- */
struct gt_region_header {
  uint32_t magic;
  uint32_t abi_version;
  uint16_t header_length;
  uint16_t record_length;
  uint32_t capacity;
  uint32_t mode;
  uint32_t vcpu_id;
  uint64_t write_sequence;
  uint64_t dropped_records;
  uint64_t overwritten_slots;
  uint64_t name_table_address;
  uint32_t name_table_length;
  uint32_t flush_count;
};

struct gt_record {
  uint8_t kind;
  uint8_t flags;
  uint16_t aux;
  uint32_t name_id;
  uint64_t tsc_ticks;
  uint64_t arg0;
  uint64_t arg1;
};

struct gt_names_header {
  uint32_t magic;
  uint32_t table_length;
  uint32_t name_count;
  uint32_t used_length;
};

struct gt_boot_info {
  uint32_t magic;
  uint32_t abi_version;
  uint64_t memory_length;
  uint32_t vcpu_count;
  uint32_t call_buffer_length;
  uint64_t call_buffers_address;
  uint64_t heap_address;
  uint64_t heap_length;
  uint32_t ring_length;
  uint32_t mode;
  uint32_t args_length;
  uint32_t reserved;
  /* args follow at GT_BOOT_ARGS_OFFSET */
};

#define GT_CHECK_OFFSET(type, field, offset) \
  _Static_assert(offsetof(struct type, field) == (offset), #type "." #field " offset")

GT_CHECK_OFFSET(gt_region_header, magic, GT_REGION_MAGIC_OFFSET);
GT_CHECK_OFFSET(gt_region_header, abi_version, GT_REGION_ABI_VERSION_OFFSET);
GT_CHECK_OFFSET(gt_region_header, header_length, GT_REGION_HEADER_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_region_header, record_length, GT_REGION_RECORD_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_region_header, capacity, GT_REGION_CAPACITY_OFFSET);
GT_CHECK_OFFSET(gt_region_header, mode, GT_REGION_MODE_OFFSET);
GT_CHECK_OFFSET(gt_region_header, vcpu_id, GT_REGION_VCPU_ID_OFFSET);
GT_CHECK_OFFSET(gt_region_header, write_sequence, GT_REGION_WRITE_SEQUENCE_OFFSET);
GT_CHECK_OFFSET(gt_region_header, dropped_records, GT_REGION_DROPPED_RECORDS_OFFSET);
GT_CHECK_OFFSET(gt_region_header, overwritten_slots, GT_REGION_OVERWRITTEN_SLOTS_OFFSET);
GT_CHECK_OFFSET(gt_region_header, name_table_address, GT_REGION_NAME_TABLE_ADDRESS_OFFSET);
GT_CHECK_OFFSET(gt_region_header, name_table_length, GT_REGION_NAME_TABLE_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_region_header, flush_count, GT_REGION_FLUSH_COUNT_OFFSET);
_Static_assert(sizeof(struct gt_region_header) == GT_REGION_HEADER_LENGTH, "region header size");

GT_CHECK_OFFSET(gt_record, kind, GT_RECORD_KIND_OFFSET);
GT_CHECK_OFFSET(gt_record, flags, GT_RECORD_FLAGS_OFFSET);
GT_CHECK_OFFSET(gt_record, aux, GT_RECORD_AUX_OFFSET);
GT_CHECK_OFFSET(gt_record, name_id, GT_RECORD_NAME_ID_OFFSET);
GT_CHECK_OFFSET(gt_record, tsc_ticks, GT_RECORD_TSC_OFFSET);
GT_CHECK_OFFSET(gt_record, arg0, GT_RECORD_ARG0_OFFSET);
GT_CHECK_OFFSET(gt_record, arg1, GT_RECORD_ARG1_OFFSET);
_Static_assert(sizeof(struct gt_record) == GT_RECORD_LENGTH, "record size");
_Static_assert((1 << GT_RECORD_SHIFT) == GT_RECORD_LENGTH, "record shift");
_Static_assert(GT_MESSAGE_MAX_CONTINUATIONS ==
                   (GT_MESSAGE_MAX_BYTES - GT_MESSAGE_INLINE_BYTES + GT_CONTINUATION_PAYLOAD_BYTES -
                    1) / GT_CONTINUATION_PAYLOAD_BYTES,
               "continuations of the longest message");

GT_CHECK_OFFSET(gt_names_header, magic, GT_NAMES_MAGIC_OFFSET);
GT_CHECK_OFFSET(gt_names_header, table_length, GT_NAMES_TABLE_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_names_header, name_count, GT_NAMES_NAME_COUNT_OFFSET);
GT_CHECK_OFFSET(gt_names_header, used_length, GT_NAMES_USED_LENGTH_OFFSET);
_Static_assert(sizeof(struct gt_names_header) == GT_NAMES_HEADER_LENGTH, "name table header");

GT_CHECK_OFFSET(gt_boot_info, magic, GT_BOOT_MAGIC_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, abi_version, GT_BOOT_ABI_VERSION_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, memory_length, GT_BOOT_MEMORY_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, vcpu_count, GT_BOOT_VCPU_COUNT_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, call_buffer_length, GT_BOOT_CALL_BUFFER_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, call_buffers_address, GT_BOOT_CALL_BUFFERS_ADDRESS_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, heap_address, GT_BOOT_HEAP_ADDRESS_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, heap_length, GT_BOOT_HEAP_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, ring_length, GT_BOOT_RING_LENGTH_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, mode, GT_BOOT_MODE_OFFSET);
GT_CHECK_OFFSET(gt_boot_info, args_length, GT_BOOT_ARGS_LENGTH_OFFSET);
_Static_assert(sizeof(struct gt_boot_info) == GT_BOOT_INFO_HEADER_LENGTH, "boot info header");

/* ---------------------------------------------------------------------------------------------
 * Small freestanding helpers (no libc).
 * ------------------------------------------------------------------------------------------- */
#define GT_LIKELY(x) __builtin_expect(!!(x), 1)
#define GT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/** The guest's time-stamp counter, in TSC ticks. */
static inline uint64_t gt_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/**
 * OUT port, EAX=value with RDI and RSI as given and the current guest TSC in RCX: one VM exit.
 * Returns EAX as the guest resumes: the host's status where the exit has one.
 * The host may read and write registers during the exit, so they are all declared clobbered; the
 * "memory" clobber orders every store before the exit, which is what lets the host read them.
 */
static inline uint32_t gt_out(uint16_t port, uint32_t value, uint64_t rdi, uint64_t rsi) {
  uint64_t tsc = gt_rdtsc();
  __asm__ volatile("outl %%eax, %%dx"
                   : "+a"(value), "+D"(rdi), "+S"(rsi), "+c"(tsc)
                   : "d"(port)
                   : "memory");
  /* EAX on resume: the host's answer where the exit has one (REGISTER, HOST_CALL status). */
  return value;
}

/** HLT with interrupts off: the host sees a HLT exit and the entry ends here. */
static inline __attribute__((noreturn)) void gt_hlt(void) {
  for (;;) {
    __asm__ volatile("cli; hlt" ::: "memory");
  }
}

/*
 * memcpy and memset as one string instruction each: fast on hardware (ERMS), and a single
 * instruction for a hypervisor that has to emulate the guest (KVM's non-PVM mode), where a byte
 * loop costs microseconds per iteration.
 */
static inline void gt_memcpy(void *dst, const void *src, size_t n) {
  __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static inline void gt_memset(void *dst, int value, size_t n) {
  __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(value) : "memory");
}

static inline size_t gt_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) {
    n++;
  }
  return n;
}

/**
 * The longest prefix of UTF-8 text s[0..len) of at most max bytes that ends on a character
 * boundary, as the Java guest cuts names and messages.
 */
static inline size_t gt_utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max) {
    return len;
  }
  size_t end = max;
  /* Back up over continuation bytes (10xxxxxx) so the cut lands on a character start. */
  while (end > 0 && ((uint8_t)s[end] & 0xC0) == 0x80) {
    end--;
  }
  return end;
}

/* ---------------------------------------------------------------------------------------------
 * Name table: append-only, shared by every vCPU, interning under a spin lock (names are interned
 * once each, off the hot path).
 * ------------------------------------------------------------------------------------------- */
struct gt_names {
  volatile uint8_t *table; /* guest address of the table (header included) */
  uint32_t table_length;
  uint32_t name_count;
  uint32_t used_length;
  uint32_t lock;
  uint64_t names_refused;
};

/** Formats an empty table of table_length bytes at table; returns 0, or -1 if it cannot. */
static inline int gt_names_init(struct gt_names *n, void *table, uint32_t table_length) {
  if (table_length < GT_NAMES_HEADER_LENGTH || table_length > GT_NAMES_MAX_TABLE_LENGTH) {
    return -1;
  }
  n->table = (volatile uint8_t *)table;
  n->table_length = table_length;
  n->name_count = 0;
  n->used_length = 0;
  n->lock = 0;
  n->names_refused = 0;
  gt_memset(table, 0, table_length);
  volatile struct gt_names_header *h = (volatile struct gt_names_header *)table;
  h->magic = GT_NAMES_MAGIC;
  h->table_length = table_length;
  return 0;
}

/** Guest address of the table. */
static inline uint64_t gt_names_address(const struct gt_names *n) {
  return (uint64_t)(uintptr_t)n->table;
}

/**
 * The id of the UTF-8 name s[0..len), writing it to the table the first time; a name longer than
 * GT_NAMES_NAME_MAX_BYTES is cut at a character boundary. Returns 0 (no name) if the table is full.
 */
static inline uint32_t gt_names_intern(struct gt_names *n, const char *s, size_t len) {
  len = gt_utf8_cut(s, len, GT_NAMES_NAME_MAX_BYTES);
  while (__atomic_exchange_n(&n->lock, 1u, __ATOMIC_ACQUIRE)) {
    __asm__ volatile("pause");
  }
  uint32_t id = 0;
  uint32_t offset = GT_NAMES_HEADER_LENGTH;
  for (uint32_t i = 1; i <= n->name_count; i++) {
    volatile uint8_t *entry = n->table + offset;
    uint32_t length = (uint32_t)entry[0] | (uint32_t)entry[1] << 8;
    if (length == len) {
      size_t k = 0;
      while (k < len && entry[GT_NAMES_ENTRY_LENGTH_PREFIX + k] == (uint8_t)s[k]) {
        k++;
      }
      if (k == len) {
        id = i;
        break;
      }
    }
    offset += (GT_NAMES_ENTRY_LENGTH_PREFIX + length + GT_NAMES_ENTRY_ALIGNMENT - 1) &
              ~(uint32_t)(GT_NAMES_ENTRY_ALIGNMENT - 1);
  }
  if (id == 0) {
    uint32_t entry_length = ((uint32_t)(GT_NAMES_ENTRY_LENGTH_PREFIX + len) +
                             GT_NAMES_ENTRY_ALIGNMENT - 1) &
                            ~(uint32_t)(GT_NAMES_ENTRY_ALIGNMENT - 1);
    if (n->name_count >= GT_NAMES_MAX_NAMES ||
        (uint64_t)GT_NAMES_HEADER_LENGTH + n->used_length + entry_length > n->table_length) {
      n->names_refused++;
    } else {
      volatile uint8_t *entry = n->table + GT_NAMES_HEADER_LENGTH + n->used_length;
      entry[0] = (uint8_t)len;
      entry[1] = (uint8_t)(len >> 8);
      for (size_t k = 0; k < len; k++) {
        entry[GT_NAMES_ENTRY_LENGTH_PREFIX + k] = (uint8_t)s[k];
      }
      n->used_length += entry_length;
      n->name_count++;
      volatile struct gt_names_header *h = (volatile struct gt_names_header *)n->table;
      /* Entry bytes first, then the used length, then the count that publishes them. */
      __atomic_store_n(&h->used_length, n->used_length, __ATOMIC_RELEASE);
      __atomic_store_n(&h->name_count, n->name_count, __ATOMIC_RELEASE);
      id = n->name_count;
    }
  }
  __atomic_store_n(&n->lock, 0u, __ATOMIC_RELEASE);
  return id;
}

/* ---------------------------------------------------------------------------------------------
 * The recorder: one gt_tracer per vCPU, used only by that vCPU.
 * ------------------------------------------------------------------------------------------- */
struct gt_tracer {
  volatile struct gt_region_header *region; /* NULL when disabled */
  uint8_t *slots;
  struct gt_names *names;
  uint64_t mask;
  uint64_t write_sequence;
  uint64_t flushed_sequence;
  uint64_t overwritten_slots;
  uint32_t capacity;
  uint32_t flush_count;
  uint32_t register_status; /* GT_REGISTER_*: what the host answered at REGISTER */
  int flight;
  int enabled;
};

/** Bytes of a region with capacity slots. */
static inline uint64_t gt_region_length(uint32_t capacity) {
  return GT_REGION_HEADER_LENGTH + ((uint64_t)capacity << GT_RECORD_SHIFT);
}

/** Whether capacity is a power of two in [GT_REGION_MIN_CAPACITY, GT_REGION_MAX_CAPACITY]. */
static inline int gt_valid_capacity(uint64_t capacity) {
  return capacity >= GT_REGION_MIN_CAPACITY && capacity <= GT_REGION_MAX_CAPACITY &&
         (capacity & (capacity - 1)) == 0;
}

/** Slots for a ring of ring_bytes (header not counted): largest power of two, 0 if too small. */
static inline uint32_t gt_capacity_for_ring_bytes(uint64_t ring_bytes) {
  uint64_t slots = ring_bytes / GT_RECORD_LENGTH;
  if (slots < GT_REGION_MIN_CAPACITY) {
    return 0;
  }
  if (slots > GT_REGION_MAX_CAPACITY) {
    slots = GT_REGION_MAX_CAPACITY;
  }
  return (uint32_t)(1ull << (63 - __builtin_clzll(slots)));
}

/** A tracer that records nothing (tracing off): every call returns at once. */
static inline void gt_tracer_disabled(struct gt_tracer *t, struct gt_names *names) {
  gt_memset(t, 0, sizeof(*t));
  t->names = names;
  t->capacity = GT_REGION_MIN_CAPACITY;
}

/** Slots handed to the host now (one OUT), with the guest TSC for calibration. */
static __attribute__((noinline, cold, unused)) void gt_force_flush(struct gt_tracer *t) {
  t->flush_count++;
  t->region->flush_count = t->flush_count;
  gt_out(GT_PORT_TRACE, GT_TRACE_OP_FLUSH, (uint64_t)(uintptr_t)t->region, 0);
  /* The OUT is synchronous: when it returns the host has read everything up to writeSequence. */
  t->flushed_sequence = t->write_sequence;
}

/**
 * Formats a trace region of capacity slots at region_address and registers it with the host (one
 * OUT). Returns 0 when the host accepted it (or did not answer: GT_REGISTER_NO_ANSWER), -1 if the
 * capacity is invalid, or the host's refusal (GT_REGISTER_REFUSED_*, or any other nonzero status a
 * later host may add): the host will never read a refused ring, so the tracer is disabled (no
 * records, no flush exits) and t->register_status says why.
 */
static inline int gt_tracer_register(struct gt_tracer *t, struct gt_names *names,
                                     uint64_t region_address, uint32_t capacity, int mode,
                                     uint32_t vcpu_id) {
  if (!gt_valid_capacity(capacity)) {
    return -1;
  }
  uint64_t length = gt_region_length(capacity);
  gt_memset((void *)(uintptr_t)region_address, 0, length);
  volatile struct gt_region_header *h = (volatile struct gt_region_header *)(uintptr_t)region_address;
  h->magic = GT_REGION_MAGIC;
  h->abi_version = GT_ABI_VERSION;
  h->header_length = GT_REGION_HEADER_LENGTH;
  h->record_length = GT_RECORD_LENGTH;
  h->capacity = capacity;
  h->mode = (uint32_t)mode;
  h->vcpu_id = vcpu_id;
  h->name_table_address = gt_names_address(names);
  h->name_table_length = names->table_length;
  t->region = h;
  t->slots = (uint8_t *)(uintptr_t)(region_address + GT_REGION_HEADER_LENGTH);
  t->names = names;
  t->capacity = capacity;
  t->mask = capacity - 1ull;
  t->write_sequence = 0;
  t->flushed_sequence = 0;
  t->overwritten_slots = 0;
  t->flush_count = 0;
  t->flight = mode == GT_MODE_FLIGHT;
  t->enabled = 1;
  uint32_t status = gt_out(GT_PORT_TRACE, GT_TRACE_OP_REGISTER, region_address, length);
  t->register_status = status;
  if (status != GT_REGISTER_ACCEPTED && status != GT_REGISTER_NO_ANSWER) {
    t->enabled = 0;
    return (int)status;
  }
  return 0;
}

/** The id of a NUL-terminated name, interning it the first time (keep the id: not hot path). */
static inline uint32_t gt_name(struct gt_tracer *t, const char *name) {
  return gt_names_intern(t->names, name, gt_strlen(name));
}

static inline void gt_publish(struct gt_tracer *t, uint64_t new_sequence) {
  if (t->flight) {
    /* Slots at sequences >= capacity reuse a slot written before. */
    uint64_t floor = t->write_sequence > t->capacity ? t->write_sequence : t->capacity;
    if (new_sequence > floor) {
      t->overwritten_slots += new_sequence - floor;
      t->region->overwritten_slots = t->overwritten_slots;
    }
  }
  t->write_sequence = new_sequence;
  __atomic_store_n(&t->region->write_sequence, new_sequence, __ATOMIC_RELEASE);
}

/** One record: rdtsc, four 8-byte stores, a release store of writeSequence. */
static inline __attribute__((always_inline)) void gt_record(struct gt_tracer *t, uint32_t kind,
                                                            uint32_t name_id, uint64_t arg0,
                                                            uint64_t arg1) {
  if (GT_UNLIKELY(!t->enabled)) {
    return;
  }
  uint64_t sequence = t->write_sequence;
  if (!t->flight && GT_UNLIKELY(sequence - t->flushed_sequence >= t->capacity)) {
    gt_force_flush(t);
  }
  volatile uint64_t *slot = (volatile uint64_t *)(t->slots + ((sequence & t->mask) << GT_RECORD_SHIFT));
  uint64_t tsc = gt_rdtsc();
  /* The TSC word first: over a slot of a flight ring's last lap it tells the host, if the vCPU is
   * stopped before the record is published, that the slot no longer holds the old record. */
  slot[1] = tsc;
  slot[0] = (uint64_t)kind | (uint64_t)name_id << 32;
  slot[2] = arg0;
  slot[3] = arg1;
  gt_publish(t, sequence + 1);
}

/** Begins a span named name_id. */
static inline void gt_begin(struct gt_tracer *t, uint32_t name_id) {
  gt_record(t, GT_KIND_SPAN_BEGIN, name_id, 0, 0);
}

/** Begins a span with two user arguments. */
static inline void gt_begin_args(struct gt_tracer *t, uint32_t name_id, uint64_t arg0,
                                 uint64_t arg1) {
  gt_record(t, GT_KIND_SPAN_BEGIN, name_id, arg0, arg1);
}

/** Ends the innermost open span, which name_id names. */
static inline void gt_end(struct gt_tracer *t, uint32_t name_id) {
  gt_record(t, GT_KIND_SPAN_END, name_id, 0, 0);
}

/** Records an allocation of size_bytes at guest address address. */
static inline void gt_alloc(struct gt_tracer *t, uint64_t address, uint64_t size_bytes) {
  gt_record(t, GT_KIND_ALLOC, 0, address, size_bytes);
}

/** Records a free of size_bytes (0 if unknown) at guest address address. */
static inline void gt_free(struct gt_tracer *t, uint64_t address, uint64_t size_bytes) {
  gt_record(t, GT_KIND_FREE, 0, address, size_bytes);
}

/** Records a sample of the counter name_id. */
static inline void gt_counter(struct gt_tracer *t, uint32_t name_id, int64_t value) {
  gt_record(t, GT_KIND_COUNTER, name_id, (uint64_t)value, 0);
}

static inline uint8_t *gt_slot(struct gt_tracer *t, uint64_t sequence) {
  return t->slots + ((sequence & t->mask) << GT_RECORD_SHIFT);
}

/**
 * Records a message of UTF-8 text[0..len), cut at a character boundary to GT_MESSAGE_MAX_BYTES:
 * the first 16 bytes in the MESSAGE slot, the rest in CONTINUATION slots of 31 bytes each.
 */
static inline void gt_message_n(struct gt_tracer *t, const char *text, size_t len) {
  if (!t->enabled) {
    return;
  }
  len = gt_utf8_cut(text, len, GT_MESSAGE_MAX_BYTES);
  uint32_t conts = len <= GT_MESSAGE_INLINE_BYTES
                       ? 0
                       : (uint32_t)((len - GT_MESSAGE_INLINE_BYTES + GT_CONTINUATION_PAYLOAD_BYTES - 1) /
                                    GT_CONTINUATION_PAYLOAD_BYTES);
  uint32_t slots = 1 + conts;
  if (!t->flight && t->write_sequence + slots - t->flushed_sequence > t->capacity) {
    gt_force_flush(t);
  }
  uint64_t first = t->write_sequence;
  uint64_t tsc = gt_rdtsc();
  uint64_t *slot = (uint64_t *)gt_slot(t, first);
  /* The TSC word first, stored before anything else of the message (see gt_record). */
  ((volatile uint64_t *)slot)[1] = tsc;
  __asm__ volatile("" ::: "memory");
  slot[0] = (uint64_t)GT_KIND_MESSAGE | (uint64_t)(len & 0xFFFF) << 16;
  slot[2] = 0;
  slot[3] = 0;
  size_t inline_bytes = len < GT_MESSAGE_INLINE_BYTES ? len : GT_MESSAGE_INLINE_BYTES;
  gt_memcpy((uint8_t *)slot + GT_MESSAGE_INLINE_OFFSET, text, inline_bytes);
  size_t done = inline_bytes;
  for (uint32_t c = 1; c <= conts; c++) {
    uint8_t *cont = gt_slot(t, first + c);
    gt_memset(cont, 0, GT_RECORD_LENGTH);
    cont[0] = GT_KIND_CONTINUATION;
    size_t chunk = len - done < GT_CONTINUATION_PAYLOAD_BYTES ? len - done
                                                               : GT_CONTINUATION_PAYLOAD_BYTES;
    gt_memcpy(cont + GT_CONTINUATION_PAYLOAD_OFFSET, text + done, chunk);
    done += chunk;
  }
  gt_publish(t, first + slots);
}

/** Records a NUL-terminated message. */
static inline void gt_message(struct gt_tracer *t, const char *text) {
  gt_message_n(t, text, gt_strlen(text));
}

/**
 * Hands every written record to the host now (one OUT). A no-op in flight mode, which never exits,
 * and when tracing is off.
 */
static inline void gt_flush(struct gt_tracer *t) {
  if (!t->enabled || t->flight) {
    return;
  }
  gt_force_flush(t);
}

#endif /* GUESTTRACE_H */
