#!/usr/bin/env bash
# Issue 14's performance item: a storm of STORM_RATE correctable errors per
# second (default 500) for STORM_SECONDS (default 60) on a real
# `bmcemu serve --ephemeral --speed 1` on loopback, with a Redfish push
# subscriber, a Redfish SSE stream and the web view's /ui/api/stream open
# the whole time. Prints events produced and delivered per path, delivery
# latency p50/p99/max (arrival minus the platform record's time), the same
# for a bare Go POST and a bare Go SSE stream to the same reader (the
# transport floors, measured in the same run) with the ratios, and the
# server's RSS and live heap before, during, right after and STORM_AFTER
# (default 30s) after the storm. See storm/main.go for how origins are
# taken.
#
#   STORM_SECONDS=10 cmd/internal/scenario/bench/storm.sh   # a quick check
#   cmd/internal/scenario/bench/storm.sh -server-log /tmp/s.log -cpuprofile /tmp/s.pprof
set -euo pipefail
cd "$(dirname "$0")/../../../.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/bmcemu" ./cmd/bmcemu
go build -o "$WORK/storm" ./cmd/internal/scenario/bench/storm
"$WORK/storm" -bmcemu "$WORK/bmcemu" -seconds "${STORM_SECONDS:-60}" -rate "${STORM_RATE:-500}" \
	-after "${STORM_AFTER:-30s}" "$@"
