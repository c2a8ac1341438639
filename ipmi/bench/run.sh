#!/bin/sh
# Runs BenchmarkLANCommands against bmcemu and against OpenIPMI's ipmi_sim
# on the same machine, then BenchmarkSELAppend.
# Usage: ipmi/bench/run.sh [benchtime] [rounds]   (default 5s 3)
#
# Both servers run in their own process (bmcemu as `bmcemu serve
# --ephemeral`, the shipped configuration with the live account store) and
# one load generator process drives each in turn: the benchmark's lean
# RMCP+ console (ipmi/leanlan_test.go), not go-ipmi's client, which costs
# several times a server's work per command and so measured itself. Rounds
# alternate the servers so a noisy neighbour hits both; the summary is the
# median of the rounds. Per command it also reports the CPU time of the load
# generator and of the server (from /proc): with client and server sharing
# the CPUs, those say what bounds the rate.
#
# What bounds the rate (2 CPUs; -cpuprofile on both sides, strace -c on the
# servers): most of each server's CPU is the kernel's loopback UDP path.
# Per command ipmi_sim makes 8 system calls on its one thread (recvfrom,
# sendmsg, epoll_ctl, epoll_pwait, rt_sigprocmask, and open/read/close of
# /dev/urandom for the IV). bmcemu reads in-session commands in batches
# (recvmmsg) on one goroutine and sends a batch's answers in one sendmmsg:
# at 16 sessions well under one system call per command, yet sendmmsg is
# still about half its CPU, since on loopback the sender's call carries each
# datagram through the stack to the console's socket and wakes its reader.
# The load generator (a goroutine per session) needs more CPU per command
# than bmcemu, ~70% of it in write(2) for the same reason: one epoll loop
# over all sessions instead of goroutines saved it nothing. bmcemu's
# ceiling is 2 CPUs / (server + generator µs per command), ipmi_sim's one
# CPU / its µs per command. Other work on the machine (the load average
# printed per round) starves single-threaded ipmi_sim more than bmcemu,
# which raises the ratio: compare rounds at similar load.
#
# Ports: SIM_PORT (ipmi_sim, default 9623), EMU_PORT (bmcemu IPMI, 9624),
# EMU_HTTP (bmcemu Redfish, 9625).
set -eu
cd "$(dirname "$0")/../.."
BT=${1:-5s}
ROUNDS=${2:-3}
SIM_PORT=${SIM_PORT:-9623}
EMU_PORT=${EMU_PORT:-9624}
EMU_HTTP=${EMU_HTTP:-9625}
for t in ipmi_sim:openipmi ipmitool:ipmitool; do
	if ! command -v "${t%%:*}" >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ]; then apt-get install -y "${t#*:}" >/dev/null; else echo "${t%%:*} missing (apt-get install ${t#*:})" >&2; exit 1; fi
	fi
done
dir=$(mktemp -d)
SIM=
EMU=
trap '[ -n "$SIM" ] && kill $SIM 2>/dev/null; [ -n "$EMU" ] && kill $EMU 2>/dev/null; rm -rf "$dir"' EXIT
go build -o "$dir/bmcemu" ./cmd/bmcemu
go test -c -o "$dir/ipmi.test" ./ipmi/
go test -c -o "$dir/sel.test" ./platform/sel/

cat >"$dir/lan.conf" <<CONF
name "bench"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $SIM_PORT
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 1 true  ""      "test"     user  10 none md2 md5 straight
  user 2 true  "admin" "password" admin 10 none md2 md5 straight
CONF
# mc_setbmc is required: without it ipmi_sim binds the LAN port, logs an
# error to syslog (invisible without /dev/log) and exits with status 1.
cat >"$dir/emu.cmds" <<CMDS
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 1 0x0c 0x6f
sensor_set_value 0x20 0 1 0 0
mc_enable 0x20
CMDS
# -n: no console on stdin.
ipmi_sim -n -c "$dir/lan.conf" -f "$dir/emu.cmds" -s "$dir" >"$dir/sim.log" 2>&1 &
SIM=$!
"$dir/bmcemu" serve --ephemeral --ipmi-addr "127.0.0.1:$EMU_PORT" --redfish-addr "127.0.0.1:$EMU_HTTP" --redfish-tls-addr "" \
	--log-level warn >"$dir/emu.log" 2>&1 &
EMU=$!

for srv in sim:$SIM_PORT:$SIM emu:$EMU_PORT:$EMU; do
	name=${srv%%:*} rest=${srv#*:}
	port=${rest%%:*} pid=${rest#*:}
	IPMI="ipmitool -I lanplus -C 3 -H 127.0.0.1 -p $port -U admin -P password"
	i=0
	until $IPMI mc info >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge 20 ] || ! kill -0 "$pid" 2>/dev/null; then echo "$name does not answer on $port:" >&2; cat "$dir/$name.log" >&2; exit 1; fi
		sleep 0.5
	done
	# The same SEL records on both so Get SEL Entry finds something (ipmi_sim
	# has no event receiver for Platform Event Message): Add SEL Entry,
	# Memory #1 correctable ECC.
	for n in 1 2 3 4; do
		$IPMI raw 0x0a 0x44 0 0 2 0 0 0 0 0x20 0 4 0x0c 1 0x6f 0 0xff $n >/dev/null
	done
	$IPMI raw 0x04 0x2d 1 >/dev/null || { echo "$name: sensor 1 unreadable" >&2; exit 1; }
done

bench() { # name port pid
	BMCEMU_BENCH_TARGET=127.0.0.1:$2 BMCEMU_BENCH_SERVER_PID=$3 \
		"$dir/ipmi.test" -test.run XXX -test.bench BenchmarkLANCommands -test.benchtime "$BT" 2>>"$dir/$1.err" |
		grep -E "^Benchmark" | tee -a "$dir/$1.txt" | sed "s/^/$1 /"
}
r=1
while [ $r -le "$ROUNDS" ]; do
	# The load average says how much else wanted these CPUs: with other
	# work running, single-threaded ipmi_sim loses more than bmcemu does.
	echo "== round $r (load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs)"
	bench bmcemu "$EMU_PORT" "$EMU"
	bench ipmi_sim "$SIM_PORT" "$SIM"
	r=$((r + 1))
done

# median FILE SESSIONS METRIC: the median over rounds of one metric.
median() { awk -v s="sessions=$2-" -v m="$3" 'index($1,s){for(i=1;i<NF;i++) if($(i+1)==m) print $i}' "$1" |
	sort -g | awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]; else print "n/a"}'; }
echo "== medians of $ROUNDS rounds ($BT each)"
for s in 1 16; do
	for n in bmcemu ipmi_sim; do
		echo "sessions=$s $n: $(median "$dir/$n.txt" $s cmds/s) cmds/s, p99 $(median "$dir/$n.txt" $s p99-µs) µs," \
			"errors/op $(median "$dir/$n.txt" $s errors/op), CPU µs/cmd: server $(median "$dir/$n.txt" $s server-cpu-µs/cmd)" \
			"load generator $(median "$dir/$n.txt" $s client-cpu-µs/cmd)"
	done
	e=$(median "$dir/bmcemu.txt" $s cmds/s) m=$(median "$dir/ipmi_sim.txt" $s cmds/s)
	echo "sessions=$s ratio bmcemu/ipmi_sim: $(awk -v a="$e" -v b="$m" 'BEGIN{ if (b>0) printf "%.2fx", a/b; else print "n/a" }')"
done
echo "== durable SEL appends (journal fsynced per entry, under \$TMPDIR: $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2{print $2}'))"
"$dir/sel.test" -test.run XXX -test.bench BenchmarkSELAppend -test.benchtime "$BT" | grep Benchmark
