#!/usr/bin/env bash
# Per-packet cost in the kernel, measured with BPF_PROG_TEST_RUN (bpftool prog run):
# netattr's programs in each load configuration beside baselines, on 64 B and 1500 B TCP
# and UDP packets. The machine is shared and noisy: programs run interleaved, ROUNDS
# rounds, and the table shows the median ns per run and the ratio to the empty program.
# Usage: sudo scripts/bench/prog-cost.sh [ROUNDS] [REPEAT]   (prints a Markdown table)
#        ONLY='class|empty' sudo scripts/bench/prog-cost.sh ...   (only the rows it matches)
#        BEFORE=/path/to/an/older/netattr ...   (its default and class programs too, side by side)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}; REPEAT=${2:-2000000}
N=target/release/netattr
cargo build --release --locked --bins >&2
INC=$(ls -d target/release/build/libbpf-sys-*/out/include | head -1)
work=$(mktemp -d); base=/sys/fs/bpf/netattr-bench-$$
cleanup() {
  for c in plain iface port both slow class class10 class10k peer peerhash peerfull peercap peercrowd; do $N cleanup --pin-dir "$base-$c" >/dev/null 2>&1 || true; done
  [ -n "${BEFORE:-}" ] && { for d in before beforeplain; do "$BEFORE" cleanup --pin-dir "$base-$d" >/dev/null 2>&1 || true; done; }
  rm -rf "$base-baselines" "$work"
}
trap cleanup EXIT
python3 scripts/bench/packets.py "$work"
clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -I"$INC" -c scripts/bench/baselines.bpf.c -o "$work/b.o"
mkdir -p "$base-baselines"; bpftool prog loadall "$work/b.o" "$base-baselines" type classifier
$N load --pin-dir "$base-plain" >/dev/null
$N load --pin-dir "$base-iface" --breakdown iface >/dev/null
$N load --pin-dir "$base-port" --breakdown port >/dev/null
$N load --pin-dir "$base-both" --breakdown iface,port >/dev/null
$N load --pin-dir "$base-slow" --no-fast-path >/dev/null
# Classes files of 10 and 10,000 prefixes, all inside 10.0.0.0/8 and one of them holding the
# test packets' addresses (10.0.0.1 -> 10.0.0.2), so that the trie is walked deep.
python3 - "$work" <<'PY'
import sys
out = sys.argv[1]
for n, name in ((10, "class10"), (10000, "class10k")):
    nets = ["10.0.0.0/24"] + [f"10.{1 + i // 250}.{i % 250}.0/24" for i in range(n - 1)]
    body = ", ".join(f'"{x}"' for x in nets)
    open(f"{out}/{name}.toml", "w").write(f"[classes]\nin-zone = [{body}]\n")
PY
$N load --pin-dir "$base-class" --breakdown class >/dev/null
$N load --pin-dir "$base-class10" --breakdown class --classes "$work/class10.toml" >/dev/null
$N load --pin-dir "$base-class10k" --breakdown class --classes "$work/class10k.toml" >/dev/null
$N load --pin-dir "$base-peer" --breakdown peer >/dev/null
# Without the fast path every packet's peer is looked up in the peer hash: what a workload's
# fifth peer and later ones cost (its first four take its slot's peer lanes).
$N load --pin-dir "$base-peerhash" --breakdown peer --no-fast-path >/dev/null
# With the fast path, and five other peers first: the test frames' peers are a workload's
# sixth, in a lane of the pool; with 70 more first, past the slot's share of the pool (64
# lanes), in a lane still (the pool has fewer than half its lanes claimed); and the same with
# the pool's count of claimed lanes set to half of it (as when other workloads hold them):
# counted in the peer hash.
for b in peerfull peercap peercrowd; do $N load --pin-dir "$base-$b" --breakdown peer >/dev/null; done
for p in tc_egress sock_egress; do
  for f in 3 4 5 6 7; do
    for b in peerfull peercap peercrowd; do bpftool prog run pinned "$base-$b/$p" data_in "$work/fill$f.l2" repeat 1 >/dev/null; done
  done
  for f in $(seq 70); do
    for b in peercap peercrowd; do bpftool prog run pinned "$base-$b/$p" data_in "$work/cap$f.l2" repeat 1 >/dev/null; done
  done
done
# <source>_peer_claims[4096] (PEER_POOL_COUNT) = 8192 (PEER_POOL_OPEN), native byte order.
half=$(python3 -c 'import struct; print(" ".join(str(b) for b in struct.pack("=Q", 8192)))')
for src in tc sock; do
  bpftool map update pinned "$base-peercrowd/${src}_peer_claims" key 0 16 0 0 value $half
done

progs=(
  "empty (floor)|$base-baselines/empty|l2"
  "bpf_skb_cgroup_id alone|$base-baselines/cgroup_id_only|l2"
  "seed: global HASH, atomic add|$base-baselines/seed_atomic|l2"
  "PERCPU_HASH, update_elem per packet|$base-baselines/percpu_update|l2"
  "netattr tc_egress|$base-plain/tc_egress|l2"
  "netattr tc_egress, --no-fast-path (kernels before 5.12)|$base-slow/tc_egress|l2"
  "netattr tc_egress, --breakdown iface|$base-iface/tc_egress|l2"
  "netattr tc_egress, --breakdown port|$base-port/tc_egress|l2"
  "netattr tc_egress, --breakdown iface,port|$base-both/tc_egress|l2"
  "netattr tc_egress, --breakdown class (built-in classes)|$base-class/tc_egress|l2"
  "netattr tc_egress, --breakdown class, 10 prefixes|$base-class10/tc_egress|l2"
  "netattr tc_egress, --breakdown class, 10,000 prefixes|$base-class10k/tc_egress|l2"
  "netattr tc_egress, --breakdown peer (built-in classes)|$base-peer/tc_egress|l2"
  "netattr tc_egress, --breakdown peer, --no-fast-path (the peer hash)|$base-peerhash/tc_egress|l2"
  "netattr tc_egress, --breakdown peer, a sixth peer (a lane of the pool)|$base-peerfull/tc_egress|l2"
  "netattr tc_egress, --breakdown peer, past the slot's 64 lanes (a lane of the pool, under half claimed)|$base-peercap/tc_egress|l2"
  "netattr tc_egress, --breakdown peer, past the slot's 64 lanes, the pool half claimed (the peer hash)|$base-peercrowd/tc_egress|l2"
  "netattr sock_egress|$base-plain/sock_egress|l2"
  "netattr sock_egress, --no-fast-path (kernels before 5.12)|$base-slow/sock_egress|l2"
  "netattr sock_egress, --breakdown port|$base-port/sock_egress|l2"
  "netattr sock_egress, --breakdown class (built-in classes)|$base-class/sock_egress|l2"
  "netattr sock_egress, --breakdown class, 10 prefixes|$base-class10/sock_egress|l2"
  "netattr sock_egress, --breakdown class, 10,000 prefixes|$base-class10k/sock_egress|l2"
  "netattr sock_egress, --breakdown peer (built-in classes)|$base-peer/sock_egress|l2"
  "netattr sock_egress, --breakdown peer, --no-fast-path (the peer hash)|$base-peerhash/sock_egress|l2"
  "netattr sock_egress, --breakdown peer, a sixth peer (a lane of the pool)|$base-peerfull/sock_egress|l2"
  "netattr sock_egress, --breakdown peer, past the slot's 64 lanes (a lane of the pool, under half claimed)|$base-peercap/sock_egress|l2"
  "netattr sock_egress, --breakdown peer, past the slot's 64 lanes, the pool half claimed (the peer hash)|$base-peercrowd/sock_egress|l2"
)
if [ -n "${BEFORE:-}" ]; then
  "$BEFORE" load --pin-dir "$base-before" --breakdown class >/dev/null
  "$BEFORE" load --pin-dir "$base-beforeplain" >/dev/null
  progs+=(
    "before: tc_egress|$base-beforeplain/tc_egress|l2"
    "before: sock_egress|$base-beforeplain/sock_egress|l2"
    "before: tc_egress, --breakdown class (built-in classes)|$base-before/tc_egress|l2"
    "before: sock_egress, --breakdown class (built-in classes)|$base-before/sock_egress|l2"
  )
fi
# The socket programs run on the Ethernet frames too: BPF_PROG_TEST_RUN passes every skb
# through eth_type_trans, which sets skb->protocol from an Ethernet header and pulls it, so
# a cgroup_skb program sees the IP packet with its protocol set, as at the real hook. (Fed
# a bare IP packet, it would see a packet cut 14 bytes in, with no protocol.)
if [ -n "${ONLY:-}" ]; then
  kept=(); for p in "${progs[@]}"; do [[ "${p%%|*}" =~ $ONLY ]] && kept+=("$p"); done; progs=("${kept[@]}")
fi
pkts=(tcp64 tcp1500 udp64 udp1500 udp6_64 udp6i_64)
declare -A samples
for r in $(seq "$ROUNDS"); do
  for p in "${progs[@]}"; do
    IFS='|' read -r name pin layer <<<"$p"
    for k in "${pkts[@]}"; do
      ns=$(bpftool prog run pinned "$pin" data_in "$work/$k.$layer" repeat "$REPEAT" 2>&1 | sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p')
      samples["$name|$k"]+="$ns "
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
declare -A floor
for k in "${pkts[@]}"; do floor[$k]=$(echo "${samples["empty (floor)|$k"]}" | median); done
echo "| program | TCP 64 B | TCP 1500 B | UDP 64 B | UDP 1500 B | UDP/IPv6 64 B, host's /64 | UDP/IPv6 64 B, internet |"
echo "|---|---|---|---|---|---|---|"
for p in "${progs[@]}"; do
  IFS='|' read -r name _ _ <<<"$p"
  row="| $name |"
  for k in "${pkts[@]}"; do
    m=$(echo "${samples["$name|$k"]}" | median)
    row+=" $m ns ($(awk -v a="$m" -v b="${floor[$k]}" 'BEGIN {printf "%.2fx", a/b}')) |"
  done
  echo "$row"
done
echo
echo "Median of $ROUNDS interleaved rounds of $REPEAT runs each; ratio to the empty program."
echo "Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."

# Two senders on two CPUs, same cgroup (the worst case for a shared counter): each CPU
# runs the program at once; ns per run on each, beside the same program on one CPU.
if [ "$(nproc)" -ge 2 ]; then
  echo
  echo "| two CPUs, one cgroup (TCP 64 B) | one CPU alone | CPU 0 and CPU 1 at once |"
  echo "|---|---|---|"
  for p in "seed: global HASH, atomic add|$base-baselines/seed_atomic" "netattr tc_egress|$base-plain/tc_egress"; do
    IFS='|' read -r name pin <<<"$p"
    one=""; both=""
    for _ in $(seq "$ROUNDS"); do
      one+="$(taskset -c 0 bpftool prog run pinned "$pin" data_in "$work/tcp64.l2" repeat "$REPEAT" 2>&1 | sed -n 's/.*average): \([0-9]*\)ns.*/\1/p')"$'\n'
      taskset -c 0 bpftool prog run pinned "$pin" data_in "$work/tcp64.l2" repeat "$REPEAT" > "$work/c0" 2>&1 &
      taskset -c 1 bpftool prog run pinned "$pin" data_in "$work/tcp64.l2" repeat "$REPEAT" > "$work/c1" 2>&1
      wait
      both+="$(cat "$work/c0" "$work/c1" | sed -n 's/.*average): \([0-9]*\)ns.*/\1/p' | tr '\n' '/' | sed 's|/$||')"$'\n'
    done
    echo "| $name | $(printf '%s' "$one" | median) ns | $(printf '%s' "$both" | sort -t/ -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}') ns |"
  done
  echo
  echo "Median of $ROUNDS rounds; \"at once\" shows CPU 0 / CPU 1 of the median round."
fi
