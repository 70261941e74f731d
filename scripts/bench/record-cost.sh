#!/usr/bin/env bash
# The ledger's costs (issue 15): one recording cycle at 1k and 10k live workloads (real
# cgroups, counters in both sources' maps), every workload with new traffic since the last
# cycle, and none; the recorder's CPU per cycle is what it measures of its own thread
# (CLOCK_THREAD_CPUTIME_ID, in the ledger's `recorder` row); the peak RSS of `serve --record`
# over a few cycles; the ledger's bytes per active workload per day (a day of 5-minute
# cycles run with the clock moved on, NETATTR_CLOCK_SHIFT); `report` over 1,000 workloads
# x 31 days of rows. Prints Markdown tables.
# Usage: sudo scripts/bench/record-cost.sh [ROUNDS]   (CYCLE_ONLY=1: the cycle table alone)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
ROUNDS=${1:-5}
N=target/release/netattr
cargo build --release --locked --bins --examples >&2
pin=/sys/fs/bpf/netattr-bench-rec-$$
cg=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)/netattr-bench-rec-$$
work=$(mktemp -d)
cleanup() {
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  [ -d "$cg" ] && find "$cg" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null; rmdir "$cg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The CPU of the next cycle that billed rows (busy) or none (idle), polled from the
# ledger's recorder row (a cycle a second; polled every 20 ms).
cycle_cpu() { # LEDGER busy|idle
  local want="rows > 0"; [ "$2" = idle ] && want="rows = 0"
  local start; start=$(sqlite3 "$1" "SELECT cycles FROM recorder")
  for _ in $(seq 250); do
    v=$(sqlite3 "$1" "SELECT printf('%.1f', cpu_ms) FROM recorder WHERE cycles > $start AND $want")
    [ -n "$v" ] && { echo "$v"; return; }
    sleep 0.02
  done
  echo "nan"
}

echo "| live workloads | cycle, all with new traffic | cycle, none | serve --record peak RSS |"
echo "|---|---|---|---|"
for n in 1000 10000; do
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  [ -d "$cg" ] && find "$cg" -mindepth 1 -depth -type d -exec rmdir {} +
  mkdir -p "$cg"
  for i in $(seq 1 "$n"); do echo "$cg/w$i.service"; done | xargs mkdir -p
  for i in $(seq 1 "$n"); do stat -c %i "$cg/w$i.service"; done > "$work/ids"
  $N load --pin-dir "$pin" --max-entries 20000 >/dev/null
  ledger="$work/ledger-$n.db"; rm -f "$ledger"*
  round=1
  fill() { for m in stats_map sock_stats; do target/release/examples/bench_fill "$pin" "$work/ids" "$m" "$round"; done; }
  fill
  # The recorder keeps running between cycles, as it does on a node: serve --record, one
  # cycle a second; each round the counters move on (or not) and the cycle after is read.
  $N serve --pin-dir "$pin" --listen 127.0.0.1:0 --record --record-interval 1 --ledger "$ledger" 2>/dev/null &
  srv=$!
  sleep 3
  busy=""; idle=""
  for _ in $(seq "$ROUNDS"); do
    round=$((round + 1)); fill; busy+="$(cycle_cpu "$ledger" busy)"$'\n'
    idle+="$(cycle_cpu "$ledger" idle)"$'\n'
  done
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status")
  kill -TERM "$srv"; wait "$srv" || true
  echo "| $n | $(printf '%s' "$busy" | median) ms CPU | $(printf '%s' "$idle" | median) ms CPU | $((rss / 1024)) MB |"
done
echo
echo "CPU: the recorder thread's own CPU time for one cycle (median of $ROUNDS); it names"
echo "every workload, reads both sources and bills both in one transaction."
[ -n "${CYCLE_ONLY:-}" ] && exit 0

# Bytes per active workload per day: 1,000 workloads, a cycle every 5 minutes of a day.
$N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
$N load --pin-dir "$pin" --max-entries 20000 >/dev/null
head -1000 "$work/ids" > "$work/ids1k"
ledger="$work/day.db"
for step in $(seq 0 287); do
  for m in stats_map sock_stats; do target/release/examples/bench_fill "$pin" "$work/ids1k" "$m" "$((step + 1))"; done
  NETATTR_CLOCK_SHIFT=$((step * 300)) $N record --pin-dir "$pin" --ledger "$ledger" --once 2>/dev/null
done
sqlite3 "$ledger" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null 2>&1 || true
size=$(stat -c %s "$ledger")
echo
echo "A day of 5-minute cycles, 1,000 workloads each with traffic in both sources every cycle:"
echo "ledger $((size / 1024)) KB, $((size / 1000)) B per active workload per day."

# report over 1,000 workloads x 31 days: the day's rows copied to 31 days (17.9 million
# 5-minute rows).
sqlite3 "$ledger" "WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 30)
  INSERT OR IGNORE INTO usage SELECT u.resolution, u.bucket + d.n * 86400, u.workload, u.source, u.class,
    u.rx_bytes, u.tx_bytes, u.rx_packets, u.tx_packets FROM usage u, d WHERE u.resolution IN ('5m', 'hour', 'day');
  UPDATE workloads SET pod_namespace = 'ns' || (id % 20);"
echo
echo "| report over 1,000 workloads x 31 days | CPU | wall |"
echo "|---|---|---|"
first=$(sqlite3 "$ledger" "SELECT min(bucket) FROM usage WHERE resolution = 'day'")
last=$((first + 31 * 86400))
for args in "--by pod_namespace" "--by name" "--by pod_namespace --p95"; do
  cpu=""; wall=""
  for _ in $(seq "$ROUNDS"); do
    out=$( { /usr/bin/time -f "%U %S %e" $N report --ledger "$ledger" --since "$first" --until "$last" $args -o json >/dev/null; } 2>&1 | tail -1)
    cpu+="$(echo "$out" | awk '{printf "%.0f", ($1 + $2) * 1000}')"$'\n'; wall+="$(echo "$out" | awk '{printf "%.0f", $3 * 1000}')"$'\n'
  done
  echo "| report --since … --until … (31 days) $args | $(printf '%s' "$cpu" | median) ms | $(printf '%s' "$wall" | median) ms |"
done
echo
echo "Median of $ROUNDS runs. Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
