/*
 * gtguest.h -- the guest library for native (C) guests on the KVM backend: the twin of the Java
 * guest runtime dev.guesttrace.guest.GuestRuntime.
 *
 * It reads the boot info, lays out the name table, the per-vCPU trace regions and the heap exactly
 * as GuestRuntime does, registers the trace region, decodes guest calls from the input buffer and
 * encodes results, host calls, logs, abort and halt (CallCodec's encoding), and traces its own
 * plumbing under the span names and messages GuestRuntime uses (Hyperlight's names), so a C guest
 * shows the same tree as its Java twin.
 *
 * A guest program defines two functions and includes this header in exactly one file:
 *
 *   void guest_main(struct gt_runtime *rt);            // at boot, inside hyperlight_main
 *   void guest_call(struct gt_runtime *rt,             // one guest call, inside
 *                   const struct gt_call *call,        //   call_guest_function
 *                   struct gt_value *result);          // set the value returned to the host
 *
 * Entry (KVM backend, dev.guesttrace.vm.kvm.KvmVm): the ELF entry _start (start.S), 64-bit mode,
 * RSP at the vCPU's stack, RDI = 0 (boot) or 1 (dispatch), RSI = vCPU id; _start calls gt_entry
 * below. Each entry ends with HLT. guest.mk builds a guest from one .c file with start.S and
 * guest.ld; docs/guests.md is the tutorial and the contract (stack, memory, CPU state).
 */
#ifndef GTGUEST_H
#define GTGUEST_H

#include "guesttrace.h"

/* Bytes of the name table every vCPU shares (GuestRuntime.NAME_TABLE_LENGTH). */
#define GT_NAME_TABLE_LENGTH (64 * 1024)
/* Ring bytes per vCPU when the host asks for none (GuestRuntime.DEFAULT_RING_BYTES). */
#define GT_DEFAULT_RING_BYTES (64 * 1024)
#define GT_PAGE 4096ull
#define GT_MAX_VCPUS 64

/* A value of the call encoding; STRING and BYTES point into a call buffer. */
struct gt_value {
  uint32_t type;
  int64_t i64;
  const uint8_t *data;
  uint32_t length;
};

/* A decoded guest call; the name and byte arguments point into the input buffer. */
struct gt_call {
  const char *name;
  uint32_t name_length;
  uint32_t argc;
  struct gt_value args[GT_CALL_MAX_ARGS];
};

struct gt_runtime_names {
  uint32_t entrypoint, load_gdt, load_idt, init_idt, hyperlight_main, halt, dispatch_function,
      internal_dispatch_function, try_pop_shared_input_data_into, call_guest_function,
      call_host_function, call_host_function_without_returning_result, push_shared_output_data,
      out32, get_host_return_value;
};

/* One vCPU's runtime. */
struct gt_runtime {
  uint32_t vcpu_id;
  volatile struct gt_boot_info *boot;
  struct gt_tracer tracer;
  uint8_t *input;
  uint8_t *output;
  uint32_t call_buffer_length;
  uint64_t heap_address; /* this vCPU's share of the guest heap */
  uint64_t heap_length;
  struct gt_runtime_names n;
  int ready;
};

void guest_main(struct gt_runtime *rt);
void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result);

static struct gt_names gt_shared_names;
static uint32_t gt_names_state; /* 0 unformatted, 1 formatting, 2 ready */
static struct gt_runtime gt_runtimes[GT_MAX_VCPUS];

/* ---- values --------------------------------------------------------------------------------- */

static inline struct gt_value gt_void(void) {
  struct gt_value v = {GT_CALL_TYPE_VOID, 0, 0, 0};
  return v;
}

static inline struct gt_value gt_long(int64_t x) {
  struct gt_value v = {GT_CALL_TYPE_LONG, x, 0, 0};
  return v;
}

static inline struct gt_value gt_string_n(const char *s, size_t n) {
  struct gt_value v = {GT_CALL_TYPE_STRING, 0, (const uint8_t *)s, (uint32_t)n};
  return v;
}

static inline struct gt_value gt_string(const char *s) { return gt_string_n(s, gt_strlen(s)); }

static inline int gt_name_is(const struct gt_call *call, const char *name) {
  size_t n = gt_strlen(name);
  if (n != call->name_length) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (call->name[i] != name[i]) {
      return 0;
    }
  }
  return 1;
}

/* Argument i as a long, or fallback if missing or of another type (FunctionCall.longArg). */
static inline int64_t gt_long_arg(const struct gt_call *call, uint32_t i, int64_t fallback) {
  return i < call->argc && call->args[i].type == GT_CALL_TYPE_LONG ? call->args[i].i64 : fallback;
}

/* ---- the call encoding (CallCodec) ----------------------------------------------------------- */

struct gt_writer {
  uint8_t *base;
  uint32_t position;
  uint32_t limit;
  int overflow;
};

static inline void gt_put(struct gt_writer *w, const void *bytes, uint32_t n) {
  if (w->overflow || n > w->limit - w->position) {
    w->overflow = 1;
    return;
  }
  gt_memcpy(w->base + w->position, bytes, n);
  w->position += n;
}

static inline void gt_put_u8(struct gt_writer *w, uint8_t v) { gt_put(w, &v, 1); }
static inline void gt_put_u16(struct gt_writer *w, uint16_t v) { gt_put(w, &v, 2); }
static inline void gt_put_u32(struct gt_writer *w, uint32_t v) { gt_put(w, &v, 4); }

static inline void gt_put_value(struct gt_writer *w, const struct gt_value *v) {
  gt_put_u8(w, (uint8_t)v->type);
  switch (v->type) {
    case GT_CALL_TYPE_LONG:
      gt_put(w, &v->i64, 8);
      break;
    case GT_CALL_TYPE_STRING:
    case GT_CALL_TYPE_BYTES:
      gt_put_u32(w, v->length);
      gt_put(w, v->data, v->length);
      break;
    default:
      break;
  }
}

static inline struct gt_writer gt_message_writer(uint8_t *buffer, uint32_t limit) {
  struct gt_writer w = {buffer, GT_CALL_LENGTH_PREFIX, limit, limit < GT_CALL_LENGTH_PREFIX};
  return w;
}

/* Writes the length prefix; returns bytes written, or -1 if the message did not fit. */
static inline int64_t gt_finish(struct gt_writer *w) {
  if (w->overflow) {
    return -1;
  }
  uint32_t payload = w->position - GT_CALL_LENGTH_PREFIX;
  gt_memcpy(w->base, &payload, 4);
  return w->position;
}

/* CallCodec.writeCall. */
static inline int64_t gt_write_call(uint8_t *buffer, uint32_t limit, const char *name,
                                    const struct gt_value *args, uint32_t argc) {
  size_t name_length = gt_strlen(name);
  if (name_length > GT_CALL_NAME_MAX_BYTES || argc > GT_CALL_MAX_ARGS) {
    return -1;
  }
  struct gt_writer w = gt_message_writer(buffer, limit);
  gt_put_u16(&w, (uint16_t)name_length);
  gt_put(&w, name, (uint32_t)name_length);
  gt_put_u16(&w, (uint16_t)argc);
  for (uint32_t i = 0; i < argc; i++) {
    gt_put_value(&w, &args[i]);
  }
  return gt_finish(&w);
}

/* CallCodec.writeValue. */
static inline int64_t gt_write_value(uint8_t *buffer, uint32_t limit, const struct gt_value *v) {
  struct gt_writer w = gt_message_writer(buffer, limit);
  gt_put_value(&w, v);
  return gt_finish(&w);
}

struct gt_reader {
  const uint8_t *p;
  const uint8_t *end;
  int error;
};

static inline int gt_need(struct gt_reader *r, uint64_t n) {
  if (r->error || n > (uint64_t)(r->end - r->p)) {
    r->error = 1;
    return 0;
  }
  return 1;
}

static inline uint32_t gt_get_u(struct gt_reader *r, uint32_t bytes) {
  if (!gt_need(r, bytes)) {
    return 0;
  }
  uint32_t v = 0;
  for (uint32_t i = 0; i < bytes; i++) {
    v |= (uint32_t)r->p[i] << (8 * i);
  }
  r->p += bytes;
  return v;
}

static inline void gt_get_value(struct gt_reader *r, struct gt_value *v) {
  *v = gt_void();
  v->type = gt_get_u(r, 1);
  switch (v->type) {
    case GT_CALL_TYPE_VOID:
      break;
    case GT_CALL_TYPE_LONG:
      if (gt_need(r, 8)) {
        gt_memcpy(&v->i64, r->p, 8);
        r->p += 8;
      }
      break;
    case GT_CALL_TYPE_STRING:
    case GT_CALL_TYPE_BYTES:
      v->length = gt_get_u(r, 4);
      if (gt_need(r, v->length)) {
        v->data = r->p;
        r->p += v->length;
      }
      break;
    default:
      r->error = 1;
  }
}

/* Opens a message in a buffer of limit bytes, checking its length prefix. */
static inline struct gt_reader gt_message_reader(const uint8_t *buffer, uint32_t limit) {
  struct gt_reader r = {buffer, buffer, 0};
  if (limit < GT_CALL_LENGTH_PREFIX) {
    r.error = 1;
    return r;
  }
  uint32_t length;
  gt_memcpy(&length, buffer, 4);
  if (length > limit - GT_CALL_LENGTH_PREFIX) {
    r.error = 1;
    return r;
  }
  r.p = buffer + GT_CALL_LENGTH_PREFIX;
  r.end = r.p + length;
  return r;
}

/* CallCodec.readCall; returns 0, or -1 for a malformed message. */
static inline int gt_read_call(const uint8_t *buffer, uint32_t limit, struct gt_call *call) {
  struct gt_reader r = gt_message_reader(buffer, limit);
  call->name_length = gt_get_u(&r, 2);
  if (call->name_length > GT_CALL_NAME_MAX_BYTES || !gt_need(&r, call->name_length)) {
    return -1;
  }
  call->name = (const char *)r.p;
  r.p += call->name_length;
  call->argc = gt_get_u(&r, 2);
  if (call->argc > GT_CALL_MAX_ARGS) {
    return -1;
  }
  for (uint32_t i = 0; i < call->argc && !r.error; i++) {
    gt_get_value(&r, &call->args[i]);
    if (call->args[i].type == GT_CALL_TYPE_VOID) {
      return -1;
    }
  }
  return r.error ? -1 : 0;
}

/* CallCodec.readValue; returns 0, or -1 for a malformed message. */
static inline int gt_read_value(const uint8_t *buffer, uint32_t limit, struct gt_value *v) {
  struct gt_reader r = gt_message_reader(buffer, limit);
  gt_get_value(&r, v);
  return r.error ? -1 : 0;
}

/* ---- exits ----------------------------------------------------------------------------------- */

/* Puts u32 length and UTF-8 text, cut to fit, in the output buffer. */
static inline void gt_put_output_text(struct gt_runtime *rt, const char *text, size_t len) {
  len = gt_utf8_cut(text, len, rt->call_buffer_length - GT_CALL_LENGTH_PREFIX);
  uint32_t n = (uint32_t)len;
  gt_memcpy(rt->output, &n, 4);
  gt_memcpy(rt->output + GT_CALL_LENGTH_PREFIX, text, len);
}

/* "[info] " and the like: how a log line's level reads in the trace (GuestRuntime.logPrefix). */
static inline const char *gt_log_prefix(uint32_t level) {
  switch (level) {
    case GT_LOG_ERROR:
      return "[error] ";
    case GT_LOG_WARN:
      return "[warn] ";
    case GT_LOG_INFO:
      return "[info] ";
    case GT_LOG_DEBUG:
      return "[debug] ";
    default:
      return "[log] ";
  }
}

/*
 * Sends a log line to the host (one OUT on the LOG port: `guesttrace run` prints it on stderr with
 * its level and vCPU) and records it as a message, "[level] text", so that the line is in the
 * trace file, in the tree at its place and in OTLP as a span event.
 */
static inline void gt_log(struct gt_runtime *rt, uint32_t level, const char *text) {
  size_t length = gt_strlen(text);
  if (rt->tracer.enabled) {
    static char lines[GT_MAX_VCPUS][GT_MESSAGE_MAX_BYTES];
    char *line = lines[rt->vcpu_id];
    const char *prefix = gt_log_prefix(level);
    size_t p = gt_strlen(prefix);
    size_t n = gt_utf8_cut(text, length, GT_MESSAGE_MAX_BYTES - p);
    gt_memcpy(line, prefix, p);
    gt_memcpy(line + p, text, n);
    gt_message_n(&rt->tracer, line, p + n);
  }
  gt_put_output_text(rt, text, length);
  gt_out(GT_PORT_LOG, level, 0, 0);
}

/* Aborts without flushing: records since the last flush stay in the ring for the host. */
static inline __attribute__((noreturn)) void gt_abort_without_flush(struct gt_runtime *rt,
                                                                    uint32_t code,
                                                                    const char *message) {
  gt_put_output_text(rt, message, gt_strlen(message));
  gt_out(GT_PORT_ABORT, code, 0, 0);
  gt_hlt();
}

/* Aborts as a panic handler would: flush, message in the output buffer, OUT on the abort port. */
static inline __attribute__((noreturn)) void gt_abort(struct gt_runtime *rt, uint32_t code,
                                                      const char *message) {
  gt_flush(&rt->tracer);
  gt_abort_without_flush(rt, code, message);
}

/* Halts as Hyperlight's guest does: a halt span around the final flush, then HLT. */
static inline __attribute__((noreturn)) void gt_halt(struct gt_runtime *rt) {
  gt_begin(&rt->tracer, rt->n.halt);
  gt_flush(&rt->tracer);
  gt_end(&rt->tracer, rt->n.halt);
  gt_hlt();
}

/* try_pop_shared_input_data_into: decodes the input buffer as a call or a value. */
static inline int gt_pop_input(struct gt_runtime *rt, struct gt_call *call, struct gt_value *value) {
  struct gt_tracer *t = &rt->tracer;
  gt_begin(t, rt->n.try_pop_shared_input_data_into);
  gt_message(t, "Start converting buffer");
  int status = call != 0 ? gt_read_call(rt->input, rt->call_buffer_length, call)
                         : gt_read_value(rt->input, rt->call_buffer_length, value);
  gt_message(t, "Finish converting buffer");
  gt_end(t, rt->n.try_pop_shared_input_data_into);
  return status;
}

/*
 * Calls a host function through the output buffer and one OUT, traced as Hyperlight traces it.
 * The result's STRING/BYTES data points into the input buffer until the next call. Returns 0 with
 * the function's result, -1 if the host's answer was malformed, or the host's error status
 * (GT_HOST_CALL_UNKNOWN_FUNCTION, _MALFORMED, _FAILED, _RESULT_TOO_LARGE, or any other nonzero
 * status a later host adds) with *result the error text (a STRING): an error is never a result.
 */
static inline int gt_call_host(struct gt_runtime *rt, const char *function,
                               const struct gt_value *args, uint32_t argc,
                               struct gt_value *result) {
  struct gt_tracer *t = &rt->tracer;
  struct gt_runtime_names *n = &rt->n;
  gt_begin(t, n->call_host_function);
  gt_begin(t, n->call_host_function_without_returning_result);
  gt_begin(t, n->push_shared_output_data);
  gt_message(t, "Start copy of data");
  int64_t written = gt_write_call(rt->output, rt->call_buffer_length, function, args, argc);
  gt_message(t, "Finish copy of data");
  gt_end(t, n->push_shared_output_data);
  if (written < 0) {
    gt_abort(rt, 2, "host call does not fit the output buffer");
  }
  gt_begin(t, n->out32);
  uint32_t host_status = gt_out(GT_PORT_HOST_CALL, 0, 0, 0);
  gt_end(t, n->out32);
  gt_end(t, n->call_host_function_without_returning_result);
  gt_begin(t, n->get_host_return_value);
  int status = gt_pop_input(rt, 0, result);
  gt_end(t, n->get_host_return_value);
  gt_end(t, n->call_host_function);
  return status != 0 ? status : (int)host_status;
}

/* ---- boot arguments ("key=value\n" lines) ---------------------------------------------------- */

/* The value of --arg key, or NULL; *length receives its length. */
static inline const char *gt_arg(struct gt_runtime *rt, const char *key, size_t *length) {
  volatile struct gt_boot_info *boot = rt->boot;
  uint32_t args_length = boot->args_length;
  if (args_length > GT_BOOT_ARGS_MAX_BYTES) {
    args_length = GT_BOOT_ARGS_MAX_BYTES;
  }
  const char *args = (const char *)(uintptr_t)(GT_BOOT_INFO_ADDRESS + GT_BOOT_ARGS_OFFSET);
  size_t key_length = gt_strlen(key);
  size_t line = 0;
  while (line < args_length) {
    size_t end = line;
    while (end < args_length && args[end] != '\n') {
      end++;
    }
    if (end - line > key_length && args[line + key_length] == '=') {
      size_t k = 0;
      while (k < key_length && args[line + k] == key[k]) {
        k++;
      }
      if (k == key_length) {
        *length = end - line - key_length - 1;
        return args + line + key_length + 1;
      }
    }
    line = end + 1;
  }
  return 0;
}

/* A numeric --arg, clamped to min..max; fallback if absent or not a number (Samples.longArg). */
static inline int64_t gt_arg_long(struct gt_runtime *rt, const char *key, int64_t fallback,
                                  int64_t min, int64_t max) {
  size_t length;
  const char *text = gt_arg(rt, key, &length);
  int64_t value = fallback;
  if (text != 0 && length > 0) {
    size_t i = 0;
    while (i < length && text[i] == ' ') {
      i++;
    }
    int negative = i < length && text[i] == '-';
    i += negative;
    int64_t parsed = 0;
    int digits = 0;
    while (i < length && text[i] >= '0' && text[i] <= '9' && digits < 18) {
      parsed = parsed * 10 + (text[i] - '0');
      digits++;
      i++;
    }
    while (i < length && text[i] == ' ') {
      i++;
    }
    if (digits > 0 && i == length) {
      value = negative ? -parsed : parsed;
    }
  }
  return value < min ? min : value > max ? max : value;
}

/* Whether --arg slow=NAME names function (ASCII case-insensitive), as Samples.isSlow. */
static inline int gt_is_slow(struct gt_runtime *rt, const char *function) {
  size_t length;
  const char *text = gt_arg(rt, "slow", &length);
  if (text == 0 || length != gt_strlen(function)) {
    return 0;
  }
  for (size_t i = 0; i < length; i++) {
    char a = text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] + 32) : text[i];
    char b = function[i] >= 'A' && function[i] <= 'Z' ? (char)(function[i] + 32) : function[i];
    if (a != b) {
      return 0;
    }
  }
  return 1;
}

/*
 * Busy-waits --arg slowMicros (default 50) microseconds, counted in TSC ticks at --arg tscKhz
 * (default 2,500,000 kHz: a guest has no host clock; the host may pass KVM_GET_TSC_KHZ).
 */
static inline void gt_spin(struct gt_runtime *rt) {
  int64_t micros = gt_arg_long(rt, "slowMicros", 50, 0, 1000000);
  int64_t khz = gt_arg_long(rt, "tscKhz", 2500000, 1000, 100000000);
  uint64_t deadline = gt_rdtsc() + (uint64_t)(micros * khz / 1000);
  while (gt_rdtsc() < deadline) {
    __asm__ volatile("pause");
  }
}

/* The reply to a call of a function the guest does not have (Samples.unknownFunction). */
static inline struct gt_value gt_unknown_function(const struct gt_call *call, char *buffer,
                                                  size_t capacity) {
  static const char prefix[] = "error: unknown guest function: ";
  size_t n = sizeof(prefix) - 1;
  size_t total = n + call->name_length;
  if (total > capacity) {
    total = capacity;
  }
  gt_memcpy(buffer, prefix, n < total ? n : total);
  if (total > n) {
    gt_memcpy(buffer + n, call->name, total - n);
  }
  return gt_string_n(buffer, total);
}

/* ---- boot and dispatch ----------------------------------------------------------------------- */

/* RAX at the fault of a guest that refused the boot info (BootInfoDescriptor.REFUSED_MARKER). */
#define GT_BOOT_REFUSED_MARKER 0x46524247u /* "GBRF" */

static inline __attribute__((noreturn)) void gt_bad_boot(volatile struct gt_boot_info *boot) {
  /* No boot info to trust means no call buffers to put a message in: fault with the marker, the
   * guest's ABI version, the magic and the version it found in RAX, RBX, RCX and RDX, from which
   * the host names the cause (docs/guests.md, "A guest that refuses to run"). */
  __asm__ volatile("ud2"
                   :
                   : "a"(GT_BOOT_REFUSED_MARKER), "b"((uint32_t)GT_ABI_VERSION),
                     "c"(boot->magic), "d"(boot->abi_version));
  gt_hlt();
}

static inline uint64_t gt_round_page(uint64_t bytes) { return (bytes + GT_PAGE - 1) & ~(GT_PAGE - 1); }

/* Sets up vCPU vcpu as GuestRuntime's constructor does: layout, name table, trace region, names. */
static inline struct gt_runtime *gt_runtime_for(uint32_t vcpu) {
  volatile struct gt_boot_info *boot = (volatile struct gt_boot_info *)(uintptr_t)GT_BOOT_INFO_ADDRESS;
  if (boot->magic != GT_BOOT_MAGIC || (boot->abi_version >> 16) != GT_ABI_MAJOR ||
      boot->vcpu_count == 0 || boot->vcpu_count > GT_MAX_VCPUS || vcpu >= boot->vcpu_count) {
    gt_bad_boot(boot);
  }
  struct gt_runtime *rt = &gt_runtimes[vcpu];
  if (rt->ready) {
    return rt;
  }
  uint32_t expected = 0;
  if (__atomic_compare_exchange_n(&gt_names_state, &expected, 1u, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE)) {
    gt_names_init(&gt_shared_names, (void *)(uintptr_t)boot->heap_address, GT_NAME_TABLE_LENGTH);
    __atomic_store_n(&gt_names_state, 2u, __ATOMIC_RELEASE);
  } else {
    while (__atomic_load_n(&gt_names_state, __ATOMIC_ACQUIRE) != 2u) {
      __asm__ volatile("pause");
    }
  }
  rt->vcpu_id = vcpu;
  rt->boot = boot;
  uint32_t ring_bytes = boot->ring_length == 0 ? GT_DEFAULT_RING_BYTES : boot->ring_length;
  uint32_t capacity = gt_capacity_for_ring_bytes(ring_bytes);
  if (capacity == 0) {
    capacity = GT_REGION_MIN_CAPACITY;
  }
  uint64_t region_stride = gt_round_page(gt_region_length(capacity));
  uint64_t regions_address = boot->heap_address + GT_NAME_TABLE_LENGTH;
  uint64_t own_heap_start = regions_address + region_stride * boot->vcpu_count;
  int64_t own_heap_total = (int64_t)(boot->heap_address + boot->heap_length - own_heap_start);
  int64_t per_vcpu = (own_heap_total / (int64_t)boot->vcpu_count) & ~(int64_t)(GT_PAGE - 1);
  rt->heap_address = own_heap_start + (uint64_t)per_vcpu * vcpu;
  rt->heap_length = per_vcpu > 0 ? (uint64_t)per_vcpu : 0;
  rt->call_buffer_length = boot->call_buffer_length;
  rt->input = (uint8_t *)(uintptr_t)(boot->call_buffers_address +
                                     (uint64_t)vcpu * 2 * boot->call_buffer_length);
  rt->output = rt->input + boot->call_buffer_length;
  if (boot->mode == GT_BOOT_MODE_OFF) {
    gt_tracer_disabled(&rt->tracer, &gt_shared_names);
  } else {
    int mode = boot->mode == GT_BOOT_MODE_FLIGHT ? GT_MODE_FLIGHT : GT_MODE_STREAM;
    int refused = gt_tracer_register(&rt->tracer, &gt_shared_names,
                                     regions_address + region_stride * vcpu, capacity, mode, vcpu);
    if (refused > 0) {
      /* The host will not read this vCPU's ring: the tracer is off; say so once, with the status
       * (abi.md, "REGISTER status"): a number of up to 10 digits. */
      static const char head[] = "trace region refused by the host (REGISTER status ";
      static const char tail[] = "): tracing off on this vCPU";
      char text[sizeof head + 10 + sizeof tail];
      char digits[10];
      size_t n = 0, d = 0;
      uint32_t status = (uint32_t)refused;
      do {
        digits[d++] = (char)('0' + status % 10);
        status /= 10;
      } while (status != 0 && d < sizeof digits);
      gt_memcpy(text, head, sizeof head - 1);
      n = sizeof head - 1;
      while (d > 0) {
        text[n++] = digits[--d];
      }
      gt_memcpy(text + n, tail, sizeof tail - 1);
      n += sizeof tail - 1;
      text[n] = 0;
      gt_log(rt, GT_LOG_WARN, text);
    }
  }
  struct gt_tracer *t = &rt->tracer;
  struct gt_runtime_names *n = &rt->n;
  n->entrypoint = gt_name(t, "entrypoint");
  n->load_gdt = gt_name(t, "load_gdt");
  n->load_idt = gt_name(t, "load_idt");
  n->init_idt = gt_name(t, "init_idt");
  n->hyperlight_main = gt_name(t, "hyperlight_main");
  n->halt = gt_name(t, "halt");
  n->dispatch_function = gt_name(t, "dispatch_function");
  n->internal_dispatch_function = gt_name(t, "internal_dispatch_function");
  n->try_pop_shared_input_data_into = gt_name(t, "try_pop_shared_input_data_into");
  n->call_guest_function = gt_name(t, "call_guest_function");
  n->call_host_function = gt_name(t, "call_host_function");
  n->call_host_function_without_returning_result =
      gt_name(t, "call_host_function_without_returning_result");
  n->push_shared_output_data = gt_name(t, "push_shared_output_data");
  n->out32 = gt_name(t, "out32");
  n->get_host_return_value = gt_name(t, "get_host_return_value");
  rt->ready = 1;
  return rt;
}

static inline __attribute__((noreturn)) void gt_boot(struct gt_runtime *rt) {
  struct gt_tracer *t = &rt->tracer;
  struct gt_runtime_names *n = &rt->n;
  gt_begin(t, n->entrypoint);
  gt_begin(t, n->load_gdt);
  gt_end(t, n->load_gdt);
  gt_begin(t, n->load_idt);
  gt_begin(t, n->init_idt);
  gt_end(t, n->init_idt);
  gt_end(t, n->load_idt);
  gt_begin(t, n->hyperlight_main);
  guest_main(rt);
  gt_end(t, n->hyperlight_main);
  gt_end(t, n->entrypoint);
  gt_halt(rt);
}

static inline __attribute__((noreturn)) void gt_dispatch(struct gt_runtime *rt) {
  static struct gt_call calls[GT_MAX_VCPUS];
  struct gt_call *call = &calls[rt->vcpu_id];
  struct gt_tracer *t = &rt->tracer;
  struct gt_runtime_names *n = &rt->n;
  gt_begin(t, n->dispatch_function);
  gt_begin(t, n->internal_dispatch_function);
  if (gt_pop_input(rt, call, 0) != 0) {
    gt_abort(rt, 1, "malformed guest call in the input buffer");
  }
  gt_begin(t, n->call_guest_function);
  gt_message(t, "Calling guest function");
  struct gt_value result = gt_void();
  guest_call(rt, call, &result);
  gt_end(t, n->call_guest_function);
  gt_begin(t, n->push_shared_output_data);
  gt_message(t, "Start copy of data");
  int64_t written = gt_write_value(rt->output, rt->call_buffer_length, &result);
  gt_message(t, "Finish copy of data");
  gt_end(t, n->push_shared_output_data);
  gt_end(t, n->internal_dispatch_function);
  gt_end(t, n->dispatch_function);
  if (written < 0) {
    gt_abort(rt, 2, "guest result does not fit the output buffer");
  }
  gt_halt(rt);
}

/*
 * gcc may turn struct copies and loops into calls to these even with -ffreestanding, so a
 * freestanding program must define them.
 */
__attribute__((used)) void *memcpy(void *dst, const void *src, size_t n) {
  gt_memcpy(dst, src, n);
  return dst;
}

__attribute__((used)) void *memset(void *dst, int value, size_t n) {
  gt_memset(dst, value, n);
  return dst;
}

__attribute__((used)) void *memmove(void *dst, const void *src, size_t n) {
  uint8_t *d = (uint8_t *)dst;
  const uint8_t *s = (const uint8_t *)src;
  if (d < s) {
    while (n--) {
      *d++ = *s++;
    }
  } else {
    while (n--) {
      d[n] = s[n];
    }
  }
  return dst;
}

__attribute__((used)) int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = (const uint8_t *)a;
  const uint8_t *y = (const uint8_t *)b;
  for (size_t i = 0; i < n; i++) {
    if (x[i] != y[i]) {
      return x[i] < y[i] ? -1 : 1;
    }
  }
  return 0;
}

/* Called by _start with the entry kind (RDI) and the vCPU id (RSI). */
__attribute__((noreturn, used)) void gt_entry(uint64_t kind, uint64_t vcpu) {
  struct gt_runtime *rt = gt_runtime_for((uint32_t)vcpu);
  if (kind == 0) {
    gt_boot(rt);
  }
  gt_dispatch(rt);
}

#endif /* GTGUEST_H */
