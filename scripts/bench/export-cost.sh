#!/usr/bin/env bash
# The fleet export's cost (issue 27): one node's day at WORKLOADS workloads (a synthetic
# ledger: every workload a 5-minute row in each of the day's 288 buckets, socket source) shipped
# to a ClickHouse server of the script's own (Debian's clickhouse-server, own config, port and
# data directory): wall time, rows/s, CPU per 1,000 rows and peak RSS of `netattr export`
# (GNU time); then the same day's report over the ledger and over the store, side by side.
# Needs clickhouse-server and sqlite3 (apt). Usage: sudo scripts/bench/export-cost.sh [WORKLOADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
W=${1:-10000}
N=$PWD/target/release/netattr
cargo build --release --locked --bins >&2
work=$(mktemp -d); pin=/sys/fs/bpf/netattr-bench-export-$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  pkill -f "$work/config.xml" 2>/dev/null || true
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
ch_up "$work" "$port" "$tport"
# A ledger of this netattr's schema made by netattr, then filled: WORKLOADS workloads x 288 buckets.
$N load --pin-dir "$pin" >/dev/null
$N record --once --pin-dir "$pin" --ledger "$work/l.db" 2>/dev/null
day=$(( ($(date +%s) / 86400 - 1) * 86400 ))
sqlite3 "$work/l.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $W)
INSERT INTO workloads (identity, kind, name, pod_namespace, first_seen, last_seen, version)
  SELECT 'container:bench' || i, 'container', 'web-' || i, 'ns-' || (i % 50), $day, $day + 86399, 1 FROM n;
WITH RECURSIVE b(t) AS (SELECT $day UNION ALL SELECT t + 300 FROM b WHERE t < $day + 86100)
INSERT INTO usage (resolution, bucket, workload, source, class, rx_bytes, tx_bytes, rx_packets, tx_packets, version)
  SELECT '5m', b.t, w.id, 'socket', '', 1000 + w.id, 2000 + w.id, 10, 20, 2 FROM b, workloads w WHERE w.identity LIKE 'container:bench%';
COMMIT;
SQL
rows=$(sqlite3 "$work/l.db" "SELECT count(*) FROM usage WHERE resolution = '5m'")
/usr/bin/time -f "%e %U %S %M" -o "$work/time" $N export --init --to "clickhouse://127.0.0.1:$port/bench" --ledger "$work/l.db" --node bench 2>"$work/export.err"
read -r wall user sys rss < "$work/time"
since=$(date -u -d "@$day" +%FT%TZ); until=$(date -u -d "@$((day + 86400))" +%FT%TZ)
t() { local s; s=$(date +%s%N); "$@" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
ledger_ms=$(t $N report --ledger "$work/l.db" --since "$since" --until "$until" --by pod_namespace)
store_ms=$(t $N report --from "clickhouse://127.0.0.1:$port/bench" --since "$since" --until "$until" --by pod_namespace)
ledger_p95=$(t $N report --ledger "$work/l.db" --since "$since" --until "$until" --by pod_namespace --p95)
store_p95=$(t $N report --from "clickhouse://127.0.0.1:$port/bench" --since "$since" --until "$until" --by pod_namespace --p95)
echo "| workloads | 5-minute rows (a day) | export wall | rows/s | CPU per 1,000 rows | export peak RSS |"
echo "|---|---|---|---|---|---|"
awk -v w="$W" -v r="$rows" -v e="$wall" -v u="$user" -v s="$sys" -v m="$rss" 'BEGIN {
  printf "| %d | %d | %.1f s | %.0f | %.2f ms | %.1f MB |\n", w, r, e, r / e, (u + s) * 1000 / (r / 1000), m / 1024 }'
echo
echo "| the same day, --by pod_namespace | over the node's ledger | over the store |"
echo "|---|---|---|"
echo "| totals | $ledger_ms ms | $store_ms ms |"
echo "| with --p95 | $ledger_p95 ms | $store_p95 ms |"
echo
echo "ClickHouse $(dpkg-query -W -f='${Version}' clickhouse-server), kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
