#!/usr/bin/env bash
# Builds netattr, loads it, attaches it to every veth and at the cgroup2 root (so every
# socket on the host is counted), and prints who used the network over 5 seconds.
# Leaves netattr loaded for more commands; 'netattr cleanup' removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
N="$SUDO target/release/netattr"
$N check
$N load --reuse >/dev/null
$N attach --all-veth --cgroup
echo "counting for 5 seconds..." >&2
sleep 5
$N stats --top 10
echo "more: $N top; $N stats --format json | jq; $N status; $N cleanup" >&2
