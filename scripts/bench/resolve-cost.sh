#!/usr/bin/env bash
# Cost of naming cgroups: N empty cgroups (default 10,000) resolved id -> path by file handle
# (netattr), by one walk of the tree for all ids (netattr's fallback), and by a walk per id
# (a poller without file handles). Median of ROUNDS runs; prints a Markdown table.
# Usage: sudo scripts/bench/resolve-cost.sh [N] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}; ROUNDS=${2:-5}
cargo build --release --locked --examples >&2
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
h=""; w=""; e=""
for _ in $(seq "$ROUNDS"); do
  read -r _ hh ww ee < <(target/release/examples/bench_resolve "$N")
  h+="$hh"$'\n'; w+="$ww"$'\n'; e+="$ee"$'\n'
done
H=$(printf '%s' "$h" | median); W=$(printf '%s' "$w" | median); E=$(printf '%s' "$e" | median)
echo "| $N cgroups | µs per id | vs file handle |"
echo "|---|---|---|"
echo "| file handle (open_by_handle_at + readlink) | $H | 1x |"
echo "| one walk of the tree for all ids | $W | $(awk -v a="$W" -v b="$H" 'BEGIN {printf "%.1fx", a/b}') |"
echo "| a walk of the tree per id | $E | $(awk -v a="$E" -v b="$H" 'BEGIN {printf "%.0fx", a/b}') |"
echo
echo "Median of $ROUNDS runs. Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
