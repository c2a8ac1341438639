#!/usr/bin/env bash
# The provisioning flow Ironic's redfish hardware type runs, through
# python3-sushy, on every member of a 100-member fleet at once (a thread a
# member), against the same flow on one member alone, in the same run.
# Usage: cmd/internal/fleet/bench/provision.sh [members] [rounds]   (default 100 3)
#
# A benchmark, not a test: it prints figures and judges nothing; CI does
# not run it. The flow per member, as Ironic's inspection and deploy steps
# call sushy: get the system, the processor, memory, NIC and storage
# summaries (inspection), stage BIOS attributes, set a one-time PXE boot,
# force a restart, and wait until the host runs its OS again with the BIOS
# settings applied and the override consumed. The fleet runs at --speed
# 1000, so the hardware's own delays are milliseconds and the figure is the
# emulator's work (and sushy's) per flow.
#
# Ports: IPMI_PORT (default 22000), HTTP_PORT (32000); members take
# consecutive ports from both.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
N=${1:-100}
ROUNDS=${2:-3}
IPMI_PORT=${IPMI_PORT:-22000}
HTTP_PORT=${HTTP_PORT:-32000}
PY=/usr/bin/python3
if ! "$PY" -c 'import sushy' 2>/dev/null; then
	echo "python3-sushy is missing (Debian: apt-get install python3-sushy)" >&2
	exit 1
fi

dir=$(mktemp -d)
SRV=
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$dir/bmcemu" ./cmd/bmcemu
"$dir/bmcemu" serve --ephemeral --fleet "$N" --fleet-same-address --fleet-addr 127.0.0.1 \
	--member-ipmi-port "$IPMI_PORT" --member-https-port 0 --member-http-port "$HTTP_PORT" \
	--control-addr 127.0.0.1:0 --speed 1000 --log-level error >"$dir/out" 2>"$dir/err" &
SRV=$!
for _ in $(seq 600); do
	grep -qx ready "$dir/out" 2>/dev/null && break
	kill -0 "$SRV" 2>/dev/null || { cat "$dir/err" >&2; exit 1; }
	sleep 0.1
done
grep -qx ready "$dir/out" || { echo "the fleet did not start" >&2; exit 1; }

cat >"$dir/flow.py" <<'PY'
import json, sys, time, warnings
from concurrent.futures import ThreadPoolExecutor
warnings.filterwarnings("ignore")
import sushy

base, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def flow(port):
    url = "http://127.0.0.1:%d" % port
    t0 = time.time()
    s = sushy.Sushy(url + "/redfish/v1", username="admin", password="password", verify=False)
    system = s.get_system("/redfish/v1/Systems/1")
    # Inspection.
    cpus = system.processors.summary
    mem = system.memory_summary
    macs = system.ethernet_interfaces.summary
    disks = system.simple_storage.disks_sizes_bytes
    assert cpus.count > 0 and mem.size_gib > 0 and macs and disks
    # Deploy: BIOS settings for the next boot, a one-time PXE boot, reboot.
    bios = system.bios
    bios.set_attributes({"ProcHyperthreading": "Disabled", "SriovGlobalEnable": "Enabled"})
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    host = s._conn._session
    def boots():
        h = host.get(url + "/emulator/v1/host", auth=("admin", "password")).json()
        return h["boot_count"] if h["os_running"] else -1
    before = boots()
    system.reset_system(sushy.RESET_FORCE_RESTART)
    deadline = time.time() + 120
    while boots() < before + 1:
        if time.time() > deadline:
            raise SystemExit("member on port %d did not boot again" % port)
        time.sleep(0.02)
    bios.refresh()
    system.refresh()
    assert bios.attributes["ProcHyperthreading"] == "Disabled", bios.attributes
    assert system.boot.enabled == sushy.BOOT_SOURCE_ENABLED_DISABLED, system.boot
    return time.time() - t0

ports = [first + i for i in range(n)]
t0 = time.time()
with ThreadPoolExecutor(max_workers=n) as ex:
    per = list(ex.map(flow, ports))
wall = time.time() - t0
per.sort()
print(json.dumps({"members": n, "wall_s": wall, "median_member_s": per[len(per) // 2], "max_member_s": per[-1]}))
PY

# cpu_s PID: the process's user+system CPU seconds so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
median() { sort -g | awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]; else print "n/a"}'; }
: >"$dir/one"
: >"$dir/all"
for r in $(seq "$ROUNDS"); do
	# Alternate, so that other work on the machine hits both; every round
	# uses fresh members' state (the flow is repeatable: it sets the same
	# values and reboots).
	"$PY" "$dir/flow.py" "" 1 "$HTTP_PORT" | tee -a "$dir/one.json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["wall_s"])' >>"$dir/one"
	c0=$(cpu_s "$SRV")
	"$PY" "$dir/flow.py" "" "$N" "$HTTP_PORT" | tee -a "$dir/all.json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["wall_s"])' >>"$dir/all"
	awk -v a="$(cpu_s "$SRV")" -v b="$c0" 'BEGIN{print a - b}' >>"$dir/srvcpu"
	echo "  round $r (load average $(cut -d' ' -f1 /proc/loadavg)): 1 member $(tail -n1 "$dir/one") s, $N members $(tail -n1 "$dir/all") s" >&2
done
ONE=$(median <"$dir/one")
ALL=$(median <"$dir/all")
echo
echo "provisioning flow through sushy ($(nproc) CPUs; medians of $ROUNDS rounds; --speed 1000)"
printf '%-46s %s s\n' "one member alone (wall)" "$ONE"
printf '%-46s %s s\n' "$N members at once, a thread each (wall)" "$ALL"
printf '%-46s %s\n' "wall time ratio, $N members / 1 member" "$(awk -v a="$ALL" -v b="$ONE" 'BEGIN{printf "%.1f", a/b}')"
printf '%-46s %s s of %s s wall x %s CPUs\n' "server CPU during the $N-member run" "$(median <"$dir/srvcpu")" "$ALL" "$(nproc)"
printf '%-46s %s\n' "flows per second, $N at once / 1 alone" "$(awk -v a="$ALL" -v b="$ONE" -v n="$N" 'BEGIN{printf "%.1f", (n/a)/(1/b)}')"
