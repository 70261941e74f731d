#!/usr/bin/env bash
# Soak: MINUTES of traffic between two namespaces (tc on both veths, socket programs at
# the cgroup2 root) while `netattr stats --format json` is polled every 100 ms and
# `netattr serve` is scraped every second. Checks that no counter ever decreases (in the
# polls and in the scrapes) and that no poll or scrape fails; reports their counts, the peak
# RSS of the polls, and serve's RSS after the first minute, at the end and at its peak.
# Usage: sudo scripts/bench/soak.sh [MINUTES]
set -euo pipefail
export LC_ALL=C # sort and join agree on the order
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
MIN=${1:-10}
cargo build --release --locked --bins >&2
N=target/release/netattr; pin=/sys/fs/bpf/netattr-bench-soak-$$; tag=nas$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
spid=""; scraper=""
cleanup() {
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null || true
  [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
  pkill -f "iperf3 -s -B 10.236.0.3" 2>/dev/null || true
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  pair_down "$tag"
  rm -f /tmp/netattr-soak-$$.*
}
trap cleanup EXIT
pair_up "$tag" 10.236.0
$N load --pin-dir "$pin" >/dev/null
$N attach --pin-dir "$pin" --iface "$tag-h1" --iface "$tag-h2" --cgroup >/dev/null
ip netns exec "$tag-2" iperf3 -s -B 10.236.0.3 -D
sleep 0.5
ip netns exec "$tag-1" iperf3 -c 10.236.0.3 -t $((MIN * 60)) -b 200M >/dev/null 2>&1 &
$N serve --pin-dir "$pin" --listen "127.0.0.1:$port" 2>/dev/null & spid=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
# The scraper: every second, /metrics must answer 200 and no series may go down.
(
  ok=0; bad=0; down=0; sprev=/tmp/netattr-soak-$$.sprev; scur=/tmp/netattr-soak-$$.scur; : > "$sprev"
  while true; do
    if curl -sf -o /tmp/netattr-soak-$$.prom "127.0.0.1:$port/metrics"; then
      grep -E '^netattr_(rx|tx)_(bytes|packets)_total' /tmp/netattr-soak-$$.prom | sed 's/ \([^ ]*\)$/\t\1/' | sort > "$scur"
      down=$((down + $(join -t $'\t' "$sprev" "$scur" | awk -F'\t' '$2 > $3' | wc -l)))
      mv "$scur" "$sprev"; ok=$((ok + 1))
    else
      bad=$((bad + 1))
    fi
    echo "$ok $bad $down" > /tmp/netattr-soak-$$.scrapes
    sleep 1
  done
) & scraper=$!
rss_at() { awk '/VmRSS/ {print $2}' "/proc/$spid/status"; }
start_rss=""
end=$((SECONDS + MIN * 60)); polls=0; errors=0; decreases=0; peak=0
prev=/tmp/netattr-soak-$$.prev; cur=/tmp/netattr-soak-$$.cur; : > "$prev"
while [ $SECONDS -lt $end ]; do
  if /usr/bin/time -f "%M" -o /tmp/netattr-soak-$$.rss $N stats --pin-dir "$pin" --format json --no-resolve > /tmp/netattr-soak-$$.json 2>/dev/null; then
    jq -r '.cgroups[] | "\(.source) \(.cgroup_id) \(.rx_bytes) \(.tx_bytes) \(.rx_packets) \(.tx_packets)"' /tmp/netattr-soak-$$.json | sort > "$cur"
    # A counter that went down between two polls of the same key.
    decreases=$((decreases + $(join -j1 <(awk '{print $1":"$2, $3, $4, $5, $6}' "$prev") <(awk '{print $1":"$2, $3, $4, $5, $6}' "$cur") \
      | awk '$2 > $6 || $3 > $7 || $4 > $8 || $5 > $9' | wc -l)))
    mv "$cur" "$prev"
    rss=$(cat /tmp/netattr-soak-$$.rss); [ "$rss" -gt "$peak" ] && peak=$rss
  else
    errors=$((errors + 1))
  fi
  polls=$((polls + 1))
  [ -z "$start_rss" ] && [ $((end - SECONDS)) -le $((MIN * 60 - 60)) ] && start_rss=$(rss_at)
  sleep 0.1
done
read -r scrapes failed_scrapes scrape_decreases < /tmp/netattr-soak-$$.scrapes
end_rss=$(rss_at); peak_serve=$(awk '/VmHWM/ {print $2}' "/proc/$spid/status")
kill "$scraper"; scraper=""
kill -TERM "$spid"; serve_exit=0; wait "$spid" || serve_exit=$?; spid=""
echo "| minutes | polls | failed polls | counters that decreased | peak RSS of a poll |"
echo "|---|---|---|---|---|"
echo "| $MIN | $polls | $errors | $decreases | $peak KB |"
echo
echo "| scrapes of serve | failed scrapes | series that decreased | serve RSS after 1 min | at the end | peak | exit on SIGTERM |"
echo "|---|---|---|---|---|---|---|"
echo "| $scrapes | $failed_scrapes | $scrape_decreases | ${start_rss:-?} KB | $end_rss KB | $peak_serve KB | $serve_exit |"
echo
echo "iperf3 at 200 Mbit/s between two namespaces; tc on both veths and socket programs at the"
echo "cgroup2 root; \`stats --format json --no-resolve\` every 100 ms; \`serve\` scraped every"
echo "second. Kernel $(uname -r), $(date -u +%F)."
