#!/usr/bin/env bash
# Figures for the largest board a profile may describe: 8 sockets x 8
# controllers x 4 channels x 3 slots (768 slots, 32 channels a socket, the
# validator's limits), every slot holding a 256 GiB DDR5 RDIMM (192 TiB,
# so 52 address bits).
# Usage: platform/bench/shapes.sh [rounds]   (default 3)
#
# A benchmark, not a test: it prints figures and judges nothing, and CI
# does not run it (the in-process figures are BenchmarkBootLargestShape
# and BenchmarkHotAddLargestShape in platform/). It takes about a minute.
#
#  (a) `bmcemu profile check` of the full board: the dry boot's wall time.
#  (b) `bmcemu serve --ephemeral --speed 1000` of the full board: from exec
#      to "ready" on stdout, then VmRSS and VmHWM (peak RSS) at rest. The
#      median of the rounds.
#  (c) the same board with CPU7_DIMM_AF3 empty: `ctl attention`, then the
#      wall time of `ctl insert CPU7_DIMM_AF3 --capacity-gib 256 --ranks 2
#      --wait` (SPD check, 1 s power ramp, training, TAD, SRAT, the kernel's
#      add and online of 128 blocks of 2 GiB, at 1000x: about 2 ms of the
#      hardware's own time) and the RSS after it.
#
# Ports: HTTP_PORT (default 38000) and IPMI_PORT (36230); set them if
# something else holds these.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
HTTP_PORT=${HTTP_PORT:-38000}
IPMI_PORT=${IPMI_PORT:-36230}

dir=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/bmcemu" ./cmd/bmcemu

profile() { # $1: module slot patterns
	cat <<YAML
name: largest
system: {manufacturer: bmcemu, model: Largest, serial_number: LARGEST1}
memory: {type: DDR5, speed_mts: 4800, sockets: 8, controllers_per_socket: 8, channels_per_controller: 4, slots_per_channel: 3, physical_address_bits: 52}
modules:
  - {slots: $1, capacity_gib: 256, ranks: 2, base_module: RDIMM, manufacturer: Samsung}
YAML
}
profile '["*"]' >"$dir/full.yaml"
profile '["CPU[0-6]_*", "CPU7_*[12]", "CPU7_DIMM_[A-Z]3", "CPU7_DIMM_A[A-E]3"]' >"$dir/one-empty.yaml"

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) * 1000 }'; }
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$PID/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

serve() { # $1: profile; sets PID, prints ms to ready
	local t0 t1
	t0=$(now)
	"$dir/bmcemu" serve --ephemeral --speed 1000 --profile "$1" --redfish-addr "127.0.0.1:$HTTP_PORT" \
		--redfish-tls-addr "" --ipmi-addr "127.0.0.1:$IPMI_PORT" --metrics=false >"$dir/out" 2>"$dir/err" &
	PID=$!
	until grep -q '^ready$' "$dir/out" 2>/dev/null; do
		if ! kill -0 "$PID" 2>/dev/null; then
			echo "serve exited:" >&2
			cat "$dir/err" >&2
			exit 1
		fi
		sleep 0.005
	done
	t1=$(now)
	ms "$t0" "$t1"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
ctl() { "$dir/bmcemu" ctl --server "http://127.0.0.1:$HTTP_PORT" "$@"; }

echo "largest board: 768 slots x 256 GiB DDR5 (192 TiB), $(nproc) CPUs, $ROUNDS rounds (medians)"
for _ in $(seq "$ROUNDS"); do
	t0=$(now)
	"$dir/bmcemu" profile check "$dir/full.yaml" >/dev/null
	ms "$t0" "$(now)" >>"$dir/check"
	serve "$dir/full.yaml" >>"$dir/ready"
	sleep 0.5
	kib VmRSS >>"$dir/rss"
	kib VmHWM >>"$dir/hwm"
	stop
	serve "$dir/one-empty.yaml" >/dev/null
	ctl attention CPU7_DIMM_AF3 >/dev/null
	sleep 0.1
	t0=$(now)
	ctl insert CPU7_DIMM_AF3 --capacity-gib 256 --ranks 2 --wait >"$dir/insert"
	ms "$t0" "$(now)" >>"$dir/hotadd"
	grep -q "hot-add complete" "$dir/insert" || { cat "$dir/insert" >&2; exit 1; }
	kib VmRSS >>"$dir/rss-after"
	stop
done
printf '%-52s %8s ms\n' "profile check (dry boot), wall" "$(median <"$dir/check")"
printf '%-52s %8s ms\n' "serve: exec to ready" "$(median <"$dir/ready")"
printf '%-52s %8s MiB\n' "serve: RSS at rest (VmRSS)" "$(( $(median <"$dir/rss") / 1024 ))"
printf '%-52s %8s MiB\n' "serve: peak RSS (VmHWM)" "$(( $(median <"$dir/hwm") / 1024 ))"
printf '%-52s %8s ms\n' "one hot-add of 256 GiB at --speed 1000 (ctl --wait)" "$(median <"$dir/hotadd")"
printf '%-52s %8s MiB\n' "RSS after the hot-add" "$(( $(median <"$dir/rss-after") / 1024 ))"
