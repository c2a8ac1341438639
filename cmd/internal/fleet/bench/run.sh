#!/usr/bin/env bash
# Fleet figures: what N members cost in one process, against N lone BMCs.
# Usage: cmd/internal/fleet/bench/run.sh [rounds] [wrk seconds]   (default 3 10)
#
# A benchmark, not a test: it prints figures and judges nothing, and CI
# does not run it. It takes about 2-3 minutes on 2 CPUs.
#
#  (a) `bmcemu serve --ephemeral --fleet N` for N = 1, 100 and 1000 (every
#      member on 127.0.0.1, IPMI from UDP $IPMI_PORT, Redfish over HTTP
#      from $HTTP_PORT, no HTTPS, so it needs no privileges): start-up, from
#      exec to "ready" on stdout, and the RSS (VmRSS) with every member
#      idle, the median of the rounds. RSS per idle member is
#      (RSS(1000) - RSS(1)) / 999. Goroutines come from the control
#      listener's /debug/pprof/goroutine when `serve --help` offers
#      --pprof; otherwise the column says n/a (threads are not goroutines).
#  (b) the baseline: one lone `bmcemu serve --ephemeral`, its RSS times
#      1,000, and the 1000-member fleet's RSS against it.
#  (c) Redfish throughput of a 100-member fleet: GET /redfish/v1/Systems/1
#      with Basic auth, 10 wrk processes (1 thread, 4 connections each)
#      at once, first aimed at 10 distinct members, then all at one member:
#      the same load generator and the same 40 connections, so the ratio
#      says what spreading the load over members changes. With 2 CPUs
#      shared by wrk and the server, both are bound by CPU.
#  (d) IPMI throughput of the same fleet: the project's lean RMCP+ load
#      generator (BenchmarkLANCommands, ipmi/bench_test.go) with 16 and
#      100 sessions spread one per member, against a lone BMC with 16
#      sessions (a BMC allows 32 at most).
#
# Ports: IPMI_PORT (default 20000), HTTP_PORT (30000; members take
# consecutive ports from both), LONE_IPMI (21999) and LONE_HTTP (31999)
# for the lone BMC. Set them if something else holds these.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
ROUNDS=${1:-3}
WRK_SECS=${2:-10}
IPMI_PORT=${IPMI_PORT:-20000}
HTTP_PORT=${HTTP_PORT:-30000}
LONE_IPMI=${LONE_IPMI:-21999}
LONE_HTTP=${LONE_HTTP:-31999}
USER_PW=admin:password

if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing wrk (apt-get install wrk)" >&2
		apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
	else
		echo "wrk is missing: install it (Debian/Ubuntu: sudo apt-get install wrk; or https://github.com/wg/wrk), then run this again" >&2
		exit 1
	fi
fi

dir=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	# wrk runs in subshells: their PIDs are in a file.
	if [ -f "$dir/wrk.pids" ]; then
		while read -r p; do
			kill "$p" 2>/dev/null || true
		done <"$dir/wrk.pids"
	fi
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bmcemu into $dir" >&2
go build -o "$dir/bmcemu" ./cmd/bmcemu
go test -c -o "$dir/ipmi.test" ./ipmi
BIN=$dir/bmcemu
HAVE_PPROF=
if "$BIN" serve --help 2>&1 | grep -q -- '--pprof'; then
	HAVE_PPROF=1
fi

now_ns() { date +%s%N; }

# start NAME ARGS...: runs bmcemu with ARGS, waits for "ready" on its stdout
# (read from a FIFO as it comes: no polling to compete for the CPUs) and
# sets PID and STARTUP_MS.
start() {
	local name=$1 line t0 t1
	shift
	rm -f "$dir/$name.fifo"
	mkfifo "$dir/$name.fifo"
	: >"$dir/$name.out"
	t0=$(now_ns)
	"$BIN" "$@" >"$dir/$name.fifo" 2>"$dir/$name.err" &
	PID=$!
	PIDS+=("$PID")
	exec 3<"$dir/$name.fifo"
	while :; do
		if ! IFS= read -r -t 120 line <&3; then
			echo "$name: exited or not ready within 2 minutes:" >&2
			cat "$dir/$name.out" "$dir/$name.err" >&2
			exit 1
		fi
		echo "$line" >>"$dir/$name.out"
		[ "$line" = ready ] && break
	done
	t1=$(now_ns)
	STARTUP_MS=$(((t1 - t0) / 1000000))
	# Whatever else it prints goes on to the file.
	cat <&3 >>"$dir/$name.out" &
	PIDS+=($!)
	exec 3<&-
}

stop() { # PID
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

# goroutines NAME: the count from the control listener's pprof, or n/a.
goroutines() {
	local base
	base=$(sed -n 's|.*Control  *\(http://[^/ ]*\)/.*|\1|p' "$dir/$1.out" | head -n1)
	if [ -z "$HAVE_PPROF" ] || [ -z "$base" ]; then
		echo "n/a"
		return
	fi
	curl -s -u "$USER_PW" "$base/debug/pprof/goroutine?debug=1" | awk 'NR==1 && /goroutine profile: total/{print $4; found=1} END{if (!found) print "n/a"}'
}

median() { sort -n | awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]; else print "n/a"}'; }

fleet_args() { # N
	local a=(serve --ephemeral --fleet "$1" --fleet-same-address --fleet-addr 127.0.0.1
		--member-ipmi-port "$IPMI_PORT" --member-https-port 0 --member-http-port "$HTTP_PORT"
		--control-addr 127.0.0.1:0 --log-level warn)
	if [ -n "$HAVE_PPROF" ]; then
		a+=(--pprof)
	fi
	printf '%s\n' "${a[@]}"
}

declare -A START RSS GOR ADDED
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== (a) start-up and idle RSS, $ROUNDS rounds ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for n in 1 100 1000; do
	mapfile -t args < <(fleet_args "$n")
	: >"$dir/start.$n"
	: >"$dir/rss.$n"
	: >"$dir/added.$n"
	for r in $(seq "$ROUNDS"); do
		start "fleet$n" "${args[@]}"
		# Let start-up garbage and the first timers settle: idle is idle.
		sleep 2
		echo "$STARTUP_MS" >>"$dir/start.$n"
		# Its own figure: the time spent adding the members.
		sed -n 's/.*started in \([0-9.]*\)\(m*s\)$/\1 \2/p' "$dir/fleet$n.out" |
			awk '{print ($2 == "ms") ? $1 : $1 * 1000}' >>"$dir/added.$n"
		rss_kib "$PID" >>"$dir/rss.$n"
		GOR[$n]=$(goroutines "fleet$n")
		stop "$PID"
		echo "  N=$n round $r: ready in ${STARTUP_MS} ms, RSS $(tail -n1 "$dir/rss.$n") KiB" >&2
	done
	START[$n]=$(median <"$dir/start.$n")
	RSS[$n]=$(median <"$dir/rss.$n")
	ADDED[$n]=$(median <"$dir/added.$n")
done

echo "== (b) one lone BMC" >&2
: >"$dir/rss.lone"
for r in $(seq "$ROUNDS"); do
	start lone serve --ephemeral --ipmi-addr "127.0.0.1:$LONE_IPMI" --redfish-addr "127.0.0.1:$LONE_HTTP" \
		--redfish-tls-addr "" --log-level warn
	sleep 2
	rss_kib "$PID" >>"$dir/rss.lone"
	stop "$PID"
done
LONE=$(median <"$dir/rss.lone")

echo "== (c) Redfish throughput, fleet of 100 (${WRK_SECS}s a run)" >&2
mapfile -t args < <(fleet_args 100)
start fleet100 "${args[@]}"
FLEET100=$PID
AUTH="Authorization: Basic $(printf %s "$USER_PW" | base64)"
# wrk_all SECONDS PORT...: one wrk per port at once; prints the summed
# requests/s and non-2xx answers.
wrk_all() {
	local secs=$1 i=0 p
	shift
	local wp=()
	rm -f "$dir"/wrk.[0-9]*
	for p in "$@"; do
		wrk -t1 -c4 -d"${secs}s" -H "$AUTH" "http://127.0.0.1:$p/redfish/v1/Systems/1" >"$dir/wrk.$i" 2>&1 &
		wp+=($!)
		echo $! >>"$dir/wrk.pids"
		i=$((i + 1))
	done
	for p in "${wp[@]}"; do
		wait "$p"
	done
	cat "$dir"/wrk.[0-9]* | awk '/^Requests\/sec:/{rps+=$2} /Non-2xx or 3xx responses:/{bad+=$NF} /Socket errors/{err=err" "$0}
		END{printf "%.0f %d%s\n", rps, bad, err}'
}
# 10 members spread over the 100: bmc-001, bmc-011, ..., bmc-091.
SPREAD=()
ONE=()
for k in $(seq 0 10 90); do
	SPREAD+=($((HTTP_PORT + k)))
	ONE+=($((HTTP_PORT + 50)))
done
# A member answers before the load starts.
curl -sf -u "$USER_PW" "http://127.0.0.1:$HTTP_PORT/redfish/v1/Systems/1" >/dev/null
wrk_all 2 "${SPREAD[@]}" >/dev/null # warm-up
# Rounds alternate the two so that other work on the machine hits both.
: >"$dir/rps.spread"
: >"$dir/rps.one"
: >"$dir/ratio"
BAD10=0 BAD1=0 ERR10='' ERR1=''
for r in $(seq "$ROUNDS"); do
	# $(...) waits for wrk_all to finish; < <(...) would not.
	out=$(wrk_all "$WRK_SECS" "${SPREAD[@]}")
	read -r rps10 bad err <<<"$out"
	BAD10=$((BAD10 + bad)) ERR10+=$err
	out=$(wrk_all "$WRK_SECS" "${ONE[@]}")
	read -r rps1 bad err <<<"$out"
	BAD1=$((BAD1 + bad)) ERR1+=$err
	echo "$rps10" >>"$dir/rps.spread"
	echo "$rps1" >>"$dir/rps.one"
	awk -v a="$rps10" -v b="$rps1" 'BEGIN{ if (b>0) printf "%.3f\n", a/b }' >>"$dir/ratio"
	echo "  round $r (load average $(cut -d' ' -f1 /proc/loadavg)): 10 members $rps10 req/s, 1 member $rps1 req/s" >&2
done
RPS10=$(median <"$dir/rps.spread")
RPS1=$(median <"$dir/rps.one")
RATIO=$(median <"$dir/ratio")

echo "== (d) IPMI throughput, fleet of 100 against a lone BMC" >&2
TARGETS=$(seq -s, -f "127.0.0.1:%g" "$IPMI_PORT" $((IPMI_PORT + 99)))
# ipmi_bench SESSIONS TARGETS PID: the median cmds/s over the rounds.
ipmi_bench() {
	local r
	: >"$dir/ipmi.cmds"
	for r in $(seq "$ROUNDS"); do
		BMCEMU_BENCH_TARGET=$2 BMCEMU_BENCH_SESSIONS=$1 BMCEMU_BENCH_SERVER_PID=$3 \
			"$dir/ipmi.test" -test.run XXX -test.bench BenchmarkLANCommands -test.benchtime 3s 2>>"$dir/ipmi.err" |
			awk '/^Benchmark/{for(i=1;i<NF;i++) if($(i+1)=="cmds/s") print $i}' >>"$dir/ipmi.cmds"
	done
	median <"$dir/ipmi.cmds"
}
IPMI_FLEET16=$(ipmi_bench 16 "$TARGETS" "$FLEET100")
IPMI_FLEET100=$(ipmi_bench 100 "$TARGETS" "$FLEET100")
stop "$FLEET100"
start lone serve --ephemeral --ipmi-addr "127.0.0.1:$LONE_IPMI" --redfish-addr "127.0.0.1:$LONE_HTTP" \
	--redfish-tls-addr "" --log-level warn
IPMI_LONE16=$(ipmi_bench 16 "127.0.0.1:$LONE_IPMI" "$PID")
stop "$PID"

# Figures.
per_member=$(awk -v a="${RSS[1000]}" -v b="${RSS[1]}" 'BEGIN{printf "%.0f", (a-b)/999}')
gor_note="n/a (needs --pprof)"
if [ -n "$HAVE_PPROF" ]; then
	gor_note="from /debug/pprof/goroutine"
fi
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
echo
echo "bmcemu fleet figures ($(nproc) CPUs, $(uname -r), $(go version | cut -d' ' -f3); medians of $ROUNDS rounds; load average at the start $LOAD0)"
echo
printf '%-30s %14s %18s %11s %22s\n' "serve --ephemeral --fleet N" "start-up (ms)" "of it adding (ms)" "RSS (MiB)" "goroutines"
for n in 1 100 1000; do
	g=${GOR[$n]}
	[ "$g" = "n/a" ] && g=$gor_note
	printf '%-30s %14s %18s %11s %22s\n' "N=$n" "${START[$n]}" "${ADDED[$n]}" "$(mib "${RSS[$n]}")" "$g"
done
echo
printf '%-50s %s\n' "RSS per idle member ((RSS(1000)-RSS(1))/999)" "$per_member KiB"
printf '%-50s %s\n' "lone bmcemu serve --ephemeral, RSS" "$(mib "$LONE") MiB"
printf '%-50s %s\n' "1,000 lone processes (RSS x 1000)" "$(mib $((LONE * 1000))) MiB"
printf '%-50s %s\n' "fleet of 1000 / 1,000 lone processes" "$(awk -v a="${RSS[1000]}" -v b="$LONE" 'BEGIN{printf "%.3f (%.1fx less memory)", a/(b*1000), (b*1000)/a}')"
echo
printf '%-50s %s\n' "Redfish GET Systems/1, 10 members of 100 at once" "$RPS10 req/s (non-2xx: $BAD10${ERR10:+;$ERR10})"
printf '%-50s %s\n' "the same 10 wrk x 4 connections on 1 member" "$RPS1 req/s (non-2xx: $BAD1${ERR1:+;$ERR1})"
printf '%-50s %s\n' "ratio 10 members / 1 member (median of rounds)" "$RATIO"
printf '%-50s %s\n' "IPMI, 16 sessions on 16 members of 100" "$IPMI_FLEET16 cmds/s"
printf '%-50s %s\n' "IPMI, 100 sessions, one per member" "$IPMI_FLEET100 cmds/s"
printf '%-50s %s\n' "IPMI, 16 sessions on a lone BMC" "$IPMI_LONE16 cmds/s"
printf '%-50s %s\n' "ratio fleet (100 sessions) / lone BMC" "$(awk -v a="$IPMI_FLEET100" -v b="$IPMI_LONE16" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }')"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes every figure noisier)"
