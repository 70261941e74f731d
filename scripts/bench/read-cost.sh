#!/usr/bin/env bash
# Cost of reading the counters: 1k, 10k and 50k cgroup keys with a value on every CPU,
# `netattr stats --format json` (with and without resolution) beside
# `bpftool map dump -j pinned …/stats_map` on the same map. CPU time from `perf stat`
# (task-clock), peak RSS from GNU time in a separate run; median of ROUNDS interleaved
# runs. Prints a Markdown table.
# Usage: sudo scripts/bench/read-cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
ROUNDS=${1:-5}
N=target/release/netattr
cargo build --release --locked --bins --examples >&2
pin=/sys/fs/bpf/netattr-bench-read-$$
trap '$N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true; rm -f /tmp/netattr-bench-*.$$' EXIT
measure() { # prints "cpu_ms rss_kb" of the command
  perf stat -x, -e task-clock -o /tmp/netattr-bench-perf.$$ -- "$@" >/dev/null 2>&1
  /usr/bin/time -f "%M" -o /tmp/netattr-bench-time.$$ "$@" >/dev/null 2>&1
  printf '%.1f %d\n' "$(awk -F, '/task-clock/ {print $1}' /tmp/netattr-bench-perf.$$)" "$(cat /tmp/netattr-bench-time.$$)"
}
echo "| keys | netattr stats --no-resolve | netattr stats (resolving) | bpftool map dump -j | bpftool / netattr --no-resolve | bpftool / netattr (resolving) |"
echo "|---|---|---|---|---|---|"
for keys in 1000 10000 50000; do
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  $N load --pin-dir "$pin" --max-entries 60000 >/dev/null
  target/release/examples/bench_fill "$pin" "$keys"
  declare -A cpu=() rss=()
  for _ in $(seq "$ROUNDS"); do
    for v in bare resolving bpftool; do
      case $v in
        bare) out=$(measure $N stats --pin-dir "$pin" --format json --no-resolve) ;;
        resolving) out=$(measure $N stats --pin-dir "$pin" --format json) ;;
        bpftool) out=$(measure bpftool map dump -j pinned "$pin/stats_map") ;;
      esac
      cpu[$v]+="${out% *}"$'\n'; rss[$v]+="${out#* }"$'\n'
    done
  done
  c() { printf '%s' "${cpu[$1]}" | median; }
  r() { printf '%s' "${rss[$1]}" | median; }
  ratio=$(awk -v a="$(c bpftool)" -v b="$(c bare)" 'BEGIN {printf "%.1fx", a/(b>0?b:0.1)}')
  named=$(awk -v a="$(c bpftool)" -v b="$(c resolving)" 'BEGIN {printf "%.1fx", a/(b>0?b:0.1)}')
  echo "| $keys | $(c bare) ms CPU, $(r bare) KB | $(c resolving) ms CPU, $(r resolving) KB | $(c bpftool) ms CPU, $(r bpftool) KB | $ratio | $named |"
  unset cpu rss
done
echo
echo "CPU = task-clock of the whole process (perf stat), RSS = peak resident set (GNU time)."
echo "Median of $ROUNDS interleaved runs."
echo "Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
