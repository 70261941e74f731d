#!/usr/bin/env bash
# The ledger's costs (issue 15): recording cycles at 1k and 10k live workloads (real
# cgroups, counters in both sources' maps), every workload with new traffic since the last
# cycle, and none, billing every read each cycle (as before) and as the recorder does now
# (reads wait for their bucket, billed in slices); the recorder's CPU per cycle is what it measures of its own thread
# (CLOCK_THREAD_CPUTIME_ID, in the ledger's `recorder` row); the peak RSS of `serve --record`
# over a few cycles; the ledger's bytes per active workload per day (a day of 5-minute
# cycles run with the clock moved on, NETATTR_CLOCK_SHIFT); `report` over 1,000 workloads
# x 31 days of rows. Prints Markdown tables.
# Usage: sudo scripts/bench/record-cost.sh [ROUNDS]   (CYCLE_ONLY=1: the cycle table alone;
# PEERS=K: a load with --breakdown peer, each workload with K peer rows a source, all moving
# with its counters)
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
# Every cycle of a running recorder, as it notes it in the ledger's recorder row
# (cycles|rows billed|CPU ms), polled every 20 ms until DEADLINE (seconds since the epoch).
watch_cycles() { # LEDGER DEADLINE OUT
  local last=-1 line
  while [ "$(date +%s)" -lt "$2" ]; do
    line=$(sqlite3 "$1" "SELECT cycles || '|' || rows || '|' || printf('%.1f', cpu_ms) FROM recorder" 2>/dev/null || true)
    if [ -n "$line" ] && [ "${line%%|*}" != "$last" ]; then echo "$line" >> "$3"; last=${line%%|*}; fi
    sleep 0.02
  done
}

# One recorder (serve --record, a cycle a second, each looking for gone workloads as every
# cycle does at the default 60 s interval and --collect-every) over 24 s of its clock, which starts 12 s
# before a 5-minute boundary: the counters of every workload move each second for the first
# 18 s, then none do. BATCH is --bill-batch. Prints the cycles seen, one "cycles|rows|cpu" a
# line, each tagged "busy" (its counters moved) or "idle". The ledger knows every workload
# already (a node's steady state): a `record --once` ten minutes earlier by its clock billed
# them all first.
run_recorder() { # LEDGER BATCH OUT [NETATTR]
  local now shift srv end bin=${4:-$N} rebind=()
  # One instance, one ledger: each run's new ledger takes the instance over (a build from
  # before the binding knows no --rebind and needs none).
  [ "$bin" = "$N" ] && rebind=(--rebind)
  now=$(date +%s); shift=$(( (now / 300 + 1) * 300 + 300 - 12 - now ))
  NETATTR_CLOCK_SHIFT=$((shift - 600)) $bin record --pin-dir "$pin" --ledger "$1" --once "${rebind[@]}" 2>/dev/null
  local warm; warm=$(sqlite3 "$1" "SELECT cycles FROM recorder")
  round=$((round + 1)); fill
  NETATTR_CLOCK_SHIFT=$shift $bin serve --pin-dir "$pin" --listen 127.0.0.1:0 --record --record-interval 1 \
    --collect-every 1 --bill-batch "$2" --ledger "$1" "${rebind[@]}" 2>/dev/null &
  srv=$!
  end=$(( $(date +%s) + 24 ))
  watch_cycles "$1" "$end" "$3.raw" &
  local w=$!
  for _ in $(seq 18); do round=$((round + 1)); fill; sleep 1; done
  wait "$w"
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status")
  kill -TERM "$srv"; wait "$srv" || true
  # The recorder's own cycles (not the warm-up's): its first is its start; those up to the
  # 18th second moved, and the two after the last fill too (it can land mid-cycle).
  awk -F'|' -v warm="$warm" '$1 > warm' "$3.raw" |
    awk -F'|' 'NR == 1 {first = $1} {print $0 "|" ($1 == first ? "start" : $1 - first < 20 ? "busy" : "idle")}' > "$3"
}

# BEFORE=path/to/an/older/netattr: that binary's cycles too, measured the same way beside
# this one's (its own ledger).
echo "| live workloads | every read billed each cycle (busy) | busy, reads waiting | busy, billing a closed bucket's slice | idle | a start's first cycle | serve --record peak RSS |"
echo "|---|---|---|---|---|---|---|"
for n in ${SIZES:-1000 10000}; do
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  [ -d "$cg" ] && find "$cg" -mindepth 1 -depth -type d -exec rmdir {} +
  mkdir -p "$cg"
  for i in $(seq 1 "$n"); do echo "$cg/w$i.service"; done | xargs mkdir -p
  for i in $(seq 1 "$n"); do stat -c %i "$cg/w$i.service"; done > "$work/ids"
  peers=()
  [ "${PEERS:-0}" -gt 0 ] && peers=(--breakdown peer --peer-entries $((n * PEERS * 2 + 1024)))
  $N load --pin-dir "$pin" --max-entries 20000 "${peers[@]}" >/dev/null
  round=1
  fill() {
    for m in stats_map sock_stats; do target/release/examples/bench_fill "$pin" "$work/ids" "$m" "$round"; done
    if [ "${PEERS:-0}" -gt 0 ]; then target/release/examples/bench_fill "$pin" "$work/ids" peer_stats "$round" "$PEERS"; fi
  }
  fill
  # What a 60 s interval (the default) bills a cycle once a bucket with 2N rows closes:
  # the larger of the default batch (1,000) and the 2N rows over the bucket's 5 cycles.
  slice=$(( 2 * n / 5 > 1000 ? 2 * n / 5 : 1000 ))
  before="$work/before-$n"; after="$work/after-$n"; rm -f "$before"* "$after"*
  if [ -n "${BEFORE:-}" ]; then
    old="$work/old-$n"; rm -f "$old"*
    run_recorder "$work/old-$n.db" "$slice" "$old" "$BEFORE"
    echo "| $n, BEFORE | – | $(awk -F'|' '$4 == "busy" && $2 == 0 {print $3}' "$old" | median) ms | $(awk -F'|' '$4 == "busy" && $2 > 0 {print $3}' "$old" | sort -n | tr '\n' ' ')ms | $(awk -F'|' '$4 == "idle" && $2 == 0 {print $3}' "$old" | median) ms | $(awk -F'|' '$4 == "start" {print $3}' "$old") ms | $((rss / 1024)) MB |"
  fi
  run_recorder "$work/before-$n.db" 1000000 "$before"
  run_recorder "$work/after-$n.db" "$slice" "$after"
  all=$(awk -F'|' '$4 == "busy" && $2 > 0 {print $3}' "$before" | median)
  waiting=$(awk -F'|' '$4 == "busy" && $2 == 0 {print $3}' "$after" | median)
  slices=$(awk -F'|' '$4 == "busy" && $2 > 0 {print $3}' "$after" | sort -n | tr '\n' ' ')
  idle=$(awk -F'|' '$4 == "idle" && $2 == 0 {print $3}' "$after" | median)
  start=$(awk -F'|' '$4 == "start" {print $3}' "$after")
  echo "| $n | $all ms | $waiting ms | ${slices% }ms ($slice rows each) | $idle ms | $start ms | $((rss / 1024)) MB |"
done
echo
echo "CPU: the recorder thread's own CPU time per cycle (medians; every slice cycle listed)."
echo "'every read billed each cycle': --bill-batch above the rows; the other columns: reads"
echo "wait for their 5-minute bucket and a closed bucket is billed in slices of what a 60 s"
echo "interval bills (the cycles run a second apart, the clock shifted to cross a boundary)."
echo "Every cycle also looks for gone workloads (--collect-every 1), as every cycle does at"
echo "the default 60 s interval and --collect-every 60 (none is gone here: the look is the cost)."
echo "The ledger knows every workload (a --once ten minutes earlier billed them). A start's"
echo "first cycle: since schema 5 its reads are kept under the names of the ledger's last bill"
echo "and the cgroups named again a share a cycle (before, it named every cgroup); the ledger's"
echo "cursors are read before it, outside the cycle. RSS: that recorder's peak."
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

# report over 1,000 workloads x 31 days: the day's 5-minute rows copied to 31 days (17.9
# million rows), then every whole hour and day rolled up from them, as a month of recording
# leaves a ledger.
sqlite3 "$ledger" "WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 30)
  INSERT OR IGNORE INTO usage SELECT u.resolution, u.bucket + d.n * 86400, u.workload, u.source, u.class,
    u.rx_bytes, u.tx_bytes, u.rx_packets, u.tx_packets FROM usage u, d WHERE u.resolution = '5m';
  DELETE FROM usage WHERE resolution IN ('hour', 'day');
  CREATE TEMP TABLE ends AS SELECT max(bucket) - max(bucket) % 3600 AS hour, max(bucket) - max(bucket) % 86400 AS day
    FROM usage WHERE resolution = '5m';
  INSERT INTO usage SELECT 'hour', bucket - bucket % 3600, workload, source, class, sum(rx_bytes), sum(tx_bytes),
    sum(rx_packets), sum(tx_packets) FROM usage WHERE resolution = '5m' AND bucket < (SELECT hour FROM ends) GROUP BY 2, 3, 4, 5;
  INSERT INTO usage SELECT 'day', bucket - bucket % 86400, workload, source, class, sum(rx_bytes), sum(tx_bytes),
    sum(rx_packets), sum(tx_packets) FROM usage WHERE resolution = 'hour' AND bucket < (SELECT day FROM ends) GROUP BY 2, 3, 4, 5;
  INSERT OR REPLACE INTO rollups SELECT 'hour', hour, 0 FROM ends;
  INSERT OR REPLACE INTO rollups SELECT 'day', day, 0 FROM ends;
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
