#!/usr/bin/env bash
# Compiles the kernel side of the policy dataplane (bpf/*.bpf.c) into BPF
# objects under dist/bpf/, which the control plane (src/policy) loads through
# libbpf. Needs clang and libbpf's headers (Debian: clang, libbpf-dev).
# Rebuilds only when a source or header is newer than its object.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=dist/bpf
mkdir -p "$OUT"
if ! command -v clang >/dev/null; then
  echo "build-bpf: clang is not installed (apt-get install clang llvm libbpf-dev); the policy dataplane will be unavailable" >&2
  exit 1
fi
# <asm/types.h> lives in the multiarch include directory, which -target bpf does not search.
MULTIARCH="$(gcc -dumpmachine 2>/dev/null || echo "$(uname -m)-linux-gnu")"
ARCH="$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')"
for src in bpf/*.bpf.c; do
  obj="$OUT/$(basename "${src%.c}").o"
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ -z "$(find bpf -name '*.h' -newer "$obj")" ]; then continue; fi
  clang -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_"$ARCH" \
    -I/usr/include/"$MULTIARCH" -Ibpf -c "$src" -o "$obj"
  echo "build-bpf: $obj"
done
