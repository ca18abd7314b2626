#!/bin/sh
# Builds every C guest in this directory into OUT_DIR/<name>.elf with gcc: freestanding, static,
# linked at the KVM backend's image window by guest.ld. Run by the sample-guests Maven build.
# Usage: build-guests.sh SRC_DIR INCLUDE_DIR OUT_DIR [CC]
set -eu
src=$1
include=$2
out=$3
cc=${4:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "sample-guests: $cc not found: C guests for the KVM backend are not built" >&2
  exit 0
fi
mkdir -p "$out"
flags="-std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -nostdlib -static -fno-pic -no-pie \
  -mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
  -Wl,--build-id=none -Wl,-n -Wl,--no-warn-rwx-segments"
for file in "$src"/*.c; do
  name=$(basename "$file" .c)
  # shellcheck disable=SC2086
  "$cc" $flags -I"$include" -I"$src" -T "$src/guest.ld" -o "$out/$name.elf" "$file"
done
echo "sample-guests: built $(ls "$out" | wc -l) C guests into $out"
