#!/usr/bin/env bash
# What netattr ships: the sizes of the binary, the .deb and the image, what the binary links,
# and its start-up cost (`perf stat -e task-clock`, RUNS runs each) beside /bin/true and
# bpftool's, measured in one run. Builds with scripts/package.sh --image first (the image is
# tagged netattr-bench:0.1.0 and removed at the end).
#   sudo scripts/bench/package-cost.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-200}"
IMAGE=netattr-bench:0.1.0
trap 'docker rmi -f "$IMAGE" >/dev/null 2>&1 || true; docker image prune -f --filter label=org.netattr.stage=glibc >/dev/null 2>&1 || true' EXIT
command -v perf >/dev/null || { echo "package-cost: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
scripts/package.sh --image "$IMAGE" >/dev/null
bin=target/package/netattr
deb=$(ls target/package/netattr_*.deb)

task_clock() { # median-free: perf's mean over RUNS runs, in ms
  perf stat -r "$RUNS" -x, -e task-clock "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ {printf "%.3f", $1}'
}
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1e6}'; }

echo "| artifact | size |"
echo "|---|---|"
echo "| binary (target/package/netattr) | $(mb "$(stat -c %s "$bin")") |"
echo "| .deb ($(basename "$deb")) | $(mb "$(stat -c %s "$deb")") |"
echo "| image $IMAGE (empty base + glibc files from netattr-base:bookworm) | $(mb "$(docker image inspect -f '{{.Size}}' "$IMAGE")") |"
echo "| base image netattr-base:bookworm (debootstrap minbase) | $(mb "$(docker image inspect -f '{{.Size}}' netattr-base:bookworm)") |"
echo
echo "ldd: $(ldd "$bin" | awk '{print $1}' | tr '\n' ' ')"
echo "newest glibc symbol: $(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
echo
t_true=$(task_clock /bin/true)
t_na=$(task_clock "$bin" --version)
echo "| start-up, $RUNS runs | task-clock | ratio to /bin/true |"
echo "|---|---|---|"
echo "| /bin/true | $t_true ms | 1.0x |"
echo "| netattr --version | $t_na ms | $(awk -v a="$t_na" -v b="$t_true" 'BEGIN {printf "%.1fx", a / b}') |"
if command -v bpftool >/dev/null; then
  t_bt=$(task_clock bpftool version)
  echo "| bpftool version | $t_bt ms | $(awk -v a="$t_bt" -v b="$t_true" 'BEGIN {printf "%.1fx", a / b}') |"
fi
echo
echo "Kernel $(uname -r), $(nproc) CPUs, $(date -u +%F)."
