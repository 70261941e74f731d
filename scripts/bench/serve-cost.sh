#!/usr/bin/env bash
# Memory and CPU of the long-running views at 10,000 workloads (a number of your choosing):
# `netattr serve` scraped SCRAPES times (CPU per scrape from the process's own utime+stime,
# scrape latency from curl, peak RSS from VmHWM), and `netattr top` running in a tmux
# terminal for 5 seconds (peak RSS). The keys are synthetic cgroup ids with a value on every
# CPU (examples/bench_fill.rs), so every row is a gone cgroup: resolution's worst case.
# Usage: sudo scripts/bench/serve-cost.sh [KEYS] [SCRAPES]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
KEYS=${1:-10000}; SCRAPES=${2:-20}
N=$PWD/target/release/netattr
cargo build --release --locked --bins --examples >&2
pin=/sys/fs/bpf/netattr-bench-serve-$$; session=netattr-bench-top-$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
spid=""
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
  tmux kill-session -t "$session" 2>/dev/null || true
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  rm -f /tmp/netattr-bench-serve.$$
}
trap cleanup EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

$N load --pin-dir "$pin" --max-entries $((KEYS + 100)) >/dev/null
target/release/examples/bench_fill "$pin" "$KEYS"
$N serve --pin-dir "$pin" --listen "127.0.0.1:$port" 2>/dev/null & spid=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
curl -sf "127.0.0.1:$port/metrics" > /tmp/netattr-bench-serve.$$   # warm: first scrape
series=$(grep -c '^netattr_tx_bytes_total' /tmp/netattr-bench-serve.$$)
bytes=$(wc -c < /tmp/netattr-bench-serve.$$)
before=$(ticks "$spid"); times=""
for _ in $(seq "$SCRAPES"); do
  times+="$(curl -sf -o /dev/null -w '%{time_total}' "127.0.0.1:$port/metrics")"$'\n'
done
after=$(ticks "$spid"); hz=$(getconf CLK_TCK)
cpu_ms=$(awk -v a="$before" -v b="$after" -v n="$SCRAPES" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) * 1000 / hz / n}')
latency_ms=$(printf '%s' "$times" | median | awk '{printf "%.1f", $1 * 1000}')
serve_rss=$(hwm "$spid")
kill -TERM "$spid"; wait "$spid" || true; spid=""

tmux new-session -d -s "$session" -x 120 -y 40 "$N top --pin-dir $pin"
sleep 5
tpid=$(pgrep -f "^$N top --pin-dir $pin" | head -1)
top_rss=$(hwm "$tpid")
tmux send-keys -t "$session" q

echo "| keys | series per metric | exposition size | serve: CPU per scrape | serve: scrape latency (median) | serve: peak RSS | top: peak RSS |"
echo "|---|---|---|---|---|---|---|"
echo "| $KEYS | $series | $((bytes / 1024)) KiB | $cpu_ms ms | $latency_ms ms | $((serve_rss / 1024)) MB | $((top_rss / 1024)) MB |"
echo
echo "$SCRAPES scrapes after a first one; CPU from /proc/PID/stat of serve, RSS = VmHWM."
echo "Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
