#!/usr/bin/env bash
# Builds a clean Debian base image locally, without a registry: `debootstrap --variant=minbase`
# from the Debian mirror apt is configured with, imported with `docker import`. No Rust, no
# clang, no build package: what a stock node has. The netattr image (deploy/kubernetes/
# Dockerfile, BASE build argument) and the install test start from it. Idempotent: an image
# that already exists is kept (about 30 s to build otherwise).
#   scripts/base-image.sh [IMAGE]        default netattr-base:bookworm
set -euo pipefail
IMAGE="${1:-netattr-base:bookworm}"
SUITE="${SUITE:-bookworm}"
docker image inspect "$IMAGE" >/dev/null 2>&1 && exit 0
command -v debootstrap >/dev/null || { echo "base-image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

# The mirror apt already uses: a deb822 'URIs:' line or a one-line 'deb URI suite' entry.
mirror="${MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}')
fi
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}')
fi
mirror="${mirror:-http://deb.debian.org/debian}"

dir=$(mktemp -d /tmp/netattr-base.XXXXXX); trap 'rm -rf "$dir"' EXIT
echo "base-image: debootstrap --variant=minbase $SUITE from $mirror" >&2
debootstrap --variant=minbase "$SUITE" "$dir" "$mirror" >"$dir.log" 2>&1 \
  || { tail -20 "$dir.log" >&2; rm -f "$dir.log"; echo "base-image: debootstrap failed" >&2; exit 1; }
rm -f "$dir.log"
# What a container does not need: apt's lists and caches (apt-get update fills them again).
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*
tar -C "$dir" --numeric-owner -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
echo "base-image: built $IMAGE" >&2
