#!/usr/bin/env bash
# The ledger's costs (issue 15): one recording cycle at 1k and 10k live workloads (real
# cgroups, counters in both sources' maps), every workload with new traffic since the last
# cycle, and none; the recorder's CPU per cycle is what it measures of its own thread
# (CLOCK_THREAD_CPUTIME_ID, in the ledger's `recorder` row); the peak RSS of `serve --record`
# over a few cycles; the ledger's bytes per active workload per day (a day of 5-minute
# cycles run with the clock moved on, NETATTR_CLOCK_SHIFT); `report` over 1,000 workloads
# x 31 days of rows. Prints Markdown tables.
# Usage: sudo scripts/bench/record-cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
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
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cpu_of_last_cycle() { sqlite3 "$1" "SELECT printf('%.1f', cpu_ms) FROM recorder" 2>/dev/null || $N status --pin-dir "$pin" --ledger "$1" -o json | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["recorder"]["cpu_ms"])'; }

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
    round=$((round + 1)); fill; sleep 1.2; busy+="$(cpu_of_last_cycle "$ledger")"$'\n'
    sleep 1.1; idle+="$(cpu_of_last_cycle "$ledger")"$'\n'
  done
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status")
  kill -TERM "$srv"; wait "$srv" || true
  echo "| $n | $(printf '%s' "$busy" | median) ms CPU | $(printf '%s' "$idle" | median) ms CPU | $((rss / 1024)) MB |"
done
echo
echo "CPU: the recorder thread's own CPU time for one cycle (median of $ROUNDS); it names"
echo "every workload, reads both sources and bills both in one transaction."

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

# report over 1,000 workloads x 31 days: the day's rows copied to 31 days.
python3 - "$ledger" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("SELECT resolution, bucket, workload, source, class, rx_bytes, tx_bytes, rx_packets, tx_packets FROM usage WHERE resolution IN ('5m','hour','day')").fetchall()
for d in range(1, 31):
    c.executemany("INSERT OR IGNORE INTO usage VALUES (?,?,?,?,?,?,?,?,?)", [(r[0], r[1] + d * 86400) + r[2:] for r in rows])
c.execute("UPDATE workloads SET pod_namespace = 'ns' || (id % 20)")
c.commit()
PY
echo
echo "| report over 1,000 workloads x 31 days | CPU | wall |"
echo "|---|---|---|"
first=$(sqlite3 "$ledger" "SELECT min(bucket) FROM usage WHERE resolution = 'day'")
last=$((first + 31 * 86400))
for args in "--by pod_namespace" "--by name"; do
  cpu=""; wall=""
  for _ in $(seq "$ROUNDS"); do
    out=$( { /usr/bin/time -f "%U %S %e" $N report --ledger "$ledger" --since "$first" --until "$last" $args -o json >/dev/null; } 2>&1 | tail -1)
    cpu+="$(echo "$out" | awk '{printf "%.0f", ($1 + $2) * 1000}')"$'\n'; wall+="$(echo "$out" | awk '{printf "%.0f", $3 * 1000}')"$'\n'
  done
  echo "| report --since … --until … (31 days) $args | $(printf '%s' "$cpu" | median) ms | $(printf '%s' "$wall" | median) ms |"
done
echo
echo "Median of $ROUNDS runs. Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
