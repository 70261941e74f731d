#!/usr/bin/env bash
# report --from a fleet store over a month (issue 27): NODES nodes (20) x W workloads (1,000)
# x 31 days, in a ClickHouse 18.16 server of the script's own: the tables as `export --init`
# makes them, filled in ClickHouse itself (INSERT ... SELECT, the same figures by
# construction): every 5-minute row of the month (178.6 million at 20 x 1,000), each day's
# row with its 288 five-minute figures, every day marked whole, as nodes whose ledgers rolled
# their days up leave a store. Then the month's report --by pod_namespace, with and without
# --p95, median of ROUNDS; with BEFORE=path/to/an/older/netattr, the same reports by that
# binary side by side, once each (it reads every 5-minute row with FINAL; stopped at 900 s). Needs
# clickhouse-server, sqlite3 and a release build (cargo build --release --examples).
# Usage: scripts/bench/fleet-report-cost.sh [NODES] [W] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
NODES=${1:-20}; W=${2:-1000}; ROUNDS=${3:-3}
N=$PWD/target/release/netattr
work=$(mktemp -d)
cleanup() { pkill -f "$work/config.xml" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ch_bench_store "$work"
first=1790812800; days=31; last=$((first + days * 86400)) # 2026-10-01 .. 2026-11-01
per=$((W * days * 288)); total=$((NODES * per))
f_rx="(n * 31 + w * 7919 + t * 104729) % 900000"; f_tx="(n * 17 + w * 104729 + t * 7919) % 500000"
started=$(date +%s)
q "INSERT INTO bench.netattr_workloads SELECT concat('node', toString(n)), concat('pod:', toString(w)), 'pod',
     'containerd', concat('w', toString(w)), concat('ns', toString(w % 20)), concat('w', toString(w)), NULL,
     toString(w), NULL, '{}', toDateTime($first), toDateTime($last), 1
   FROM (SELECT intDiv(number, $W) AS n, number % $W AS w FROM system.numbers LIMIT $((NODES * W)))"
q "INSERT INTO bench.netattr_usage SELECT concat('node', toString(n)), '', concat('pod:', toString(w)),
     toDateTime($first + t * 300), 'socket', '', $f_rx, $f_tx, 1000, 800, 2
   FROM (SELECT intDiv(number, $per) AS n, intDiv(number % $per, $((days * 288))) AS w, number % $((days * 288)) AS t
         FROM system.numbers LIMIT $total)"
q "INSERT INTO bench.netattr_days SELECT concat('node', toString(n)), '', concat('pod:', toString(w)),
     toDateTime($first + d * 86400), 'socket', '',
     arraySum(arrayMap(t -> $f_rx, arrayMap(i -> d * 288 + i, range(288)))), arraySum(arrayMap(t -> $f_tx, arrayMap(i -> d * 288 + i, range(288)))),
     288000, 230400, arrayMap(t -> toUInt64($f_rx + $f_tx), arrayMap(i -> d * 288 + i, range(288))), 3
   FROM (SELECT intDiv(number, $((W * days))) AS n, intDiv(number % $((W * days)), $days) AS w, number % $days AS d
         FROM system.numbers LIMIT $((NODES * W * days)))"
q "INSERT INTO bench.netattr_days_whole SELECT concat('node', toString(intDiv(number, $days))),
     toDateTime($first + (number % $days) * 86400), 1, 3 FROM system.numbers LIMIT $((NODES * days))"
echo "store: $NODES nodes x $W workloads x $days days: $(q "SELECT count() FROM bench.netattr_usage") 5-minute rows, $(q "SELECT count() FROM bench.netattr_days") day rows, written in $(( $(date +%s) - started )) s"
for _ in $(seq 600); do [ "$(q "SELECT count() FROM system.merges")" = "0" ] && break; sleep 1; done
echo "on disk: $(q "SELECT formatReadableSize(sum(bytes_on_disk)) FROM system.parts WHERE database = 'bench' AND active")"
report() { # BINARY ROUNDS ARGS...: the median wall of ROUNDS runs in ms, or why not
  local b=$1 rounds=$2; shift 2; local walls=""
  rm -f "$work/out.json"
  for _ in $(seq "$rounds"); do
    s=$(date +%s%N)
    if ! timeout 900 "$b" report --from "$url" --timeout 850 --since "$first" --until "$last" "$@" -o json > "$work/out.json" 2>"$work/err"; then
      echo "failed: $(head -c 200 "$work/err")"; return
    fi
    walls+="$(( ($(date +%s%N) - s) / 1000000 ))"$'\n'
  done
  echo "$(printf '%s' "$walls" | median) ms"
}
now_totals=$(report "$N" "$ROUNDS" --by pod_namespace); cp "$work/out.json" "$work/now.json"
now_p95=$(report "$N" "$ROUNDS" --by pod_namespace --p95); cp "$work/out.json" "$work/now95.json"
echo
echo "| the month, $NODES nodes x $W workloads, --by pod_namespace | now (whole days from netattr_days), median of $ROUNDS |${BEFORE:+ before ($BEFORE: every 5-minute row, FINAL), once |}"
echo "|---|---|${BEFORE:+---|}"
if [ -n "${BEFORE:-}" ]; then
  before_totals=$(report "$BEFORE" 1 --by pod_namespace); cp "$work/out.json" "$work/before.json" 2>/dev/null || true
  echo "| totals | $now_totals | $before_totals |"
  before_p95=$(report "$BEFORE" 1 --by pod_namespace --p95); cp "$work/out.json" "$work/before95.json" 2>/dev/null || true
  echo "| with --p95 | $now_p95 | $before_p95 |"
  for k in "" 95; do
    if [ -s "$work/before$k.json" ] && cmp -s <(jq -S '.groups' "$work/now$k.json") <(jq -S '.groups' "$work/before$k.json"); then
      echo "${k:+--p95 }groups: the same in both"; else echo "${k:+--p95 }groups: DIFFERENT"; fi
  done
else
  echo "| totals | $now_totals |"
  echo "| with --p95 | $now_p95 |"
fi
echo
echo "ClickHouse $(dpkg-query -W -f='${Version}' clickhouse-server), kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
