#!/usr/bin/env bash
# Regenerates docs/walkthrough.md's session on this machine: a "container" (a network namespace
# with a veth to the host, a process in system.slice/docker-<id>.scope) sends 50 MiB with
# iperf3 to a server in system.slice/iperf-server.service. Prints the session; removes
# everything it made on exit, and writes the session into docs/walkthrough.md's console block
# (a test holds the figures in it to what netattr prints). Needs root, iperf3, jq and a built
# target/release/netattr.
set -euo pipefail
cd "$(dirname "$0")/.."
N=target/release/netattr
PIN=/sys/fs/bpf/netattr-walkthrough
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
ID=$(printf '4f%.0s' {1..32})
C="$CG/system.slice/docker-$ID.scope"; S="$CG/system.slice/iperf-server.service"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  $N cleanup --pin-dir "$PIN" 2>/dev/null || true
  ip netns del walk1 2>/dev/null || true
  rmdir "$C" "$S" 2>/dev/null || true
  rmdir "$CG/system.slice" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add walk1
ip link add veth-walk1 type veth peer name eth0 netns walk1
ip addr add 10.232.0.1/24 dev veth-walk1; ip link set veth-walk1 up
ip -n walk1 addr add 10.232.0.2/24 dev eth0; ip -n walk1 link set eth0 up
mkdir -p "$C" "$S"
(echo 0 > "$C/cgroup.procs"; exec ip netns exec walk1 sleep 120) & pids+=($!)
(echo 0 > "$S/cgroup.procs"; exec iperf3 -s -1 -B 10.232.0.1 >/dev/null) & pids+=($!)
sleep 0.5
run() { echo "\$ sudo netattr $*"; $N "$@" --pin-dir "$PIN" 2>&1; echo; }
session() {
run check
run load --breakdown iface,port
run attach --all-veth --cgroup
got=$( (echo 0 > "$C/cgroup.procs"; exec ip netns exec walk1 iperf3 -c 10.232.0.1 -n 50M -J) | jq .end.sum_received.bytes)
echo "(iperf3: the server received $got bytes)"; echo
sleep 0.3
run stats
run stats --source tc
run stats --by port --top 2
run status
run cleanup
}
out=$(mktemp)
session | tee "$out"
# The session replaces the console block of docs/walkthrough.md (its last blank line dropped).
python3 - "$out" docs/walkthrough.md <<'PY'
import sys
session = open(sys.argv[1]).read().rstrip("\n") + "\n"
doc = open(sys.argv[2]).read()
start = doc.index("```console\n") + len("```console\n")
end = doc.index("```", start)
open(sys.argv[2], "w").write(doc[:start] + session + doc[end:])
PY
rm -f "$out"
