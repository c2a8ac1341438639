#!/usr/bin/env bash
# crashsoak.sh N: kill -9 the emulator N times while acknowledged writes run
# against every durable store, and check after each restart that nothing
# acknowledged was lost.
#
# One state directory, one binary (built once). Each cycle starts
# `bmcemu serve --speed 1000` on free loopback ports, runs a writer in the
# background that touches every store a BMC keeps (Redfish accounts and
# event subscriptions, the boot override, the SEL, LAN alert destinations,
# a DIMM inserted and pulled, the RAS mode setting), and kills the server
# with SIGKILL after a random pause. A write counts as acknowledged only
# once its client got the success answer; it is recorded after that answer,
# so a write the kill interrupted is never counted, whether or not it
# landed. After the restart:
#
#   - every acknowledged create is there and every acknowledged delete is
#     still gone; a single-valued setting (boot override, alert
#     destination, slot, RAS mode) holds the last acknowledged value or one
#     written after it whose answer the kill cut off;
#   - every JSON state file parses;
#   - the server came up (its "ready" line), and no temporary file of an
#     interrupted atomic write is left in the state directory.
#
# The last line is the summary
#   crashsoak: N cycles, W acknowledged writes, L lost, T temp files left, R refused restarts
# and the exit status is non-zero on any loss, leftover or refused restart.
# Needs curl, ipmitool, and jq or python3. CRASHSOAK_SEED makes the kill
# times repeat; CRASHSOAK_KEEP=1 keeps the work directory.
set -u -o pipefail

cycles=${1:-}
if ! [[ $cycles =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 CYCLES" >&2
	exit 2
fi
for tool in curl ipmitool; do
	command -v "$tool" >/dev/null || { echo "crashsoak: $tool is needed (apt-get install $tool)" >&2; exit 2; }
done
if command -v jq >/dev/null; then
	parses() { jq empty "$1" >/dev/null 2>&1; }
elif command -v python3 >/dev/null; then
	parses() { python3 -m json.tool "$1" >/dev/null 2>&1; }
else
	echo "crashsoak: jq or python3 is needed to check the JSON state files" >&2
	exit 2
fi

seed=${CRASHSOAK_SEED:-$$}
RANDOM=$seed
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/crashsoak.XXXXXX")
bin=$work/bmcemu
state=$work/state
spid=
cleanup() {
	if [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; then
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	if [[ ${CRASHSOAK_KEEP:-} == 1 ]]; then
		echo "crashsoak: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

echo "crashsoak: building bmcemu (seed $seed)"
(cd "$root" && go build -o "$bin" ./cmd/bmcemu) || exit 2

# The ledger: files the writer appends to only after an answer, and the
# checks read once the writer has stopped.
led=$work/ledger
mkdir -p "$led"
# acked: one line per acknowledged write. For accounts and subscriptions,
# KIND.live and KIND.limbo hold "name uri" of acknowledged creates and of
# those whose delete was sent, KIND.gone the names whose delete was
# acknowledged. sel: keys of acknowledged SEL entries.
for f in acked acct.live acct.limbo acct.gone sub.live sub.limbo sub.gone sel; do
	: >"$led/$f"
done
for k in boot lan dimm ras; do
	: >"$led/$k.acked" # the last acknowledged value
	: >"$led/$k.tried" # values sent after it, answer unknown
done
echo 0 >"$led/seq"

lost=0 refused=0
: >"$work/tmp.after_kill" # temporary files seen right after a kill, by path
: >"$work/tmp.left"       # and after a restart
restart_ms=()

fail() { # a loss: say which
	echo "crashsoak: cycle $cycle: LOST: $*" >&2
	lost=$((lost + 1))
}

# Free loopback ports: bind port 0 when python3 is there; otherwise random
# high ports, and a start that finds one taken is retried.
pick_ports() {
	if command -v python3 >/dev/null; then
		read -r http tls ipmi < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, t) for t in (socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_DGRAM)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
	else
		http=$((20000 + RANDOM % 20000)) tls=$((40000 + RANDOM % 10000)) ipmi=$((50000 + RANDOM % 10000))
	fi
	url=http://127.0.0.1:$http
}

# start_server starts bmcemu and waits for "ready"; it returns non-zero
# when the server does not come up (a refused restart).
start_server() {
	local t0 t1
	for _ in 1 2 3; do
		pick_ports
		: >"$work/serve.out"
		t0=$(date +%s%N)
		"$bin" serve --state-dir "$state" --speed 1000 --redfish-addr "127.0.0.1:$http" \
			--redfish-tls-addr "127.0.0.1:$tls" --ipmi-addr "127.0.0.1:$ipmi" \
			>"$work/serve.out" 2>"$work/serve.log" &
		spid=$!
		local deadline=$((SECONDS + 30))
		while ((SECONDS < deadline)); do
			if grep -qx ready "$work/serve.out"; then
				t1=$(date +%s%N)
				restart_ms+=($(((t1 - t0) / 1000000)))
				return 0
			fi
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.02
		done
		kill -9 "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		grep -q "address already in use" "$work/serve.log" || break
	done
	echo "crashsoak: the server did not start:" >&2
	tail -20 "$work/serve.log" >&2
	return 1
}

# Clients, each bounded so that a dead server cannot stall the writer.
rf() { # rf METHOD PATH [BODY]: prints the status code; headers in $work/headers
	local data=()
	[[ $# -gt 2 ]] && data=(-d "$3")
	curl -s -o /dev/null -D "$work/headers" -w '%{http_code}' --max-time 5 -u admin:password \
		-X "$1" -H 'Content-Type: application/json' "${data[@]}" "$url$2"
}
rf_get() { curl -sf --max-time 10 -u admin:password "$url$1"; }
ipmi() { ipmitool -I lanplus -H 127.0.0.1 -p "$ipmi" -U admin -P password -N 1 -R 1 "$@"; }
ctl() { "$bin" ctl --server "$url" --timeout 5s "$@"; }
location() { tr -d '\r' <"$work/headers" | sed -n 's/^[Ll]ocation: //p' | sed "s|^$url||"; }
json_field() { # json_field FILTER: jq filter, or a python3 expression on d
	if command -v jq >/dev/null; then jq -r "$1"; else python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; fi
}

next_seq() {
	local n
	n=$(($(cat "$led/seq") + 1))
	echo "$n" >"$led/seq"
	echo "$n"
}
ack() { echo "$cycle $*" >>"$led/acked"; }

# A collection with live/limbo/gone ledgers: create while fewer than four
# are live, else delete the oldest.
op_collection() { # op_collection KIND COLLECTION BODYFUNC
	local kind=$1 coll=$2 mkbody=$3 n name uri code
	if (($(wc -l <"$led/$kind.live") < 4)); then
		n=$(next_seq)
		name=cs$n
		code=$(rf POST "$coll" "$($mkbody "$name" "$n")")
		if [[ $code == 201 ]]; then
			uri=$(location)
			echo "$name $uri" >>"$led/$kind.live"
			ack "$kind create $name"
		fi
		return
	fi
	read -r name uri <"$led/$kind.live"
	# In limbo from the moment the DELETE may land.
	echo "$name $uri" >>"$led/$kind.limbo"
	sed -i 1d "$led/$kind.live"
	code=$(rf DELETE "$uri")
	if [[ $code == 2?? ]]; then
		sed -i "/^$name /d" "$led/$kind.limbo"
		echo "$name" >>"$led/$kind.gone"
		ack "$kind delete $name"
	fi
}
acct_body() { printf '{"UserName":"%s","Password":"Soak-%s-pw","RoleId":"ReadOnly"}' "$1" "$2"; }
sub_body() { printf '{"Destination":"http://127.0.0.1:9/x","Protocol":"Redfish","Context":"%s"}' "$1"; }

# A single-valued setting: the value goes to KIND.tried before it is sent
# and becomes KIND.acked when the answer comes.
set_value() { # set_value KIND VALUE COMMAND...
	local kind=$1 v=$2
	shift 2
	echo "$v" >>"$led/$kind.tried"
	if "$@" >/dev/null 2>&1; then
		echo "$v" >"$led/$kind.acked"
		: >"$led/$kind.tried"
		ack "$kind $v"
	fi
}
patch_boot() { [[ $(rf PATCH /redfish/v1/Systems/1 "{\"Boot\":{\"BootSourceOverrideTarget\":\"$1\",\"BootSourceOverrideEnabled\":\"Continuous\"}}") == 200 ]]; }

op_boot() {
	local targets=(Pxe Hdd Cd BiosSetup Usb Diags)
	local t=${targets[$(($(next_seq) % 6))]}
	set_value boot "$t" patch_boot "$t"
}
op_sel() { # an OEM-sensor system event whose sensor number and data carry a unique key
	local n
	n=$(next_seq)
	if ipmi raw 0x0a 0x44 0 0 0x02 0 0 0 0 0x41 0 0x04 0xc0 $((n >> 16 & 255)) 0x6f 0xa0 $((n >> 8 & 255)) $((n & 255)) >/dev/null 2>&1; then
		echo "$n" >>"$led/sel"
		ack "sel $n"
	fi
}
op_lan() {
	local n ip
	n=$(next_seq)
	ip=127.1.$((n >> 8 & 255)).$((n & 255))
	set_value lan "$ip" ipmi lan alert set 1 1 ipaddr "$ip"
}
op_dimm() { # insert into CPU1_DIMM_H2 (32 or 64 GiB, alternately) or pull it
	local cur
	cur=$(cat "$led/dimm.acked")
	if [[ $cur == in* ]]; then
		set_value dimm out ctl remove CPU1_DIMM_H2
	else
		local gib=$((32 << ($(next_seq) % 2)))
		set_value dimm "in $gib" ctl insert CPU1_DIMM_H2 --capacity-gib "$gib"
	fi
}
op_ras() { # RAID5 and RankSparing do not fit the default population: each boots AdvancedECC
	local modes=(RAID5 RankSparing AdvancedECC)
	local m=${modes[$(($(next_seq) % 3))]}
	set_value ras "$m" ctl ras mode "$m"
}

writer() {
	local i=0
	while [[ ! -e $work/stop ]]; do
		case $((i % 9)) in
		0 | 5) op_collection acct /redfish/v1/AccountService/Accounts acct_body ;;
		1 | 6) op_collection sub /redfish/v1/EventService/Subscriptions sub_body ;;
		2) op_boot ;;
		3 | 7) op_sel ;;
		4) op_lan ;;
		8) op_dimm ;;
		esac
		# The slower stores once a round each.
		((i % 9 == 4)) && op_ras
		i=$((i + 1))
	done
}

# check_collection KIND LISTPATH FIELD: acknowledged creates present,
# acknowledged deletes absent; limbo resolved to what the server has;
# leftovers of unacknowledged creates deleted so the collection stays small.
check_collection() {
	local kind=$1 path=$2 field=$3 have name uri
	have=$(rf_get "$path?\$expand=." | json_field ".Members[] | [.$field, .\"@odata.id\"] | @tsv" \
		"'\n'.join(m['$field'] + '\t' + m['@odata.id'] for m in d['Members'])") || { fail "$kind: cannot list $path"; return; }
	while read -r name uri; do
		[[ -n $name ]] || continue
		grep -q "^$name"$'\t' <<<"$have" || fail "$kind $name was acknowledged but is gone"
	done <"$led/$kind.live"
	while read -r name; do
		grep -q "^$name"$'\t' <<<"$have" && fail "$kind $name was deleted (acknowledged) but is back"
	done <"$led/$kind.gone"
	while read -r name uri; do
		[[ -n $name ]] || continue
		if grep -q "^$name"$'\t' <<<"$have"; then
			echo "$name $uri" >>"$led/$kind.live"
		fi
	done <"$led/$kind.limbo"
	: >"$led/$kind.limbo"
	while IFS=$'\t' read -r name uri; do
		[[ $name == cs* ]] || continue
		grep -q "^$name " "$led/$kind.live" && continue
		# A create the kill cut off after it landed.
		if [[ $(rf DELETE "$uri") == 2?? ]]; then
			echo "$name" >>"$led/$kind.gone"
			ack "$kind delete $name (left by an interrupted create)"
		fi
	done <<<"$have"
}

# check_value KIND CURRENT: the last acknowledged value, or one sent after it.
check_value() {
	local kind=$1 cur=$2 acked
	acked=$(cat "$led/$kind.acked")
	if [[ -n $acked && $cur != "$acked" ]] && ! grep -qxF -- "$cur" "$led/$kind.tried"; then
		fail "$kind is '$cur'; acknowledged '$acked'$( [[ -s $led/$kind.tried ]] && echo ", then sent without answer: $(paste -sd, "$led/$kind.tried")")"
	fi
	# What the server holds now is durable: the next cycle starts from it.
	echo "$cur" >"$led/$kind.acked"
	: >"$led/$kind.tried"
}

check_sel() {
	local raw=$work/sel.raw have n
	rm -f "$raw"
	if ! ipmi sel writeraw "$raw" >/dev/null 2>&1; then
		fail "SEL: cannot read it back"
		return
	fi
	[[ -e $raw ]] || : >"$raw" # ipmitool writes no file for an empty SEL
	# Keys of our records: generator 41h, sensor type C0h.
	have=$(od -An -v -tu1 -w16 "$raw" | awk '$8 == 65 && $11 == 192 { print $12 * 65536 + $15 * 256 + $16 }' | sort -u)
	while read -r n; do
		[[ -n $n ]] || continue
		grep -qx "$n" <<<"$have" || fail "SEL entry $n was acknowledged but is gone"
	done <"$led/sel"
	# Stay well below the SEL's capacity, so wrapping never drops an entry
	# the check still looks for.
	if (($(stat -c %s "$raw") / 16 > 2000)); then
		ipmi sel clear >/dev/null && : >"$led/sel"
	fi
}

check() {
	local tmp f cur
	tmp=$(find "$state" -name '.*.tmp-*')
	if [[ -n $tmp ]]; then
		echo "crashsoak: cycle $cycle: temporary files left after the restart:" >&2
		echo "$tmp" >&2
		echo "$tmp" >>"$work/tmp.left"
	fi
	while IFS= read -r f; do
		parses "$f" || fail "$f does not parse"
	done < <(find "$state" -name '*.json')
	check_collection acct /redfish/v1/AccountService/Accounts UserName
	check_collection sub /redfish/v1/EventService/Subscriptions Context
	cur=$(rf_get /redfish/v1/Systems/1 | json_field '.Boot.BootSourceOverrideTarget' "d['Boot']['BootSourceOverrideTarget']")
	check_value boot "$cur"
	cur=$(ipmi lan alert print 1 1 | sed -n 's/^Alert IP Address *: *//p')
	check_value lan "$cur"
	cur=$(ctl slots CPU1_DIMM_H2 -o json | json_field 'if .module then "in \(.module.capacity_mib / 1024)" else "out" end' \
		"'in %d' % (d['module']['capacity_mib'] // 1024) if d.get('module') else 'out'")
	check_value dimm "$cur"
	cur=$(ctl ras -o json | json_field '.next_boot // ""' "d.get('next_boot', '')")
	check_value ras "$cur"
	check_sel
}

start_server || { refused=1; cycles=0; }
cycle=0
while ((cycle < cycles)); do
	cycle=$((cycle + 1))
	rm -f "$work/stop"
	writer &
	wpid=$!
	# Kill somewhere between 0.2 and 2.2 s into the writes.
	ms=$((200 + RANDOM % 2000))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 "$spid"
	wait "$spid" 2>/dev/null
	spid=
	# The writer finishes the request in flight (it fails: the server is
	# gone) and records nothing more.
	touch "$work/stop"
	wait "$wpid"
	find "$state" -name '.*.tmp-*' >>"$work/tmp.after_kill"
	if ! start_server; then
		refused=$((refused + 1))
		break
	fi
	check
	if ((cycle % 10 == 0 || cycle == cycles)); then
		echo "crashsoak: $cycle/$cycles cycles, $(wc -l <"$led/acked") acknowledged writes, $lost lost"
	fi
done
if [[ -n $spid ]]; then
	kill "$spid"
	wait "$spid" 2>/dev/null
	spid=
fi

median=-
if ((${#restart_ms[@]} > 0)); then
	median=$(printf '%s\n' "${restart_ms[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
fi
after_kill=$(sort -u "$work/tmp.after_kill" | wc -l)
left=$(sort -u "$work/tmp.left" | wc -l)
echo "crashsoak: $after_kill temporary files found right after a kill; median start to ready ${median} ms over ${#restart_ms[@]} starts"
echo "crashsoak: acknowledged writes by store: $(awk '{ n[$2]++ } END { for (k in n) printf "%s %d, ", k, n[k] }' "$led/acked" | sed 's/, $//')"
writes=$(wc -l <"$led/acked")
echo "crashsoak: $cycle cycles, $writes acknowledged writes, $lost lost, $left temp files left, $refused refused restarts"
((lost == 0 && left == 0 && refused == 0))
