#!/usr/bin/env bash
# Builds what netattr ships, into target/package/:
#   netattr                the release binary, libelf and zlib linked in (needs only glibc)
#   netattr_<v>_<arch>.deb the Debian package (cargo-deb): binary, man pages, completions,
#                          docs, the systemd unit (enabled and started on install)
# and, with --image TAG, the container image deploy/kubernetes/Dockerfile describes, from the
# locally built Debian base (scripts/base-image.sh) unless BASE names another.
# Prints the paths (and the image) it made on stdout; stops with one line on stderr when the
# binary would need more than the C library.
#   scripts/package.sh [--image TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
image=""
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="${2:?--image needs a tag, e.g. netattr:0.1.0}"; shift 2 ;;
    *) echo "package: unknown argument '$1' (usage: scripts/package.sh [--image TAG])" >&2; exit 2 ;;
  esac
done
command -v cargo-deb >/dev/null || { echo "package: cargo-deb is missing (cargo install cargo-deb --locked, or scripts/setup.sh --tests)" >&2; exit 1; }

cargo build --release --locked --features static >&2
bin=target/release/netattr

# Only the C library (libc, libm) and the loader; and no glibc symbol newer than Ubuntu
# 22.04's (2.35), so that the binary runs on Debian 12 and Ubuntu 22.04 alike.
extra=$(ldd "$bin" | awk '{print $1}' | grep -Ev '^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1)$' || true)
[ -z "$extra" ] || { echo "package: $bin needs more than the C library: $(echo $extra)" >&2; exit 1; }
newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
[ "$(printf '%s\nGLIBC_2.35\n' "$newest" | sort -V | tail -1)" = "GLIBC_2.35" ] \
  || { echo "package: $bin needs $newest, newer than Ubuntu 22.04's glibc 2.35" >&2; exit 1; }

out=target/package
mkdir -p "$out"
cp "$bin" "$out/netattr"
rm -f "$out"/netattr_*.deb
deb=$(cargo deb --no-build --locked --output "$out" 2>/dev/null | tail -1)
[ -f "$deb" ] || { echo "package: cargo deb made no package" >&2; exit 1; }
echo "$out/netattr"
echo "$deb"

if [ -n "$image" ]; then
  base="${BASE:-netattr-base:bookworm}"
  [ -n "${BASE:-}" ] || scripts/base-image.sh "$base"
  docker build -q -f deploy/kubernetes/Dockerfile --build-arg BASE="$base" -t "$image" "$out" >/dev/null
  echo "$image"
fi
