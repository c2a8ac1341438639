#!/bin/sh
# Runs BenchmarkLANCommands against bmcemu and against OpenIPMI's ipmi_sim
# on the same machine, then BenchmarkSELAppend. Usage: ipmi/bench/run.sh [benchtime]
#
# The load generator is go-ipmi's client, in the benchmark process; for
# bmcemu the server shares that process. On a small machine the client is
# the limit (it reseeds math/rand for every packet's IV): on 2 CPUs
# ipmi_sim used about a third of one core at 16 sessions, so the ratio
# printed below understates the servers' difference there.
set -eu
cd "$(dirname "$0")/../.."
BT=${1:-5s}
PORT=${SIM_PORT:-9623}
if ! command -v ipmi_sim >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then apt-get install -y openipmi >/dev/null; else echo "ipmi_sim missing (apt-get install openipmi)" >&2; exit 1; fi
fi
dir=$(mktemp -d)
SIM=
trap '[ -n "$SIM" ] && kill $SIM 2>/dev/null; rm -rf "$dir"' EXIT
cat >"$dir/lan.conf" <<CONF
name "bench"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $PORT
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
IPMI="ipmitool -I lanplus -C 3 -H 127.0.0.1 -p $PORT -U admin -P password"
i=0
until $IPMI mc info >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -ge 20 ] || ! kill -0 $SIM 2>/dev/null; then echo "ipmi_sim does not answer on $PORT:" >&2; cat "$dir/sim.log" >&2; exit 1; fi
	sleep 0.5
done
# A few SEL records so Get SEL Entry finds something (ipmi_sim has no event
# receiver for Platform Event Message): Add SEL Entry, Memory #1 correctable ECC.
for n in 1 2 3 4; do
	$IPMI raw 0x0a 0x44 0 0 2 0 0 0 0 0x20 0 4 0x0c 1 0x6f 0 0xff $n >/dev/null
done
$IPMI raw 0x04 0x2d 1 >/dev/null || { echo "ipmi_sim: sensor 1 unreadable" >&2; exit 1; }

echo "== bmcemu"
go test -run XXX -bench BenchmarkLANCommands -benchtime "$BT" ./ipmi/ | tee "$dir/emu.txt" | grep Benchmark
echo "== ipmi_sim (OpenIPMI)"
BMCEMU_BENCH_TARGET=127.0.0.1:$PORT go test -run XXX -bench BenchmarkLANCommands -benchtime "$BT" ./ipmi/ 2>"$dir/sim.err" | tee "$dir/sim.txt" | grep -E "Benchmark|bench_test|failed" || true
metric() { awk -v s="sessions=$1-" -v m="$2" 'index($1,s){for(i=1;i<NF;i++) if($(i+1)==m) print $i}' "$3"; }
for s in 1 16; do
	e=$(metric $s cmds/s "$dir/emu.txt"); m=$(metric $s cmds/s "$dir/sim.txt")
	echo "sessions=$s: bmcemu $e cmds/s (p99 $(metric $s p99-µs "$dir/emu.txt") µs, errors/op $(metric $s errors/op "$dir/emu.txt")), ipmi_sim $m cmds/s (p99 $(metric $s p99-µs "$dir/sim.txt") µs, errors/op $(metric $s errors/op "$dir/sim.txt")), ratio $(awk -v a="$e" -v b="$m" 'BEGIN{ if (b>0) printf "%.2fx", a/b; else print "n/a" }')"
done
echo "== durable SEL appends"
go test -run XXX -bench BenchmarkSELAppend -benchtime "$BT" ./ipmi/sel/ | grep Benchmark
