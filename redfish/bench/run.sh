#!/usr/bin/env bash
# Benchmark GET of one Memory member (issues 5 and 19): wrk against bmcemu
# with Basic auth and with a session token, against DMTF's
# Redfish-Mockup-Server serving a mockup exported from the same bmcemu, and
# against a bare net/http handler writing the same body (the ceiling),
# which is sent the same request as the session GET.
# Prints, per server, req/s, p50, p99 and the server's CPU time per request
# (from /proc: the figure a busy machine disturbs least), then the ratios
# to the ceiling. Targets: throughput >= 85% of the ceiling's and p99 <=
# 1.3x the ceiling's (issue 19), >= 20x the mockup server (issue 5).
#
# Environment:
#   REDFISH_MOCKUP_SERVER_DIR  a checkout of DMTF's Redfish-Mockup-Server
#                              (never committed here); unset: skipped
#   MOCKUP_PYTHON              interpreter for it (default /usr/bin/python3);
#                              it needs requests and grequests (gevent)
#   BENCH_DURATION             wrk duration (default 10s)
#   BENCH_ROUNDS               rounds over the servers; the summary is
#                              their median (default 5)
#   BENCH_CONNECTIONS          wrk connections (default 64)
#   BENCH_THREADS              wrk threads (default 2)
#   BMCEMU_BIN                 a bmcemu binary to measure instead of
#                              building this tree
#   BENCH_BASELINE_BIN         another bmcemu binary (say, main's) measured
#                              in the same rounds as "baseline-*": before
#                              and after in the same conditions
#   BENCH_HOST                 loopback address every server listens on
#                              (default 127.0.0.1); bmcemu takes at most 64
#                              connections per source, so a run beside
#                              other clients of that address wants its own
#   BENCH_CEILING_HEADERS      1: also measure "ceiling-headers", the
#                              ceiling sending the header fields bmcemu
#                              sent (Allow, ETag, Link, OData-Version,
#                              Cache-Control): net/http's cost for them is
#                              in the gap to the bare ceiling, and the
#                              ratio to this one is the pipeline's own;
#                              and "gin-floor", those fields and body
#                              from one gin route with no middleware:
#                              what gin adds, with no Redfish in it
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
HOST=${BENCH_HOST:-127.0.0.1}

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

# freeport prints a TCP port on $HOST nobody listens on.
freeport() {
	local p
	while :; do
		# Below the kernel's ephemeral range (32768+), where a client connection
		# (wrk's, a previous run's) may hold the port and make bind fail.
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then
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

BIN=${BMCEMU_BIN:-}
if [ -z "$BIN" ]; then
	go build -o "$WORK/bmcemu" ./cmd/bmcemu
	BIN=$WORK/bmcemu
fi
go build -o "$WORK/ceiling" ./redfish/bench/ceiling

BASIC="Authorization: Basic $(printf 'admin:password' | base64)"
declare -A PID

# startbmc name binary: serves a bmcemu as name; sets BASE_name, TOKEN_name.
startbmc() {
	local name=$1 bin=$2 port base token
	port=$(freeport)
	"${SRV[@]}" "$bin" serve --ephemeral --log-level error --redfish-addr "$HOST:$port" \
		--redfish-tls-addr "" --ipmi-addr "$HOST:$(freeport)" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	PID[$name]=$!
	base=http://$HOST:$port
	waitfor "$base/redfish/v1"
	token=$(curl -fs -D - -o /dev/null -H 'Content-Type: application/json' \
		-d '{"UserName":"admin","Password":"password"}' "$base/redfish/v1/SessionService/Sessions" |
		tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
	[ -n "$token" ] || { echo "bench: no session token from $name" >&2; exit 1; }
	printf -v "BASE_$name" '%s' "$base"
	printf -v "TOKEN_$name" '%s' "$token"
}

startbmc bmcemu "$BIN"
BASE=$BASE_bmcemu
curl -fs -H "$BASIC" "$BASE$URI" -o "$WORK/member.json" -D "$WORK/member.head"
if [ -n "${BENCH_BASELINE_BIN:-}" ]; then
	startbmc baseline "$BENCH_BASELINE_BIN"
fi

CP=$(freeport)
"${SRV[@]}" "$WORK/ceiling" -addr "$HOST:$CP" -body "$WORK/member.json" &
PIDS+=($!)
PID[ceiling]=$!
waitfor "http://$HOST:$CP$URI"
CHURL=""
if [ "${BENCH_CEILING_HEADERS:-0}" = 1 ]; then
	CHP=$(freeport)
	"${SRV[@]}" "$WORK/ceiling" -addr "$HOST:$CHP" -body "$WORK/member.json" -headers "$WORK/member.head" &
	PIDS+=($!)
	PID[ceiling-headers]=$!
	CHURL=http://$HOST:$CHP$URI
	waitfor "$CHURL"
	GFP=$(freeport)
	"${SRV[@]}" "$WORK/ceiling" -addr "$HOST:$GFP" -body "$WORK/member.json" -headers "$WORK/member.head" -gin &
	PIDS+=($!)
	PID[gin-floor]=$!
	GFURL=http://$HOST:$GFP$URI
	waitfor "$GFURL"
fi

MOCK_URL=""
if [ -z "${REDFISH_MOCKUP_SERVER_DIR:-}" ]; then
	echo "bench: REDFISH_MOCKUP_SERVER_DIR is unset: skipping DMTF's Redfish-Mockup-Server"
elif [ ! -f "$REDFISH_MOCKUP_SERVER_DIR/redfishMockupServer.py" ]; then
	echo "bench: no redfishMockupServer.py in $REDFISH_MOCKUP_SERVER_DIR: skipping the mockup server"
elif ! "$PY" -c 'import requests, grequests' 2>/dev/null; then
	echo "bench: $PY cannot import requests and grequests (the mockup server's deps): skipping the mockup server"
else
	"$BIN" mockup export "$WORK/mockup" --server "$BASE" >/dev/null
	MP=$(freeport)
	"${SRV[@]}" "$PY" "$REDFISH_MOCKUP_SERVER_DIR/redfishMockupServer.py" -H "$HOST" -p "$MP" -D "$WORK/mockup" \
		>"$WORK/mockup.log" 2>&1 &
	PIDS+=($!)
	PID[mockup]=$!
	waitfor "http://$HOST:$MP$URI"
	MOCK_URL=http://$HOST:$MP$URI
fi

# ms converts one of wrk's latencies (850.00us, 3.21ms, 1.02s) to ms.
ms() {
	awk -v v="$1" 'BEGIN{
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else { sub(/s$/, "", v); printf "%.3f", v * 1000 }
	}'
}

# drained url: waits (up to 10 s) until no TCP connection to url's port is
# left in any state but TIME-WAIT, on either side.
drained() {
	local port=${1#http://*:}
	port=${port%%/*}
	for _ in $(seq 1 100); do
		[ "$(ss -Htn state all "( sport = :$port or dport = :$port )" | grep -cv -e TIME-WAIT -e LISTEN)" = 0 ] && return 0
		sleep 0.1
	done
	echo "bench: connections to port $port still open 10 s after wrk ended" >&2
}

# cputicks pid: the user+system clock ticks a process has used.
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# bench name pid url [wrk args...]: one measurement of the server with
# process pid; prints it and appends it to the name's rounds.
declare -A RPS P50 P99 CPU
bench() {
	local name=$1 pid=$2 url=$3
	shift 3
	local out rps n t0 t1 errs
	# Warm up first (connections, heap, caches), then measure.
	"${LOAD[@]}" wrk -t"$THREADS" -c"$CONNS" -d2s "$@" "$url" >/dev/null
	# bmcemu takes at most 64 connections from one address and releases
	# one when it has seen the client close it: wait for the warm-up's to
	# go, or the measurement's first connections are refused.
	drained "$url"
	t0=$(cputicks "$pid")
	out=$("${LOAD[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency "$@" "$url")
	t1=$(cputicks "$pid")
	n=$(awk '/requests in/{print $1}' <<<"$out")
	# wrk reconnects after a socket error; bmcemu's per-source cap (64)
	# refuses a reconnection that arrives before the server has seen the
	# old connection close, so one error can cost a few more. A handful
	# in 100,000 requests changes nothing; more would make the figure that
	# of fewer connections.
	errs=$(awk -F'[ ,]+' '/Socket errors/{print $5 + $7 + $9 + $11}' <<<"$out")
	if grep -q 'Non-2xx' <<<"$out" || [ "${errs:-0}" -gt $((n / 1000)) ]; then
		echo "bench: $name answered non-2xx or dropped connections:" >&2
		echo "$out" >&2
		exit 1
	fi
	rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
	RPS[$name]+="$rps "
	P50[$name]+="$(ms "$(awk '$1=="50%"{print $2}' <<<"$out")") "
	P99[$name]+="$(ms "$(awk '$1=="99%"{print $2}' <<<"$out")") "
	CPU[$name]+="$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN{printf "%.1f", t / hz / n * 1e6}') "
	printf '  %-18s %10s req/s   p50 %7s ms   p99 %8s ms   server CPU %6s us/req%s\n' "$name" "$rps" \
		"$(last P50 "$name")" "$(last P99 "$name")" "$(last CPU "$name")" "${errs:+   ($errs socket errors)}"
}

# last array name: the latest round's figure.
last() {
	local -n a=$1
	awk '{print $NF}' <<<"${a[$2]}"
}

# median of the numbers in $1 (odd counts give the middle one).
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }

NAMES=(bmcemu-basic bmcemu-session)
[ -n "${BENCH_BASELINE_BIN:-}" ] && NAMES+=(baseline-basic baseline-session)
echo "wrk -t$THREADS -c$CONNS -d$DUR --latency GET $URI ($(wc -c <"$WORK/member.json") byte body, $(nproc) CPUs${SRV:+, servers on CPU 0, wrk on the rest}), $ROUNDS rounds"
# Rounds alternate the servers, so a noisy neighbour (or the Python mockup
# server's own swings, 760-1,630 req/s between runs here) hits every one
# alike; the summary is the median of the rounds. Each round also starts
# one server further down the list: measured always first, a server comes
# to its warm-up after a minute idle, and the second on the same process
# finds it warm (Basic measured 3-5% below the session GET that way, the
# same CPU per request under perf).
#
# The ceilings get the session request's bytes, token included: every
# server reads the same request, as it would from a Redfish client
# (net/http parses every header field whether the handler looks or not),
# and only what a server does with it differs.
run_bmcemu_basic() { bench bmcemu-basic "${PID[bmcemu]}" "$BASE$URI" -H "$BASIC"; }
run_bmcemu_session() { bench bmcemu-session "${PID[bmcemu]}" "$BASE$URI" -H "X-Auth-Token: $TOKEN_bmcemu"; }
run_baseline_basic() { bench baseline-basic "${PID[baseline]}" "$BASE_baseline$URI" -H "$BASIC"; }
run_baseline_session() { bench baseline-session "${PID[baseline]}" "$BASE_baseline$URI" -H "X-Auth-Token: $TOKEN_baseline"; }
run_mockup() { bench mockup-server "${PID[mockup]}" "$MOCK_URL"; }
run_ceiling() { bench ceiling "${PID[ceiling]}" "http://$HOST:$CP$URI" -H "X-Auth-Token: $TOKEN_bmcemu"; }
run_ceiling_headers() { bench ceiling-headers "${PID[ceiling-headers]}" "$CHURL" -H "X-Auth-Token: $TOKEN_bmcemu"; }
run_gin_floor() { bench gin-floor "${PID[gin-floor]}" "$GFURL" -H "X-Auth-Token: $TOKEN_bmcemu"; }
RUNS=(run_bmcemu_basic run_bmcemu_session)
[ -n "${BENCH_BASELINE_BIN:-}" ] && RUNS+=(run_baseline_basic run_baseline_session)
[ -n "$MOCK_URL" ] && RUNS+=(run_mockup)
RUNS+=(run_ceiling)
[ -n "$CHURL" ] && RUNS+=(run_ceiling_headers run_gin_floor)
for round in $(seq 1 "$ROUNDS"); do
	echo "== round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	for i in "${!RUNS[@]}"; do
		"${RUNS[$(((i + round - 1) % ${#RUNS[@]}))]}"
	done
	# This round's own ratios: the spread the medians hide.
	for n in "${NAMES[@]}"; do
		printf '  round %d: %-16s %3.0f%% of the ceiling'"'"'s req/s, p99 %.2fx\n' "$round" "$n" \
			"$(awk -v a="$(last RPS "$n")" -v b="$(last RPS ceiling)" 'BEGIN{print 100*a/b}')" \
			"$(awk -v a="$(last P99 "$n")" -v b="$(last P99 ceiling)" 'BEGIN{print a/b}')"
	done
	if [ -n "$MOCK_URL" ]; then
		printf '  round %d: basic %.1fx, session %.1fx the mockup server\n' "$round" \
			"$(awk -v a="$(last RPS bmcemu-basic)" -v b="$(last RPS mockup-server)" 'BEGIN{print a/b}')" \
			"$(awk -v a="$(last RPS bmcemu-session)" -v b="$(last RPS mockup-server)" 'BEGIN{print a/b}')"
	fi
done

echo "== medians of $ROUNDS rounds"
for n in "${NAMES[@]}" mockup-server ceiling ceiling-headers gin-floor; do
	[ -n "${RPS[$n]:-}" ] && printf '%-20s %10s req/s   p50 %7s ms   p99 %8s ms   server CPU %6s us/req\n' "$n" \
		"$(median "${RPS[$n]}")" "$(median "${P50[$n]}")" "$(median "${P99[$n]}")" "$(median "${CPU[$n]}")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
if [ -n "$CHURL" ]; then
	# Against the bare ceiling: the best any gin server sending DSP0266's
	# fields can do; against ceiling-headers: what gin itself costs.
	for base in ceiling ceiling-headers; do
		printf 'gin-floor / %s: req/s %.0f%%, p99 %sx, server CPU per request %sx\n' "$base" \
			"$(awk -v a="$(median "${RPS[gin-floor]}")" -v b="$(median "${RPS[$base]}")" 'BEGIN{print 100*a/b}')" \
			"$(ratio "$(median "${P99[gin-floor]}")" "$(median "${P99[$base]}")")" \
			"$(ratio "$(median "${CPU[gin-floor]}")" "$(median "${CPU[$base]}")")"
	done
	printf 'ceiling-headers / ceiling: req/s %.0f%%, p99 %sx, server CPU per request %sx (the header fields alone)\n' \
		"$(awk -v a="$(median "${RPS[ceiling-headers]}")" -v b="$(median "${RPS[ceiling]}")" 'BEGIN{print 100*a/b}')" \
		"$(ratio "$(median "${P99[ceiling-headers]}")" "$(median "${P99[ceiling]}")")" \
		"$(ratio "$(median "${CPU[ceiling-headers]}")" "$(median "${CPU[ceiling]}")")"
fi
for n in "${NAMES[@]}"; do
	if [ -n "$MOCK_URL" ] && [[ $n == bmcemu-* ]]; then
		echo "$n / mockup-server: $(ratio "$(median "${RPS[$n]}")" "$(median "${RPS[mockup-server]}")")x req/s (target >= 20x)"
	fi
	printf '%s / ceiling: req/s %.0f%% (target >= 85%%), p50 %sx, p99 %sx (target <= 1.3x), server CPU per request %sx\n' "$n" \
		"$(awk -v a="$(median "${RPS[$n]}")" -v b="$(median "${RPS[ceiling]}")" 'BEGIN{print 100*a/b}')" \
		"$(ratio "$(median "${P50[$n]}")" "$(median "${P50[ceiling]}")")" \
		"$(ratio "$(median "${P99[$n]}")" "$(median "${P99[ceiling]}")")" \
		"$(ratio "$(median "${CPU[$n]}")" "$(median "${CPU[ceiling]}")")"
	if [ -n "$CHURL" ]; then
		printf '%s / ceiling-headers: req/s %.0f%%, p99 %sx, server CPU per request %sx\n' "$n" \
			"$(awk -v a="$(median "${RPS[$n]}")" -v b="$(median "${RPS[ceiling-headers]}")" 'BEGIN{print 100*a/b}')" \
			"$(ratio "$(median "${P99[$n]}")" "$(median "${P99[ceiling-headers]}")")" \
			"$(ratio "$(median "${CPU[$n]}")" "$(median "${CPU[ceiling-headers]}")")"
		printf '%s / gin-floor: req/s %.0f%%, p99 %sx, server CPU per request %sx\n' "$n" \
			"$(awk -v a="$(median "${RPS[$n]}")" -v b="$(median "${RPS[gin-floor]}")" 'BEGIN{print 100*a/b}')" \
			"$(ratio "$(median "${P99[$n]}")" "$(median "${P99[gin-floor]}")")" \
			"$(ratio "$(median "${CPU[$n]}")" "$(median "${CPU[gin-floor]}")")"
	fi
done
