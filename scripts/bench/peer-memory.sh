#!/usr/bin/env bash
# Memory of the peer map (`load --breakdown peer`): the kernel's own figure for the pinned
# peer_stats and peer_other maps and the peer lanes (bpftool's memlock, which Linux 6.x takes from the map's
# memory usage), loaded empty, then after one workload sent a datagram to each of N addresses
# (N up to past the map's capacity), at the default --peer-entries and at a chosen one.
# A namespace and a cgroup of the script's own; the addresses (2001:db8:77::/64) are routed
# to a permanent neighbour nobody has, so the datagrams go nowhere.
# Usage: sudo scripts/bench/peer-memory.sh [ENTRIES] [N]   (defaults: 16384, 20000)
set -euo pipefail
cd "$(dirname "$0")/../.."
ENTRIES=${1:-16384}; COUNT=${2:-20000}
N=target/release/netattr
cargo build --release --locked --bins >&2
cg2=$(findmnt -t cgroup2 -n -o TARGET | head -1)
pin=/sys/fs/bpf/netattr-peermem-$$; ns=netattr-peermem-$$; cg=$cg2/netattr-peermem-$$
cleanup() {
  $N cleanup --pin-dir "$pin" >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "npm$$" 2>/dev/null || true
  rmdir "$cg" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip link add "npm$$" type veth peer name eth0 netns "$ns"
ip link set "npm$$" up
ip -n "$ns" link set eth0 up
ip -n "$ns" -6 addr add 2001:db8:76::2/64 dev eth0 nodad
ip -n "$ns" -6 neigh add 2001:db8:76::1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent
ip -n "$ns" -6 route add 2001:db8:77::/64 via 2001:db8:76::1 dev eth0
mkdir -p "$cg"
memlock() { bpftool map show pinned "$pin/$1" | sed -n 's/.*memlock \([0-9]*\)B.*/\1/p'; }
$N load --pin-dir "$pin" --breakdown peer --peer-classes internet --peer-entries "$ENTRIES" >/dev/null
$N attach --pin-dir "$pin" --cgroup "/$(basename "$cg")" >/dev/null
empty_stats=$(memlock peer_stats); empty_other=$(memlock peer_other)
cat > "/tmp/peermem-$$.py" <<PY
import socket, ipaddress
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
base = int(ipaddress.IPv6Address("2001:db8:77::"))
for i in range(1, $COUNT + 1):
    s.sendto(b"x" * 16, (str(ipaddress.IPv6Address(base + i)), 9))
PY
# Into the cgroup first (outside the namespace: ip netns exec mounts its own /sys), then in.
sh -c "echo \$\$ > $cg/cgroup.procs && exec ip netns exec $ns python3 /tmp/peermem-$$.py"
rm -f "/tmp/peermem-$$.py"
rows=$($N stats --pin-dir "$pin" --by peer --source socket --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for r in d["cgroups"] if r.get("peer_kind") == "address"))')
full_stats=$(memlock peer_stats); full_other=$(memlock peer_other)
spills=$($N status --pin-dir "$pin" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["health"]["peer_spills"])')
cpus=$(nproc)
lanes=0; for m in tc_peer_lanes tc_peer_slots sock_peer_lanes sock_peer_slots; do lanes=$((lanes + $(memlock $m))); done
echo "| peer map (--peer-entries $ENTRIES), $cpus CPUs | peer_stats | peer_other | the peer lanes (both sources) |"
echo "|---|---|---|---|"
echo "| loaded, no peer yet | $empty_stats B | $empty_other B | $lanes B |"
echo "| after $COUNT peers ($rows rows held, $spills spilled to other peers) | $full_stats B | $full_other B | $lanes B |"
echo
echo "bpftool's memlock of each pinned map; $(uname -r), $(date -u +%F)."
