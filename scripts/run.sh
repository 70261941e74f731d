#!/usr/bin/env bash
# The main command: sets up, builds netattr and runs its demo: three workloads (a web server
# under load, a key-value exchange, a bulk sender at ~50 Mbit/s) as Docker containers when
# an engine runs here (else network namespaces), with netattr loaded and attached to them and
# its live view on the terminal. Quit with q or Ctrl-C; the demo removes all it made.
# Arguments go to 'netattr demo' (for example --duration 30, --runtime netns, --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
N="$SUDO target/release/netattr"
$N check >&2
# The demo's container image, when Docker runs and busybox-static is there to build it.
if $SUDO docker info >/dev/null 2>&1 && command -v busybox >/dev/null 2>&1; then
  $SUDO scripts/docker-image.sh || true
fi
exec $N demo "$@"
