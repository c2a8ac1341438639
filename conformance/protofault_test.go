package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

// Protocol fault injection (platform/netfault) as real clients see it:
// each test sets rules through `bmcemu ctl protocol-fault` and checks
// what the client did and what the BMC counted.

func (e *Emulator) faultStatus() netfault.Status {
	e.t.Helper()
	var st netfault.Status
	if err := json.Unmarshal([]byte(e.mustCtl(e.t, "protocol-fault", "list", "-o", "json")), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func injected(st netfault.Status, s netfault.Surface, k netfault.Kind) uint64 {
	for _, c := range st.Totals {
		if c.Surface == s && c.Kind == k {
			return c.Injected
		}
	}
	return 0
}

// metric reads one sample of /metrics.
func (e *Emulator) metric(t *testing.T, series string) string {
	t.Helper()
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return ""
}

// sushy retries a GET answered 503 (its connector retries server-side
// errors of GETs, after a fixed 3 s: it ignores Retry-After) and gets
// through once the rule's count is spent; a PATCH refused 412 by a stale
// ETag is retried without If-Match; a session expiry storm makes it log
// in again; a dropped connection is its ConnectionError.
func TestProtocolFaultsSushy(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	out := e.sushy(`
import logging
msgs = []
class H(logging.Handler):
    def emit(self, r): msgs.append(r.getMessage())
logging.getLogger("sushy").addHandler(H())
logging.getLogger("sushy").setLevel(logging.DEBUG)
def rule(surface, kind, body):
    r = s._conn._session.put(url + "/emulator/v1/protocol-faults/%s/%s" % (surface, kind), json=body, auth=(user, pw))
    r.raise_for_status()
res = {}
rule("redfish", "error", {"count": 2})
system.refresh()
res["power"] = system.power_state.value
res["retries"] = sum("Got server side error" in m for m in msgs)
token = s._conn._session.headers.get("X-Auth-Token")
rule("redfish", "session-expiry", {})
system.refresh()
res["relogin"] = token != s._conn._session.headers.get("X-Auth-Token")
rule("redfish", "stale-etag", {"count": 1})
system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
system.refresh()
res["boot"] = system.boot.target.value
res["etag_retry"] = sum("Initial request with eTag failed" in m for m in msgs)
rule("redfish", "drop", {"count": 1})
try:
    system.refresh()
    res["dropped"] = "no error"
except sushy.exceptions.ConnectionError as e:
    res["dropped"] = "ConnectionError"
system.refresh()
print(json.dumps(res))
`)
	want := map[string]any{"power": "On", "retries": 2.0, "relogin": true, "boot": "Pxe", "etag_retry": 1.0, "dropped": "ConnectionError"}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("sushy saw %v, want %v", out, want)
	}
	st := e.faultStatus()
	for k, n := range map[netfault.Kind]uint64{netfault.Error: 2, netfault.SessionExpiry: 1, netfault.StaleETag: 1, netfault.Drop: 1} {
		if got := injected(st, netfault.Redfish, k); got != n {
			t.Errorf("redfish/%s injected %d, want %d", k, got, n)
		}
	}
	if v := e.metric(t, `bmcemu_protocol_faults_injected_total{kind="error",member="bmc",surface="redfish"}`); v != "2" {
		t.Errorf("/metrics counts %s injected errors, want 2", v)
	}
}

// redfishtool reports the 5xx; once the rule is spent it succeeds.
func TestProtocolFaultsRedfishtool(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	e.mustCtl(t, "protocol-fault", "set", "redfish", "error", "--status", "500", "--count", "1")
	out, err := e.redfishtool("Systems", "-I", "1", "get")
	if err == nil || !strings.Contains(out, "500") {
		t.Errorf("redfishtool under a 500 rule: %v\n%s", err, out)
	}
	if out, err := e.redfishtool("Systems", "-I", "1", "get"); err != nil || !strings.Contains(out, `"PowerState"`) {
		t.Errorf("redfishtool after the rule was spent: %v\n%s", err, out)
	}
	// A bad rule is refused with the property named, and changes nothing.
	if out, err := e.ctl("protocol-fault", "set", "redfish", "error", "--status", "404"); err == nil || !strings.Contains(out, "status: 404: want a 5xx status") {
		t.Errorf("a 404 error rule: %v\n%s", err, out)
	}
	if out := e.mustCtl(t, "protocol-fault", "list"); !strings.Contains(out, "Rules: none") {
		t.Errorf("after the refused rule:\n%s", out)
	}
	// Slow answers: a client with a deadline shorter than the delay gives up.
	e.mustCtl(t, "protocol-fault", "set", "redfish", "delay", "--delay", "3s", "--count", "1")
	curl := needTool(t, "curl")
	if out, err := run(t, 30*time.Second, curl, "-sS", "--max-time", "1", "-u", "admin:password", e.URL+"/redfish/v1/Systems/1"); err == nil || !strings.Contains(out, "timed out") {
		t.Errorf("curl --max-time 1 under a 3 s delay: %v\n%s", err, out)
	}
}

// The same seed makes the same choices over the same requests; another
// seed makes others.
func TestProtocolFaultsDeterministic(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	codes := func(seed string) string {
		e.mustCtl(t, "protocol-fault", "set", "redfish", "error", "--probability", "0.5", "--seed", seed)
		var b strings.Builder
		for range 24 {
			var v any
			b.WriteString(strconv.Itoa(e.getJSON("/redfish/v1/Chassis/1", &v).StatusCode) + " ")
		}
		e.mustCtl(t, "protocol-fault", "clear", "redfish", "error")
		return b.String()
	}
	a, b, c := codes("11"), codes("11"), codes("12")
	if a != b {
		t.Errorf("seed 11 twice:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 11 and 12 chose alike: %s", a)
	}
	if !strings.Contains(a, "503") || !strings.Contains(a, "200") {
		t.Errorf("probability 0.5 over 24 requests: %s", a)
	}
}

// An in-test push receiver sees events duplicated, reordered and
// dropped, and every EventId the rules touched is the one the BMC
// reported injecting.
func TestProtocolFaultsEventPush(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	var mu sync.Mutex
	var got []int
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Events []struct{ EventID, MessageID string }
		}
		_ = json.NewDecoder(r.Body).Decode(&ev)
		for _, x := range ev.Events {
			if strings.HasSuffix(x.MessageID, ".TestMessage") {
				id, _ := strconv.Atoi(x.EventID)
				mu.Lock()
				got = append(got, id)
				mu.Unlock()
			}
		}
	}))
	defer recv.Close()
	if code := e.send(http.MethodPost, "/redfish/v1/EventService/Subscriptions",
		`{"Destination":"`+recv.URL+`/events","Protocol":"Redfish"}`); code != http.StatusCreated {
		t.Fatalf("subscribe: %d", code)
	}
	e.mustCtl(t, "protocol-fault", "set", "events", "duplicate", "--every", "3")
	e.mustCtl(t, "protocol-fault", "set", "events", "reorder", "--every", "4", "--delay", "500ms")
	e.mustCtl(t, "protocol-fault", "set", "events", "drop", "--every", "7")
	const n = 24
	for range n {
		if code := e.send(http.MethodPost, "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent", `{}`); code != http.StatusNoContent {
			t.Fatalf("SubmitTestEvent: %d", code)
		}
	}
	var log struct {
		Members []struct{ ID, MessageID string }
	}
	e.getJSON("/redfish/v1/Systems/1/LogServices/EventLog/Entries", &log)
	var sent []int
	for _, m := range log.Members {
		if strings.HasSuffix(m.MessageID, ".TestMessage") {
			id, _ := strconv.Atoi(m.ID)
			sent = append(sent, id)
		}
	}
	if len(sent) != n {
		t.Fatalf("the Event log has %d test events, want %d", len(sent), n)
	}
	// What the BMC says it did, by EventId.
	byKind := map[netfault.Kind]map[int]bool{netfault.Duplicate: {}, netfault.Reorder: {}, netfault.Drop: {}}
	idRE := regexp.MustCompile(`^EventId (\d+) `)
	inSent := map[int]bool{}
	for _, id := range sent {
		inSent[id] = true
	}
	want := 0
	deadline := time.Now().Add(30 * time.Second)
	for {
		for k := range byKind {
			byKind[k] = map[int]bool{}
		}
		for _, in := range e.faultStatus().Recent {
			if m := idRE.FindStringSubmatch(in.Subject); m != nil && in.Surface == netfault.Events {
				id, _ := strconv.Atoi(m[1])
				if inSent[id] {
					byKind[in.Kind][id] = true
				}
			}
		}
		want = n - len(byKind[netfault.Drop]) + len(byKind[netfault.Duplicate])
		mu.Lock()
		have := len(got)
		mu.Unlock()
		if have >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != want {
		t.Fatalf("received %d test events, want %d (sent %v, got %v, injected %v)", len(got), want, sent, got, byKind)
	}
	seen := map[int]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range sent {
		switch {
		case byKind[netfault.Drop][id] && seen[id] != 0:
			t.Errorf("EventId %d was reported dropped but arrived", id)
		case byKind[netfault.Duplicate][id] && seen[id] != 2:
			t.Errorf("EventId %d was reported duplicated but arrived %d times", id, seen[id])
		case !byKind[netfault.Drop][id] && !byKind[netfault.Duplicate][id] && seen[id] != 1:
			t.Errorf("EventId %d arrived %d times with no fault reported", id, seen[id])
		}
	}
	// An event arriving after a later one was held back by a reorder.
	late := map[int]bool{}
	maxSeen := 0
	for _, id := range got {
		if id < maxSeen {
			late[id] = true
		}
		maxSeen = max(maxSeen, id)
	}
	if len(late) == 0 || !reflect.DeepEqual(late, byKind[netfault.Reorder]) {
		t.Errorf("arrived late %v, reported reordered %v (order %v)", late, byKind[netfault.Reorder], got)
	}
	if len(byKind[netfault.Duplicate]) == 0 || len(byKind[netfault.Drop]) == 0 {
		t.Errorf("rules struck nothing: %v", byKind)
	}
}

// curl reading the SSE stream sees it end mid-event: its transfer ends
// with data outstanding.
func TestProtocolFaultsSSECut(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	curl := needTool(t, "curl")
	e.mustCtl(t, "protocol-fault", "set", "sse", "cut", "--count", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sSN", "-u", "admin:password", e.URL+"/redfish/v1/EventService/SSE")
	var stderr bytes.Buffer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The stream is a member of Subscriptions once the headers are out.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var subs struct{ Members []any }
		e.getJSON("/redfish/v1/EventService/Subscriptions", &subs)
		if len(subs.Members) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the SSE stream never opened")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := e.send(http.MethodPost, "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent", `{}`); code != http.StatusNoContent {
		t.Fatalf("SubmitTestEvent: %d", code)
	}
	body, _ := io.ReadAll(bufio.NewReader(stdout))
	err = cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "outstanding read data") {
		t.Errorf("curl on a cut stream: %v; stderr %q", err, stderr.String())
	}
	if !strings.HasPrefix(string(body), "id: ") || strings.Contains(string(body), "\n\n") {
		t.Errorf("curl read %q: want half an event", body)
	}
	if got := injected(e.faultStatus(), netfault.SSE, netfault.Cut); got != 1 {
		t.Errorf("sse/cut injected %d, want 1", got)
	}
}

// ipmitool retries lost datagrams and gets through; answers sent twice
// do not confuse it; freeipmi discards answers with an out-of-window
// session sequence number (and retries), and gives up when all are.
func TestProtocolFaultsIPMI(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	e.mustCtl(t, "protocol-fault", "set", "ipmi", "loss", "--every", "4")
	if out := e.mustIPMI("chassis", "status"); !strings.Contains(out, "System Power") {
		t.Errorf("chassis status under loss:\n%s", out)
	}
	if got := injected(e.faultStatus(), netfault.IPMI, netfault.Loss); got == 0 {
		t.Error("no datagram was lost: the retry was not exercised")
	}
	e.mustCtl(t, "protocol-fault", "clear", "ipmi")
	e.mustCtl(t, "protocol-fault", "set", "ipmi", "duplicate")
	if out := e.mustIPMI("mc", "info"); !strings.Contains(out, "Device ID") {
		t.Errorf("mc info with every answer twice:\n%s", out)
	}
	e.mustCtl(t, "protocol-fault", "clear", "ipmi", "duplicate")

	bmcInfo := needTool(t, "bmc-info")
	free := []string{"-D", "LAN_2_0", "-h", fmt.Sprintf("%s:%d", e.IPMIHost, e.IPMIPort), "-u", e.User, "-p", e.Password,
		"-l", "ADMIN", "--session-timeout=4000", "--retransmission-timeout=500"}
	e.mustCtl(t, "protocol-fault", "set", "ipmi", "out-of-window", "--count", "1")
	if out, err := run(t, 60*time.Second, bmcInfo, free...); err != nil || !strings.Contains(out, "Device ID") {
		t.Errorf("bmc-info with one out-of-window answer: %v\n%s", err, out)
	}
	e.mustCtl(t, "protocol-fault", "set", "ipmi", "out-of-window")
	if out, err := run(t, 60*time.Second, bmcInfo, free...); err == nil || !strings.Contains(out, "timeout") {
		t.Errorf("bmc-info with every answer out of window: %v\n%s", err, out)
	}
	e.mustCtl(t, "protocol-fault", "clear", "all")
	if got := injected(e.faultStatus(), netfault.IPMI, netfault.OutOfWindow); got < 2 {
		t.Errorf("ipmi/out-of-window injected %d", got)
	}
	if v := e.metric(t, `bmcemu_protocol_faults_injected_total{kind="loss",member="bmc",surface="ipmi"}`); v == "0" {
		t.Error("/metrics counts no lost datagram")
	}
}

// ipmitoolOnce is ipmitool retrying once, after a second: shorter than
// the resets below.
func (e *Emulator) ipmitoolOnce(args ...string) (string, error) {
	bin := needTool(e.t, "ipmitool")
	base := []string{"-I", "lanplus", "-H", e.IPMIHost, "-p", strconv.Itoa(e.IPMIPort), "-U", e.User, "-P", e.Password, "-N", "1", "-R", "1"}
	return run(e.t, 60*time.Second, bin, append(base, args...)...)
}

// ipmitool mc reset cold resets the BMC, as a real one does: every
// session ends and neither IPMI nor Redfish answers until it is back.
func TestProtocolFaultsColdReset(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral"}})
	if out := e.mustIPMI("mc", "reset", "cold"); !strings.Contains(out, "Sent cold reset command to MC") {
		t.Fatalf("mc reset cold:\n%s", out)
	}
	// ipmitool does not wait for the answer (over LAN it expects none):
	// the command may still be on its way when it exits.
	st := e.faultStatus()
	for deadline := time.Now().Add(10 * time.Second); st.ResettingUntil == nil && time.Now().Before(deadline); st = e.faultStatus() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.ResettingUntil == nil || st.ColdResets["command"] != 1 {
		t.Fatalf("after mc reset cold: resetting %v, resets %v", st.ResettingUntil, st.ColdResets)
	}
	if _, err := http.Get(e.URL + "/redfish/v1/"); err == nil {
		t.Error("Redfish answered during the reset")
	}
	if out, err := e.ipmitoolOnce("mc", "info"); err == nil || !strings.Contains(out, "Unable to establish IPMI v2 / RMCP+ session") {
		t.Errorf("ipmitool during the reset: %v\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for e.faultStatus().ResettingUntil != nil {
		if time.Now().After(deadline) {
			t.Fatal("the reset never ended")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := e.mustIPMI("mc", "info"); !strings.Contains(out, "Device ID") {
		t.Errorf("mc info after the reset:\n%s", out)
	}
	// The injected kind, triggered by the next datagram.
	e.mustCtl(t, "protocol-fault", "set", "ipmi", "cold-reset", "--every", "1", "--count", "1", "--seconds", "30")
	if out, err := e.ipmitoolOnce("mc", "info"); err == nil {
		t.Errorf("ipmitool met no cold reset:\n%s", out)
	}
	if v := e.metric(t, `bmcemu_bmc_cold_resets_total{cause="fault",member="bmc"}`); v != "1" {
		t.Errorf("fault cold resets %s, want 1", v)
	}
}
