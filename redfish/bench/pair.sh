#!/usr/bin/env bash
# Paired A/B of two bmcemu builds (or one build with two sets of flags):
# both serve at once, pinned to the same CPU, each driven by its own wrk on
# another CPU, and each round prints both servers' CPU time per session GET
# and their ratio B/A.
#
# run.sh measures one server after another, so a noisy neighbour slowing
# the machine for a few seconds moves one figure and not the other: on
# the 2-vCPU VMs here its rounds swing by ±10%, more than most changes
# to the pipeline. Here whatever slows the CPU slows both alike and the
# ratio keeps only what differs between them; its rounds spread by about
# ±3%. The absolute figures are higher than run.sh's, the two servers
# evicting each other's caches, and are not comparable with them.
#
# Usage: pair.sh A-BIN B-BIN [rounds]
#   A-BIN, B-BIN  bmcemu binaries; "BIN --flag ..." (quoted) adds flags,
#                 as in pair.sh ./bmcemu "./bmcemu --metrics=false"
# Environment:
#   PAIR_DURATION     seconds per round (default 8)
#   PAIR_CONNECTIONS  wrk connections per server (default 32)
#   PAIR_HOST         first of two loopback addresses (default 127.0.77.1;
#                     the second is .2)
#   PAIR_AUTH         session (default) or basic: the credentials each GET
#                     carries
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,/^set /p' "$0" | sed '$d'; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "pair: needs two CPUs" >&2; exit 1; }
for t in wrk taskset curl; do
	command -v "$t" >/dev/null || { echo "pair: $t is not installed" >&2; exit 1; }
done
ROUNDS=${3:-6}
DUR=${PAIR_DURATION:-8}
CONNS=${PAIR_CONNECTIONS:-32}
HOST=${PAIR_HOST:-127.0.77.1}
URI=/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1

PIDS=()
WORK=$(mktemp -d)
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
declare -A URL TOK PID
for side in A B; do
	if [ "$side" = A ]; then read -r -a cmd <<<"$1"; else read -r -a cmd <<<"$2"; fi
	addr=${HOST%.*}.$(( ${HOST##*.} + ${#PIDS[@]} ))
	taskset -c 0 "${cmd[@]}" serve --ephemeral --log-level error --redfish-addr "$addr:28100" \
		--redfish-tls-addr "" --ipmi-addr "$addr:28101" >/dev/null 2>&1 &
	PIDS+=($!)
	PID[$side]=$!
	URL[$side]=http://$addr:28100
done
for side in A B; do
	for _ in $(seq 1 100); do
		curl -fs -o /dev/null "${URL[$side]}/redfish/v1/" && break
		sleep 0.1
	done
	TOK[$side]=$(curl -fs -D - -o /dev/null -H 'Content-Type: application/json' \
		-d '{"UserName":"admin","Password":"password"}' "${URL[$side]}/redfish/v1/SessionService/Sessions" |
		tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
	[ -n "${TOK[$side]}" ] || { echo "pair: $side: no session" >&2; exit 1; }
done

cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "A: $1"
echo "B: $2"
for round in $(seq 1 "$ROUNDS"); do
	sleep 1
	declare -A T0 N
	W=()
	for side in A B; do
		T0[$side]=$(cputicks "${PID[$side]}")
		cred="X-Auth-Token: ${TOK[$side]}"
		[ "${PAIR_AUTH:-session}" = basic ] && cred="Authorization: Basic $(printf admin:password | base64)"
		taskset -c 1 wrk -t1 -c"$CONNS" -d"${DUR}s" -H "$cred" "${URL[$side]}$URI" >"$WORK/$side" &
		W+=($!)
	done
	wait "${W[@]}"
	line="round $round:"
	for side in A B; do
		if grep -q Non-2xx "$WORK/$side"; then
			echo "pair: $side answered errors:" >&2
			cat "$WORK/$side" >&2
			exit 1
		fi
		N[$side]=$(awk '/requests in/{print $1}' "$WORK/$side")
		us=$(awk -v t=$(( $(cputicks "${PID[$side]}") - T0[$side] )) -v hz="$(getconf CLK_TCK)" -v n="${N[$side]}" \
			'BEGIN{printf "%.2f", t / hz / n * 1e6}')
		eval "US_$side=$us"
		line+=$(printf '   %s %6d req %6.2f us/req' "$side" "${N[$side]}" "$us")
	done
	printf '%s   B/A %.3f\n' "$line" "$(awk -v a="$US_A" -v b="$US_B" 'BEGIN{print b/a}')"
done
