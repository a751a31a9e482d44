#!/bin/sh
# A relman for batch hosts of the RHEL 7/8 era, where it runs with `address = "local"`:
# OpenSSL built in (cargo feature `portable`: no libssl.so.3 needed) and linked
# against glibc 2.17 (cargo-zigbuild's glibc suffix), so it starts on any x86_64
# Linux with glibc >= 2.17. zig and cargo-zigbuild come from PyPI into
# target/portable-tools (nothing installed system-wide).
#
#   assets/build-portable.sh            # -> target/x86_64-unknown-linux-gnu/release/relman
#   RELMAN_GLIBC=2.28 assets/build-portable.sh
#
# Needs: cargo, python3 (venv, pip), perl and make (OpenSSL's build).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
glibc=${RELMAN_GLIBC:-2.17}
target=x86_64-unknown-linux-gnu
tools=$here/target/portable-tools

if [ ! -x "$tools/bin/cargo-zigbuild" ] || ! "$tools/bin/python3" -m ziglang version >/dev/null 2>&1; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet ziglang cargo-zigbuild
fi
PATH=$tools/bin:$PATH
export PATH

rustup target add "$target" >/dev/null 2>&1 || true
cd "$here"
cargo zigbuild --locked --release --features portable --target "$target.$glibc"

bin=$here/target/$target/release/relman
printf '%s\n' "$bin"
ldd "$bin" || true
printf 'newest glibc symbol: '
objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1
