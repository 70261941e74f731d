#!/usr/bin/env bash
# Throughput impact: iperf3 TCP between two network namespaces over veths on a host bridge,
# RUNS interleaved runs of SECONDS each for: nothing attached; netattr (tc on both host veths
# and the socket programs at the cgroup2 root); tcpdump writing to /dev/null; nethogs.
# Each round runs the four cases in a shuffled order, iperf3's client and server pinned to
# CPU 0 and 1; a case's ratio is taken to the unattached run of the same round, so the
# machine's drift between rounds cancels out. Reports the median throughput, the median
# and range of the paired ratios, and CPU seconds per GB moved (all CPUs, from /proc/stat),
# then the live cost of each netattr program during those runs (kernel.bpf_stats_enabled,
# restored afterwards). Prints Markdown; removes what it made.
# Usage: sudo scripts/bench/throughput.sh [RUNS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
RUNS=${1:-5}; SECS=${2:-4}
cargo build --release --locked --bins >&2
N=target/release/netattr; pin=/sys/fs/bpf/netattr-bench-tput-$$
tag=nab$$
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
  sysctl -qw kernel.bpf_stats_enabled="$stats_was" || true
  pkill -f "iperf3 -s -B 10.239.0.3" 2>/dev/null || true
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  pair_down "$tag"
}
trap cleanup EXIT
pair_up "$tag" 10.239.0
ip netns exec "$tag-2" iperf3 -s -B 10.239.0.3 -D
sleep 0.5
$N load --pin-dir "$pin" >/dev/null
sysctl -qw kernel.bpf_stats_enabled=1
busy() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
declare -A gbps cpu ratio
for _ in $(seq "$RUNS"); do
  declare -A round=()
  for v in $(printf '%s\n' nothing netattr tcpdump nethogs | shuf); do
    pid=""
    case $v in
      netattr) $N attach --pin-dir "$pin" --iface "$tag-h1" --iface "$tag-h2" --cgroup >/dev/null ;;
      tcpdump) tcpdump -i "$tag-h1" -w /dev/null -s 0 >/dev/null 2>&1 & pid=$! ;;
      nethogs) nethogs -t -d 1 "$tag-h1" >/dev/null 2>&1 & pid=$! ;;
    esac
    sleep 0.5
    b0=$(busy)
    out=$(ip netns exec "$tag-1" iperf3 -c 10.239.0.3 -t "$SECS" -A 0,1 -J)
    b1=$(busy)
    [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
    [ "$v" = netattr ] && $N detach --pin-dir "$pin" --all >/dev/null
    bits=$(echo "$out" | jq '.end.sum_received.bits_per_second')
    bytes=$(echo "$out" | jq '.end.sum_received.bytes')
    hz=$(getconf CLK_TCK)
    round[$v]=$bits
    gbps[$v]+="$(awk -v b="$bits" 'BEGIN {printf "%.2f", b/1e9}')"$'\n'
    cpu[$v]+="$(awk -v t=$((b1 - b0)) -v hz="$hz" -v by="$bytes" 'BEGIN {printf "%.3f", (t/hz)/(by/1e9)}')"$'\n'
  done
  for v in nothing netattr tcpdump nethogs; do
    ratio[$v]+="$(awk -v a="${round[$v]}" -v b="${round[nothing]}" 'BEGIN {printf "%.4f", a/b}')"$'\n'
  done
done
echo "| attached | throughput (Gbit/s) | vs nothing, same round: median (range) | CPU s per GB | runs (Gbit/s) |"
echo "|---|---|---|---|---|"
for v in nothing netattr tcpdump nethogs; do
  g=$(printf '%s' "${gbps[$v]}" | median); c=$(printf '%s' "${cpu[$v]}" | median)
  all=$(printf '%s' "${gbps[$v]}" | sort -n | tr '\n' ' ')
  r=$(printf '%s' "${ratio[$v]}" | median)
  lo=$(printf '%s' "${ratio[$v]}" | sort -n | head -1); hi=$(printf '%s' "${ratio[$v]}" | sort -n | tail -1)
  echo "| $v | $g | $(awk -v r="$r" -v l="$lo" -v h="$hi" 'BEGIN {printf "%.1f %% (%.0f-%.0f %%)", 100*r, 100*l, 100*h}') | $c | $all|"
done
echo
echo "| netattr program (live, during the runs) | runs | ns per run |"
echo "|---|---|---|"
for p in tc_ingress tc_egress sock_ingress sock_egress; do
  bpftool -j prog show pinned "$pin/$p" | jq -r --arg p "$p" '"| \($p) | \(.run_cnt) | \(if .run_cnt > 0 then (.run_time_ns / .run_cnt | floor) else "-" end) |"'
done
echo
echo "iperf3 TCP, one stream, client on CPU 0 and server on CPU 1, $SECS s per run; $RUNS rounds of the"
echo "four cases in a shuffled order; medians over the rounds."
echo "Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
