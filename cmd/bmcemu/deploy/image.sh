#!/usr/bin/env bash
# Builds bmcemu's container image: a static binary built here with the
# host's Go toolchain and module cache (no network needed), copied onto an
# empty base by the Containerfile beside this script (see its header).
#
#   cmd/bmcemu/deploy/image.sh [IMAGE]        # default localhost/bmcemu:dev
#
# Environment:
#   CONTAINER_TOOL  podman (default) or docker
#   GOARCH          target architecture (default: the host's), e.g. arm64
#   VERSION         version stamped into the binary (default: git describe)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
image=${1:-localhost/bmcemu:dev}
tool=${CONTAINER_TOOL:-podman}
arch=${GOARCH:-$(go env GOARCH)}
version=${VERSION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo dev)}

ctx=$(mktemp -d "${TMPDIR:-/tmp}/bmcemu-image-XXXXXX")
trap 'rm -rf "$ctx"' EXIT

echo "building static bmcemu $version for linux/$arch"
(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch \
  go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/bmcemu" ./cmd/bmcemu)

cp -R "$here/rootfs" "$ctx/rootfs"
mkdir -p "$ctx/rootfs/tmp" "$ctx/rootfs/var/lib" "$ctx/state"
chmod 0755 "$ctx/rootfs" "$ctx/rootfs/etc" "$ctx/rootfs/var" "$ctx/rootfs/var/lib" "$ctx/state"
chmod 0644 "$ctx/rootfs/etc/passwd" "$ctx/rootfs/etc/group"
chmod 1777 "$ctx/rootfs/tmp"

echo "building image $image with $tool"
"$tool" build --platform "linux/$arch" -f "$here/Containerfile" -t "$image" "$ctx"
