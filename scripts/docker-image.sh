#!/usr/bin/env bash
# Builds the local image netattr's tests and demo run: Debian's busybox-static and its
# applet links, imported with `docker import` (no registry is needed). Idempotent.
set -euo pipefail
IMAGE="${1:-netattr-busybox:latest}"
docker image inspect "$IMAGE" >/dev/null 2>&1 && exit 0
bb=$(command -v busybox)
linkage=$(ldd "$bb" 2>&1 || true)  # ldd exits 1 for a static binary
case "$linkage" in
  *"not a dynamic executable"*) ;;
  *) echo "docker-image: $bb is not static (apt-get install busybox-static)" >&2; exit 1 ;;
esac
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"; done
tar -C "$dir" -c . | docker import -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null
echo "docker-image: built $IMAGE" >&2
