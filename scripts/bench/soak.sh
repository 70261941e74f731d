#!/usr/bin/env bash
# Soak: MINUTES of traffic between two namespaces (tc on both veths, socket programs at
# the cgroup2 root) while `netattr stats --format json` is polled every 100 ms. Checks
# that no counter ever decreases and no poll fails; reports polls, errors and the peak RSS
# of the polls. (Once `netattr serve` exists it is scraped every second as well.)
# Usage: sudo scripts/bench/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
MIN=${1:-10}
cargo build --release --locked --bins >&2
N=target/release/netattr; pin=/sys/fs/bpf/netattr-bench-soak-$$; tag=nas$$
cleanup() {
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
  sleep 0.1
done
echo "| minutes | polls | failed polls | counters that decreased | peak RSS of a poll |"
echo "|---|---|---|---|---|"
echo "| $MIN | $polls | $errors | $decreases | $peak KB |"
echo
echo "iperf3 at 200 Mbit/s between two namespaces; tc on both veths and socket programs at the"
echo "cgroup2 root; \`stats --format json --no-resolve\` every 100 ms. Kernel $(uname -r), $(date -u +%F)."
