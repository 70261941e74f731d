#!/usr/bin/env bash
# Installs what building and testing netattr needs on Debian 12 / Ubuntu 22.04+, and mounts
# bpffs. Idempotent; run as root (or it uses sudo).
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

pkgs=(clang libelf-dev zlib1g-dev pkg-config make gcc libc6-dev linux-libc-dev iproute2 util-linux)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
command -v bpftool >/dev/null 2>&1 || missing+=(bpftool)
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

if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != "bpf_fs" ]; then
  $SUDO mount -t bpf bpf /sys/fs/bpf
fi
