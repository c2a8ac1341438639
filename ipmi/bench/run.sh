#!/bin/sh
# Runs BenchmarkLANCommands against bmcemu and against OpenIPMI's ipmi_sim
# on the same machine, then BenchmarkSELAppend. Usage: ipmi/bench/run.sh [benchtime]
set -eu
cd "$(dirname "$0")/../.."
BT=${1:-5s}
PORT=${SIM_PORT:-9623}
if ! command -v ipmi_sim >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then apt-get install -y openipmi >/dev/null; else echo "ipmi_sim missing (apt-get install openipmi)" >&2; exit 1; fi
fi
dir=$(mktemp -d)
trap 'pkill -P $SIM 2>/dev/null; kill $SIM 2>/dev/null || true; rm -rf "$dir"' EXIT
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
cat >"$dir/emu.cmds" <<CMDS
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 1 0x0c 0x6f
sensor_set_value 0x20 0 1 0 0
mc_enable 0x20
CMDS
# ipmi_sim exits when its console (stdin) closes: keep a pipe open.
(sleep 100000 | ipmi_sim -n -c "$dir/lan.conf" -f "$dir/emu.cmds" -s "$dir" >"$dir/sim.log" 2>&1) &
SIM=$!
sleep 1; tail -3 "$dir/sim.log" >&2
# One SEL record so Get SEL Entry finds something.
ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$PORT" -U admin -P password event 1 >/dev/null 2>&1 || true

echo "== bmcemu"
go test -run XXX -bench BenchmarkLANCommands -benchtime "$BT" ./ipmi/ | tee "$dir/emu.txt" | grep Benchmark
echo "== ipmi_sim (OpenIPMI)"
BMCEMU_BENCH_TARGET=127.0.0.1:$PORT go test -run XXX -bench BenchmarkLANCommands -benchtime "$BT" ./ipmi/ | tee "$dir/sim.txt" | grep -E "Benchmark|bench_test|failed" || true
for s in 1 16; do
	e=$(awk -v s="sessions=$s-" 'index($1,s){for(i=1;i<=NF;i++) if($(i+1)=="cmds/s") print $i}' "$dir/emu.txt")
	m=$(awk -v s="sessions=$s-" 'index($1,s){for(i=1;i<=NF;i++) if($(i+1)=="cmds/s") print $i}' "$dir/sim.txt")
	echo "sessions=$s: bmcemu $e cmds/s, ipmi_sim $m cmds/s, ratio $(awk -v a="$e" -v b="$m" 'BEGIN{ if (b>0) printf "%.2fx", a/b; else print "n/a" }')"
done
echo "== durable SEL appends"
go test -run XXX -bench BenchmarkSELAppend -benchtime "$BT" ./ipmi/sel/ | grep Benchmark
