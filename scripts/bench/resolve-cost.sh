#!/usr/bin/env bash
# Cost of naming cgroups: N empty cgroups (default 10,000) resolved id -> path by file handle
# (netattr's way for a few ids), by one read of the cgroup_tree iterator (netattr's way for
# many: the tree walked in the kernel), by netattr's resolver end to end with that iterator,
# by one walk of the tree in userspace for all ids, and by a walk per id (a poller without
# file handles). Median of ROUNDS runs; prints a Markdown table.
# Usage: sudo scripts/bench/resolve-cost.sh [N] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
N=${1:-10000}; ROUNDS=${2:-5}
cargo build --release --locked --bins --examples >&2
pin=/sys/fs/bpf/netattr-bench-resolve-$$
trap 'target/release/netattr cleanup --pin-dir "$pin" >/dev/null 2>&1 || true' EXIT
target/release/netattr load --pin-dir "$pin" >/dev/null
h=""; w=""; e=""; k=""; r=""
for _ in $(seq "$ROUNDS"); do
  read -r _ hh ww ee kk rr < <(target/release/examples/bench_resolve "$N" "$pin")
  h+="$hh"$'\n'; w+="$ww"$'\n'; e+="$ee"$'\n'; k+="$kk"$'\n'; r+="$rr"$'\n'
done
H=$(printf '%s' "$h" | median); W=$(printf '%s' "$w" | median); E=$(printf '%s' "$e" | median)
K=$(printf '%s' "$k" | median); R=$(printf '%s' "$r" | median)
vs() { awk -v a="$W" -v b="$1" 'BEGIN {printf "%.1fx", a/b}'; }
echo "| $N cgroups | µs per id | one userspace walk / this |"
echo "|---|---|---|"
echo "| cgroup_tree: the tree walked in the kernel, one read and one batch lookup | $K | $(vs "$K") |"
echo "| netattr's resolver with cgroup_tree (prefetch, then a lookup per id) | $R | $(vs "$R") |"
echo "| file handle (open_by_handle_at + readlink) per id | $H | $(vs "$H") |"
echo "| one walk of the tree in userspace for all ids | $W | 1.0x |"
echo "| a walk of the tree per id | $E | $(vs "$E") |"
echo
echo "Median of $ROUNDS runs. Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
