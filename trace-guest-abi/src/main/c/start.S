/*
 * start.S -- the ELF entry of a native guesttrace guest (KVM backend).
 *
 * The host enters every vCPU here, for boot and for each guest call, in 64-bit mode with interrupts
 * off, RSP at the top of the vCPU's own stack, RDI = entry kind (0 boot, 1 dispatch) and RSI = vCPU
 * id. _start aligns the stack as a call would and calls gt_entry (gtguest.h) with RDI and RSI as
 * they are; gt_entry ends the entry with HLT and never returns, but if it did, HLT again.
 */
    .section .text.start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    andq $-16, %rsp
    xorl %ebp, %ebp
    call gt_entry
1:  cli
    hlt
    jmp 1b
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
