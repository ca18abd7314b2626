/*
 * hello: the C twin of Guest01Hello, for the KVM backend.
 *
 * The host calls the guest function PrintOutput("Hello, World!"); the guest calls the host function
 * HostPrint with the text and returns what the host returned. The guest library (gtguest.h) traces
 * its own plumbing under Hyperlight's names, so the tree has the same shape as the Java hello:
 * entrypoint (load_gdt, load_idt > init_idt, hyperlight_main) and halt at boot, then per call
 * dispatch_function > internal_dispatch_function > try_pop_shared_input_data_into,
 * call_guest_function > call_host_function > ..., push_shared_output_data, halt.
 *
 *   ./guesttrace run hello --backend kvm
 */
#include "gtguest.h"

void guest_main(struct gt_runtime *rt) {
  /* Nothing to set up: hyperlight_main stays a leaf, as in the seed. */
  (void)rt;
}

void guest_call(struct gt_runtime *rt, const struct gt_call *call, struct gt_value *result) {
  static char error[320];
  if (!gt_name_is(call, "PrintOutput")) {
    *result = gt_unknown_function(call, error, sizeof error);
    return;
  }
  if (gt_is_slow(rt, "PrintOutput")) {
    gt_spin(rt);
  }
  struct gt_value text = call->argc > 0 && call->args[0].type == GT_CALL_TYPE_STRING
                             ? call->args[0]
                             : gt_string("");
  /* > 0: the host's error status, and *result its error text, which the call returns as is. */
  if (gt_call_host(rt, "HostPrint", &text, 1, result) < 0) {
    gt_abort(rt, 3, "malformed host return value");
  }
}
