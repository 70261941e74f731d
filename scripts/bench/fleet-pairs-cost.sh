#!/usr/bin/env bash
# The fleet's pair table (issue 28): NODES nodes (20) x W workloads (100) each talking to P
# peers (10) on other nodes, every 5-minute bucket of DAYS days (1) and half a day more, in a
# ClickHouse 18.16 server of the script's own: the tables as `export --init` makes them,
# filled in ClickHouse itself (INSERT ... SELECT): each workload's peer rows (both ends of
# every pair have theirs), the DAYS whole days' rollup of them (`netattr_peer_days`, marked
# whole in `netattr_days_whole` as a node's recorder and export leave them; with ROLLUP=0,
# none: every row read from the 5-minute rows) and each node's address ranges (one holder
# each, and one address of every node reused half-way through: its rows are read bucket by
# bucket, its day's from the 5-minute rows) and each hour's sums of the peer rows
# (`netattr_peer_hours`, as the export has the store keep them; HOURS=0: none, the part of
# the period not rolled up into days read from the 5-minute rows). Then report --from ... --by
# pod_namespace,peer_namespace,class and --by name,peer over the period, median of ROUNDS.
# Needs clickhouse-server and a release build (cargo build --release --examples).
# Usage: [ROLLUP=0] [HOURS=0] [KEEP=1] scripts/bench/fleet-pairs-cost.sh [NODES] [W] [P] [DAYS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
NODES=${1:-20}; W=${2:-100}; P=${3:-10}; DAYS=${4:-1}; ROUNDS=${5:-3}; ROLLUP=${ROLLUP:-1}; HOURS=${HOURS:-1}
N=$PWD/target/release/netattr
cargo build --release --locked --bins --examples >&2
work=$(mktemp -d)
cleanup() { pkill -f "$work/config.xml" 2>/dev/null || true; rm -rf "$work"; }
# KEEP=1: the store (and its server) left running for reading by hand; stop it with the
# printed command.
if [ "${KEEP:-0}" = 1 ]; then trap 'echo "kept: $url (stop: pkill -f $work/config.xml; rm -rf $work)"' EXIT; else trap cleanup EXIT; fi
ch_bench_store "$work"
first=1790812800; buckets=$((DAYS * 288 + 144)); last=$((first + buckets * 300)) # a day's start
# Workload w of node n holds address 10.n.(w / 250).(w % 250 + 1); it sends to peer k
# (1..P): workload (w + k) % W of node (n + k) % NODES, and every pair's other end has its
# rows too (received from it).
addr() { echo "concat('10.', toString($1), '.', toString(intDiv($2, 250)), '.', toString($2 % 250 + 1))"; }
q "INSERT INTO bench.netattr_workloads SELECT concat('node', toString(n)), concat('pod:', toString(n), '-', toString(w)), 'pod',
     'containerd', concat('n', toString(n), 'w', toString(w)), concat('ns', toString(w % 20)), concat('w', toString(w)), NULL,
     toString(w), NULL, '{}', toDateTime($first), toDateTime($last), 1
   FROM (SELECT intDiv(number, $W) AS n, number % $W AS w FROM system.numbers LIMIT $((NODES * W)))"
q "INSERT INTO bench.netattr_addresses SELECT concat('node', toString(n)), $(addr n w), toDateTime($first - 60),
     toDateTime($last), concat('pod:', toString(n), '-', toString(w)), concat('n', toString(n), 'w', toString(w)), concat('ns', toString(w % 20)), 1
   FROM (SELECT intDiv(number, $W) AS n, number % $W AS w FROM system.numbers LIMIT $((NODES * W)))"
# Each node's workload 0's address goes to a new holder half-way.
q "INSERT INTO bench.netattr_addresses SELECT concat('node', toString(number)), $(addr number 0), toDateTime($first + $buckets * 150),
     toDateTime($last), 'pod:new', 'new', 'ns-new', 2 FROM system.numbers LIMIT $NODES"
rows=$((NODES * W * P * buckets))
started=$(date +%s)
for dir in tx rx; do
  if [ "$dir" = tx ]; then who="n, w"; peer="$(addr "(n + k) % $NODES" "(w + k) % $W")"; rx=64; tx="1000 + (w * 7 + k * 13 + t) % 5000"
  else who="(n + k) % $NODES, (w + k) % $W"; peer="$(addr n w)"; rx="1000 + (w * 7 + k * 13 + t) % 5000"; tx=64; fi
  q "INSERT INTO bench.netattr_peers SELECT concat('node', toString(a)), '', concat('pod:', toString(a), '-', toString(b)),
       toDateTime($first + t * 300), 'socket', 'private', p, $rx, $tx, 1, 1, 1
     FROM (SELECT tupleElement(x, 1) AS a, tupleElement(x, 2) AS b, n, w, k, t, $peer AS p FROM (
       SELECT intDiv(number, $((W * P * buckets))) AS n, intDiv(number % $((W * P * buckets)), $((P * buckets))) AS w,
              intDiv(number % $((P * buckets)), $buckets) + 1 AS k, number % $buckets AS t, tuple($who) AS x
       FROM system.numbers LIMIT $rows))"
done
if [ "$ROLLUP" = 1 ]; then
  for d in $(seq 0 $((DAYS - 1))); do
    day=$((first + d * 86400))
    q "INSERT INTO bench.netattr_peer_days SELECT node, any(zone), identity, toDateTime($day), source, class, peer,
         sum(rx_bytes), sum(tx_bytes), sum(rx_packets), sum(tx_packets), min(bucket), max(bucket), 1
       FROM bench.netattr_peers WHERE bucket >= toDateTime($day) AND bucket < toDateTime($((day + 86400)))
       GROUP BY node, identity, source, class, peer"
    q "INSERT INTO bench.netattr_days_whole SELECT concat('node', toString(number)), toDateTime($day), 3, 1
       FROM system.numbers LIMIT $NODES"
  done
fi
if [ "$HOURS" = 1 ]; then
  # Each hour's sums, as the export has the store keep them (src/fleet/hours.rs), every
  # node's from the first bucket on.
  for d in $(seq 0 "$DAYS"); do
    day=$((first + d * 86400))
    q "INSERT INTO bench.netattr_peer_hours (node, zone, identity, hour, source, class, peer, rx_bytes, tx_bytes,
         rx_packets, tx_packets, first_bucket, last_bucket, version)
       SELECT node, any(zone), identity, toStartOfHour(bucket) AS h, source, class, peer, sum(rx_bytes), sum(tx_bytes),
         sum(rx_packets), sum(tx_packets), min(bucket), max(bucket), max(version)
       FROM bench.netattr_peers FINAL WHERE toDate(bucket) = toDate(toDateTime($day))
       GROUP BY node, identity, h, source, class, peer"
  done
  q "INSERT INTO bench.netattr_peer_hours_since SELECT concat('node', toString(number)), toDateTime($first), 1
     FROM system.numbers LIMIT $NODES"
fi
echo "store: $NODES nodes x $W workloads x $P peers x $buckets buckets: $(q "SELECT count() FROM bench.netattr_peers") peer rows, $(q "SELECT count() FROM bench.netattr_peer_days") day rows, $(q "SELECT count() FROM bench.netattr_peer_hours") hour rows, $(q "SELECT count() FROM bench.netattr_addresses") address ranges, written in $(( $(date +%s) - started )) s"
for _ in $(seq 600); do [ "$(q "SELECT count() FROM system.merges")" = "0" ] && break; sleep 1; done
report() { # ROUNDS ARGS...: the median wall of ROUNDS runs in ms, and the groups
  local rounds=$1; shift; local walls=""
  for _ in $(seq "$rounds"); do
    s=$(date +%s%N)
    "$N" report --from "$url" --timeout 850 --since "$first" --until "$last" --source socket "$@" -o json > "$work/out.json"
    walls+="$(( ($(date +%s%N) - s) / 1000000 ))"$'\n'
  done
  echo "$(printf '%s' "$walls" | median) ms, $(jq '.groups | length' "$work/out.json") groups"
}
echo
echo "| the fleet's pair table, $NODES nodes x $W workloads x $P peers, $DAYS day(s) and a half, days rolled up: $ROLLUP, hours: $HOURS | median of $ROUNDS |"
echo "|---|---|"
echo "| --by pod_namespace,peer_namespace,class | $(report "$ROUNDS" --by pod_namespace,peer_namespace,class) |"
jq -S .groups "$work/out.json" > "$work/ns.json"
echo "| --by name,peer | $(report "$ROUNDS" --by name,peer) |"
jq -S .groups "$work/out.json" > "$work/name.json"
if [ "$HOURS" = 1 ]; then
  # The same store, its hour rows no longer marked: the part not rolled up into days read
  # from the 5-minute rows, as before the hour rows.
  q "TRUNCATE TABLE bench.netattr_peer_hours_since"
  echo "| --by pod_namespace,peer_namespace,class, without the hour rows | $(report "$ROUNDS" --by pod_namespace,peer_namespace,class) |"
  jq -S .groups "$work/out.json" | cmp -s - "$work/ns.json" || echo "differs from the report with the hour rows" >&2
  echo "| --by name,peer, without the hour rows | $(report "$ROUNDS" --by name,peer) |"
  jq -S .groups "$work/out.json" | cmp -s - "$work/name.json" || echo "differs from the report with the hour rows" >&2
  echo "(the same groups and figures with and without the hour rows unless said above)"
fi
echo
echo "ClickHouse $(dpkg-query -W -f='${Version}' clickhouse-server), kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
