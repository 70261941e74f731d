#!/usr/bin/env bash
# report --p95 over one node's ledger: W workloads (default 1,000) x 31 days, both sources,
# a 5-minute row of every workload in every bucket (17.9 million rows at 1,000), written
# by SQL into a ledger of this netattr's schema, then rolled up by netattr's own rollup
# (hours, days with their 5-minute profiles, months: examples/bench_roll). Then, side by side
# on the same file: the report with the days' series (what a recorder's ledger has) and with
# the series marked not whole (every 5-minute row streamed, as before schema 8). Needs
# sqlite3 and a release build (cargo build --release --examples). Usage:
# scripts/bench/report-cost.sh [W] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
W=${1:-1000}; ROUNDS=${2:-3}
N=target/release/netattr
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
l="$work/ledger.db"
target/release/examples/bench_roll init "$l"
# 2026-10-01T00:00Z .. 2026-11-01: 31 days.
first=1790812800; last=$((first + 31 * 86400))
started=$(date +%s)
sqlite3 "$l" "
  WITH RECURSIVE w(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM w WHERE n < $W)
  INSERT INTO workloads (id, identity, kind, name, pod_namespace, labels, first_seen, last_seen, version)
    SELECT n, 'pod:' || n, 'pod', 'w' || n, 'ns' || (n % 20), NULL, $first, $last, 1 FROM w;
  WITH RECURSIVE b(t) AS (SELECT $first UNION ALL SELECT t + 300 FROM b WHERE t + 300 < $last)
  INSERT INTO usage (resolution, bucket, workload, source, class, rx_bytes, tx_bytes, rx_packets, tx_packets, version)
    SELECT '5m', b.t, w.id, s.name, '', (w.id * 7919 + b.t / 300 * 104729) % 9000000, (w.id * 104729 + b.t / 300 * 7919) % 5000000, 1000, 800, 1
    FROM b, workloads w, (SELECT 'socket' AS name UNION ALL SELECT 'tc') s;"
rows=$(sqlite3 "$l" "SELECT count(*) FROM usage")
echo "ledger: $W workloads x 31 days, $rows 5-minute rows, written in $(( $(date +%s) - started )) s"
target/release/examples/bench_roll roll "$l"
echo "ledger $(( $(stat -c %s "$l") / 1048576 )) MB"
time_report() { # ARGS...: the median wall and CPU of ROUNDS runs, "wall cpu" in ms
  local wall="" cpu=""
  for _ in $(seq "$ROUNDS"); do
    out=$( { /usr/bin/time -f "%U %S %e" $N report --ledger "$l" --since "$first" --until "$last" "$@" -o json >/dev/null; } 2>&1 | tail -1)
    cpu+="$(echo "$out" | awk '{printf "%.0f", ($1 + $2) * 1000}')"$'\n'; wall+="$(echo "$out" | awk '{printf "%.0f", $3 * 1000}')"$'\n'
  done
  echo "$(printf '%s' "$wall" | median) ms wall, $(printf '%s' "$cpu" | median) ms CPU"
}
totals=$(time_report --by pod_namespace)
with_series=$(time_report --by pod_namespace --p95)
by_name=$(time_report --by name --p95)
same_a=$($N report --ledger "$l" --since "$first" --until "$last" --by name --p95 -o json | sha256sum)
sqlite3 "$l" "UPDATE series_days SET whole = 0"
streamed=$(time_report --by pod_namespace --p95)
same_b=$($N report --ledger "$l" --since "$first" --until "$last" --by name --p95 -o json | sha256sum)
[ "$same_a" = "$same_b" ] && same="the same document" || same="DIFFERENT documents"
echo
echo "| report over $W workloads x 31 days | median of $ROUNDS |"
echo "|---|---|"
echo "| --by pod_namespace (totals) | $totals |"
echo "| --by pod_namespace --p95, from the days' series | $with_series |"
echo "| --by name --p95, from the days' series | $by_name |"
echo "| --by pod_namespace --p95, every 5-minute row streamed (before) | $streamed |"
echo
echo "--by name --p95 from the series and from the rows: $same."
echo "Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
