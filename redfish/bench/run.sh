#!/usr/bin/env bash
# Benchmark GET of one Memory member (issue 5's performance target):
# wrk against bmcemu with Basic auth and with a session token, against
# DMTF's Redfish-Mockup-Server serving a mockup exported from the same
# bmcemu, and against a bare net/http handler writing the same body (the
# ceiling). Prints req/s and p99 for each and the two ratios; the targets
# are >= 20x the mockup server and >= 50% of the ceiling.
#
# Environment:
#   REDFISH_MOCKUP_SERVER_DIR  a checkout of DMTF's Redfish-Mockup-Server
#                              (never committed here); unset: skipped
#   MOCKUP_PYTHON              interpreter for it (default /usr/bin/python3);
#                              it needs requests and grequests (gevent)
#   BENCH_DURATION             wrk duration (default 10s)
#   BENCH_ROUNDS               rounds over the four servers; the summary is
#                              their median (default 5)
#   BENCH_CONNECTIONS          wrk connections (default 64)
#   BENCH_THREADS              wrk threads (default 2)
#
#   BENCH_PIN                  1: the servers share CPU 0 and wrk gets the
#                              others (needs taskset and two CPUs); default 0:
#                              every server and wrk share the whole machine,
#                              as they would on a user's host
#
# Pinning keeps wrk from competing with the server it measures, but it also
# holds the Go servers to one core while the Python mockup server (one
# thread, one core either way) loses nothing, so the default leaves the
# scheduler alone; the closing notes give both.
set -euo pipefail

cd "$(dirname "$0")/../.."
DUR=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
URI=/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1
PY=${MOCKUP_PYTHON:-/usr/bin/python3}

if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
	else
		echo "bench: wrk is not installed (apt-get install wrk)" >&2
		exit 1
	fi
fi

SRV=() LOAD=()
if [ "${BENCH_PIN:-0}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
	SRV=(taskset -c 0) LOAD=(taskset -c "1-$(($(nproc) - 1))")
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# freeport prints a TCP port on 127.0.0.1 nobody listens on.
freeport() {
	local p
	while :; do
		# Below the kernel's ephemeral range (32768+), where a client connection
		# (wrk's, a previous run's) may hold the port and make bind fail.
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

waitfor() { # url [curl args...]
	local url=$1
	shift
	for _ in $(seq 1 100); do
		curl -fs -o /dev/null "$@" "$url" && return 0
		sleep 0.1
	done
	echo "bench: $url did not come up" >&2
	return 1
}

go build -o "$WORK/bmcemu" ./cmd/bmcemu
go build -o "$WORK/ceiling" ./redfish/bench/ceiling

RF=$(freeport)
"${SRV[@]}" "$WORK/bmcemu" serve --ephemeral --log-level error --redfish-addr "127.0.0.1:$RF" \
	--redfish-tls-addr "" --ipmi-addr "127.0.0.1:$(freeport)" >"$WORK/bmcemu.log" 2>&1 &
PIDS+=($!)
BASE=http://127.0.0.1:$RF
waitfor "$BASE/redfish/v1"

BASIC="Authorization: Basic $(printf 'admin:password' | base64)"
curl -fs -H "$BASIC" "$BASE$URI" -o "$WORK/member.json"
TOKEN=$(curl -fs -D - -o /dev/null -H 'Content-Type: application/json' \
	-d '{"UserName":"admin","Password":"password"}' "$BASE/redfish/v1/SessionService/Sessions" |
	tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
[ -n "$TOKEN" ] || { echo "bench: no session token" >&2; exit 1; }

CP=$(freeport)
"${SRV[@]}" "$WORK/ceiling" -addr "127.0.0.1:$CP" -body "$WORK/member.json" &
PIDS+=($!)
waitfor "http://127.0.0.1:$CP$URI"

MOCK_URL=""
if [ -z "${REDFISH_MOCKUP_SERVER_DIR:-}" ]; then
	echo "bench: REDFISH_MOCKUP_SERVER_DIR is unset: skipping DMTF's Redfish-Mockup-Server"
elif [ ! -f "$REDFISH_MOCKUP_SERVER_DIR/redfishMockupServer.py" ]; then
	echo "bench: no redfishMockupServer.py in $REDFISH_MOCKUP_SERVER_DIR: skipping the mockup server"
elif ! "$PY" -c 'import requests, grequests' 2>/dev/null; then
	echo "bench: $PY cannot import requests and grequests (the mockup server's deps): skipping the mockup server"
else
	"$WORK/bmcemu" mockup export "$WORK/mockup" --server "$BASE" >/dev/null
	MP=$(freeport)
	"${SRV[@]}" "$PY" "$REDFISH_MOCKUP_SERVER_DIR/redfishMockupServer.py" -H 127.0.0.1 -p "$MP" -D "$WORK/mockup" \
		>"$WORK/mockup.log" 2>&1 &
	PIDS+=($!)
	waitfor "http://127.0.0.1:$MP$URI"
	MOCK_URL=http://127.0.0.1:$MP$URI
fi

# bench name url [wrk args...]: one measurement; prints "name req/s p99"
# and appends them to the name's rounds.
declare -A RPS P99
bench() {
	local name=$1 url=$2
	shift 2
	local out rps p99
	# Warm up first (connections, heap, caches), then measure.
	"${LOAD[@]}" wrk -t"$THREADS" -c"$CONNS" -d2s "$@" "$url" >/dev/null
	out=$("${LOAD[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency "$@" "$url")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "bench: $name answered non-2xx:" >&2
		echo "$out" >&2
		exit 1
	fi
	rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
	p99=$(awk '$1=="99%"{print $2}' <<<"$out")
	RPS[$name]+="$rps "
	P99[$name]+="$p99 "
	printf '  %-20s %12s req/s   p99 %s\n' "$name" "$rps" "$p99"
}

# last prints the latest round's req/s of server $1.
last() { awk '{print $NF}' <<<"${RPS[$1]}"; }

# median of the numbers in $1 (odd counts give the middle one).
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }

echo "wrk -t$THREADS -c$CONNS -d$DUR --latency GET $URI ($(wc -c <"$WORK/member.json") byte body, $(nproc) CPUs${SRV:+, servers on CPU 0, wrk on the rest}), $ROUNDS rounds"
# Rounds alternate the servers, so a noisy neighbour (or the Python mockup
# server's own swings, 760-1,630 req/s between runs here) hits every one
# alike; the summary is the median of the rounds.
for round in $(seq 1 "$ROUNDS"); do
	echo "== round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	bench bmcemu-basic "$BASE$URI" -H "$BASIC"
	bench bmcemu-session "$BASE$URI" -H "X-Auth-Token: $TOKEN"
	[ -n "$MOCK_URL" ] && bench mockup-server "$MOCK_URL"
	bench ceiling "http://127.0.0.1:$CP$URI"
	if [ -n "$MOCK_URL" ]; then
		# This round's own ratios: the spread the medians hide.
		printf '  round %d: basic %.1fx, session %.1fx the mockup server\n' "$round" \
			"$(awk -v a="$(last bmcemu-basic)" -v b="$(last mockup-server)" 'BEGIN{print a/b}')" \
			"$(awk -v a="$(last bmcemu-session)" -v b="$(last mockup-server)" 'BEGIN{print a/b}')"
	fi
done

echo "== medians of $ROUNDS rounds"
for n in bmcemu-basic bmcemu-session mockup-server ceiling; do
	[ -n "${RPS[$n]:-}" ] && printf '%-22s %12s req/s   p99 %s\n' "$n" "$(median "${RPS[$n]}")" "$(median "${P99[$n]}")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
for v in basic session; do
	r=$(median "${RPS[bmcemu-$v]}")
	if [ -n "$MOCK_URL" ]; then
		echo "bmcemu-$v / mockup-server: $(ratio "$r" "$(median "${RPS[mockup-server]}")")x (target >= 20x)"
	fi
	echo "bmcemu-$v / ceiling: $(awk -v a="$r" -v b="$(median "${RPS[ceiling]}")" 'BEGIN{printf "%.0f", 100*a/b}')% (target >= 50%)"
done
