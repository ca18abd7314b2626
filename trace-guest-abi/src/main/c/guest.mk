# guest.mk -- builds a native guesttrace guest: one freestanding, static ELF64 linked into the KVM
# backend's image window, from C files, the start-up code (start.S) and the linker script (guest.ld)
# of this folder. Run it with `guesttrace run GUEST.elf`.
#
# In a project's Makefile:
#
#   GUEST = work            # builds work.elf from work.c
#   include sdk/guest.mk    # this file, wherever the SDK folder is
#
# Variables: GUEST (name; default guest), SRCS (default $(GUEST).c), OUT (default $(GUEST).elf),
# CC (default cc), EXTRA_CFLAGS (added last, e.g. -Werror or -O3).
GT_SDK := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
GUEST ?= guest
SRCS ?= $(GUEST).c
OUT ?= $(GUEST).elf

# Freestanding: no libc, no red zone (the host may interrupt at any instruction), no PIC (the image
# is linked at a fixed address), no SSE in compiler-generated code (-mgeneral-regs-only: see
# docs/guests.md for what the CPU state allows), no unwind tables or notes (a smaller image).
GT_CFLAGS = -std=gnu11 -O2 -Wall -Wextra -ffreestanding -nostdlib -static -fno-pic -no-pie \
  -mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
  -fcf-protection=none -Wl,--build-id=none -Wl,-n -Wl,--no-warn-rwx-segments

GT_DEPS = $(GT_SDK)/start.S $(GT_SDK)/guest.ld $(GT_SDK)/guesttrace.h $(GT_SDK)/gtguest.h

.PHONY: all clean
all: $(OUT)

$(OUT): $(SRCS) $(GT_DEPS)
	$(CC) $(GT_CFLAGS) $(EXTRA_CFLAGS) -I$(GT_SDK) -T $(GT_SDK)/guest.ld -o $@ $(GT_SDK)/start.S $(SRCS)

clean:
	rm -f $(OUT)
