#!/bin/sh
# Builds every C guest in this directory into OUT_DIR/<name>.elf with the guest SDK's guest.mk (the
# same route a user's guest takes: trace-guest-abi/src/main/c, written out by `guesttrace init c`).
# Run by the sample-guests Maven build.
# Usage: build-guests.sh SRC_DIR SDK_DIR OUT_DIR [CC]
set -eu
src=$1
sdk=$2
out=$3
cc=${4:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "sample-guests: $cc not found: C guests for the KVM backend are not built" >&2
  exit 0
fi
if ! command -v make >/dev/null 2>&1; then
  echo "sample-guests: make not found: C guests for the KVM backend are not built" >&2
  exit 0
fi
mkdir -p "$out"
for file in "$src"/*.c; do
  name=$(basename "$file" .c)
  make -s -f "$sdk/guest.mk" GUEST="$name" SRCS="$file" OUT="$out/$name.elf" CC="$cc" \
    EXTRA_CFLAGS="-Werror -I$src"
done
echo "sample-guests: built $(ls "$out" | wc -l) C guests into $out"
