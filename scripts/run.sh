#!/usr/bin/env bash
# Builds netattr, loads it, attaches it to every veth and prints who uses the network.
# Leaves netattr loaded for more commands; 'netattr cleanup' removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
N="$SUDO target/release/netattr"
$N check
$N load --reuse >/dev/null
$N attach --all-veth
echo "counting for 5 seconds..." >&2
sleep 5
$N stats
echo "more: $N stats --format json | jq; $N status; $N cleanup" >&2
