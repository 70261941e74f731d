#!/usr/bin/env bash
# Installs what building and testing netattr needs on Debian 12 / Ubuntu 22.04+, and mounts
# bpffs. With --tests, also what the tests use: a running Docker engine (real containers),
# busybox-static (their image), tmux (the dashboard's end-to-end test), prometheus
# (promtool, and a real server scraping 'netattr serve'), clickhouse-server (the fleet store the
# export tests start on ports of their own) and chdb (PyPI: a current ClickHouse engine for the
# same SQL), iperf3 and jq (the walkthrough the docs test runs), sqlite3 (the benchmarks),
# debootstrap (the clean Debian base
# the packaging tests start from) and cargo-deb (scripts/package.sh). Idempotent; run
# as root (or it uses sudo).
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
want_docker=false; [ "${1:-}" = "--tests" ] && want_docker=true

pkgs=(clang libelf-dev zlib1g-dev pkg-config make gcc libc6-dev linux-libc-dev iproute2 util-linux nftables protobuf-compiler)
# prometheus brings promtool and the server the exporter's integration test scrapes with;
# iputils-ping the ICMP cells of the truth table. nftables (the demo's NAT uplink) is above.
# protobuf-compiler: containerd-client compiles containerd's API (pod labels) with protoc.
$want_docker && pkgs+=(busybox-static tmux prometheus nftables iputils-ping debootstrap clickhouse-server iperf3 jq sqlite3)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
command -v bpftool >/dev/null 2>&1 || missing+=(bpftool)
# Only when no Docker at all is installed: docker.io would conflict with docker-ce.
$want_docker && ! command -v dockerd >/dev/null 2>&1 && missing+=(docker.io)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; then
    # Ubuntu ships bpftool in linux-tools rather than its own package.
    rest=("${missing[@]/bpftool/}")
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ${rest[@]} linux-tools-common "linux-tools-$(uname -r)" >/dev/null
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no Rust toolchain; install one with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi

# clippy (the test command runs it), where rustup manages the toolchain.
if ! cargo clippy --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
  rustup component add clippy >&2
fi

# The .deb's builder (scripts/package.sh), pinned; about 2 minutes to build once.
if $want_docker && ! command -v cargo-deb >/dev/null 2>&1; then
  echo "setup: installing cargo-deb (cargo install)" >&2
  cargo install --quiet --locked cargo-deb --version 3.8.0
fi

# chdb (PyPI): a current ClickHouse engine in-process, which runs the fleet store's SQL beside
# Debian's ClickHouse 18.16 in the tests.
if $want_docker && ! python3 -c 'import chdb' >/dev/null 2>&1; then
  echo "setup: installing chdb (pip)" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
  fi
  python3 -m pip install --quiet chdb 2>/dev/null || python3 -m pip install --quiet --break-system-packages chdb
fi

if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != "bpf_fs" ]; then
  $SUDO mount -t bpf bpf /sys/fs/bpf
fi

if $want_docker && ! $SUDO docker info >/dev/null 2>&1; then
  if ! { [ -d /run/systemd/system ] && $SUDO systemctl start docker 2>/dev/null; }; then
    echo "setup: starting dockerd (log: /tmp/netattr-dockerd.log)" >&2
    $SUDO sh -c 'nohup dockerd --iptables=false --ip6tables=false >/tmp/netattr-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 60); do $SUDO docker info >/dev/null 2>&1 && break; sleep 0.5; done
  $SUDO docker info >/dev/null 2>&1 || { echo "setup: the Docker engine did not start (see /tmp/netattr-dockerd.log)" >&2; exit 1; }
fi
