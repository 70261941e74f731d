#!/usr/bin/env bash
# Regenerates docs/walkthrough.md's session on this machine: a "container" (a network namespace
# with a veth to the host, a process in system.slice/docker-<id>.scope) sends 50 MiB with
# iperf3 to a server in system.slice/iperf-server.service. Prints the session; removes
# everything it made on exit, and writes the session into docs/walkthrough.md's console block
# (a test holds the figures in it to what netattr prints). Needs root, iperf3, jq and a built
# target/release/netattr. The test that runs it (docs.rs) gives its own names: WALK_NETATTR
# (the binary), WALK_PIN, WALK_NS (a network namespace; its veth is veth-NS), WALK_CGROUP (a
# cgroup directory standing for the cgroup2 root), WALK_NET (a /24's first three bytes),
# WALK_CGROUP_REL (that directory below the mount, where the socket programs attach), WALK_DOC
# (where the session goes; "-" for nowhere).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${WALK_NETATTR:-target/release/netattr}
PIN=${WALK_PIN:-/sys/fs/bpf/netattr-walkthrough}
NS=${WALK_NS:-walk1}
NET=${WALK_NET:-10.232.0}
DOC=${WALK_DOC:-docs/walkthrough.md}
CG=${WALK_CGROUP:-$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)}
ID=$(printf '4f%.0s' {1..32})
C="$CG/system.slice/docker-$ID.scope"; S="$CG/system.slice/iperf-server.service"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  $N cleanup --pin-dir "$PIN" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rmdir "$C" "$S" 2>/dev/null || true
  rmdir "$CG/system.slice" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip link add "veth-$NS" type veth peer name eth0 netns "$NS"
ip addr add "$NET.1/24" dev "veth-$NS"; ip link set "veth-$NS" up
ip -n "$NS" addr add "$NET.2/24" dev eth0; ip -n "$NS" link set eth0 up
mkdir -p "$C" "$S"
(echo 0 > "$C/cgroup.procs"; exec ip netns exec "$NS" sleep 120) & pids+=($!)
(echo 0 > "$S/cgroup.procs"; exec iperf3 -s -1 -B "$NET.1" >/dev/null) & pids+=($!)
sleep 0.5
run() { echo "\$ sudo netattr $*"; $N "$@" --pin-dir "$PIN" 2>&1; echo; }
session() {
run check
run load --breakdown iface,port
if [ -n "${WALK_CGROUP_REL:-}" ]; then run attach --all-veth --cgroup "$WALK_CGROUP_REL"; else run attach --all-veth --cgroup; fi
got=$( (echo 0 > "$C/cgroup.procs"; exec ip netns exec "$NS" iperf3 -c "$NET.1" -n 50M -J) | jq .end.sum_received.bytes)
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
[ "$DOC" = "-" ] || python3 - "$out" "$DOC" <<'PY'
import sys
session = open(sys.argv[1]).read().rstrip("\n") + "\n"
doc = open(sys.argv[2]).read()
start = doc.index("```console\n") + len("```console\n")
end = doc.index("```", start)
open(sys.argv[2], "w").write(doc[:start] + session + doc[end:])
PY
rm -f "$out"
