package conformance

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fleetMember is one member as `ctl servers list -o json` gives it.
type fleetMember struct {
	ID      string   `json:"id"`
	Serial  string   `json:"serial_number"`
	Address string   `json:"address"`
	IPMI    string   `json:"ipmi"`
	Redfish []string `json:"redfish"`
}

// startFleet runs `bmcemu serve --fleet n`. As root the members take the
// standard ports (UDP 623, HTTPS 443) on 127.0.1.x, as provisioning tools
// expect; otherwise ports above 1023 on 127.0.3.x, since binding 623
// needs root or CAP_NET_BIND_SERVICE.
func startFleet(t *testing.T, n int) (*Emulator, []fleetMember) {
	t.Helper()
	e := &Emulator{t: t, HTTPPort: freeTCPPort(t), User: "admin", Password: "password", exited: make(chan struct{})}
	e.URL = fmt.Sprintf("http://127.0.0.1:%d", e.HTTPPort)
	args := []string{"serve", "--ephemeral", "--fleet", fmt.Sprint(n), "--control-addr", fmt.Sprintf("127.0.0.1:%d", e.HTTPPort), "--log-level", "warn"}
	if os.Geteuid() == 0 {
		args = append(args, "--fleet-addr", "127.0.1.1")
	} else {
		t.Log("not root: members on 127.0.3.x with IPMI on 16230 and HTTPS on 18443 (the standard ports 623/443 need root)")
		args = append(args, "--fleet-addr", "127.0.3.1", "--member-ipmi-port", "16230", "--member-https-port", "18443")
	}
	e.launch(args)
	out, err := e.ctl("servers", "list", "-o", "json")
	if err != nil {
		t.Fatalf("ctl servers list: %v\n%s", err, out)
	}
	var ms []fleetMember
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("ctl servers list -o json: %v\n%s", err, out)
	}
	if len(ms) != n {
		t.Fatalf("ctl servers list: %d members, want %d", len(ms), n)
	}
	return e, ms
}

var insecure = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// rf sends one Redfish request to a member's HTTPS service root's host.
func (m fleetMember) rf(t *testing.T, method, path, user, password string, body any, out any) int {
	t.Helper()
	base := strings.TrimSuffix(m.Redfish[0], "/redfish/v1")
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, password)
	resp, err := insecure.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, base, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s%s: %v\n%s", method, base, path, err, data)
		}
	}
	return resp.StatusCode
}

func (m fleetMember) ipmitool(t *testing.T, args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(m.IPMI)
	base := []string{"-I", "lanplus", "-H", host, "-p", port, "-U", "admin", "-P", "password", "-N", "1", "-R", "3"}
	return run(t, 60*time.Second, needTool(t, "ipmitool"), append(base, args...)...)
}

func (m fleetMember) selCount(t *testing.T) int {
	var coll struct {
		Count int `json:"Members@odata.count"`
	}
	if code := m.rf(t, http.MethodGet, "/redfish/v1/Systems/1/LogServices/SEL/Entries", "admin", "password", nil, &coll); code != 200 {
		t.Fatalf("%s SEL entries: HTTP %d", m.ID, code)
	}
	return coll.Count
}

// TestFleetOfFifty: every member of a 50-member fleet answers ipmitool and
// Redfish at its own address with its own identity; what happens on one
// member (hot-add, SEL clear, an account, a subscription) shows on no
// other; a removed member's address stops answering.
func TestFleetOfFifty(t *testing.T) {
	needTool(t, "ipmitool")
	e, ms := startFleet(t, 50)

	// Every member, in parallel (8 at a time, as a monitoring poller would).
	serials := map[string]string{}
	var mu sync.Mutex
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func(m fleetMember) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := m.ipmitool(t, "mc", "info")
			if err != nil || !strings.Contains(out, "IPMI Version") {
				t.Errorf("%s: ipmitool mc info: %v\n%s", m.ID, err, out)
				return
			}
			out, err = m.ipmitool(t, "sdr", "elist")
			if err != nil || !strings.Contains(out, "CPU0_DIMM_A1") {
				t.Errorf("%s: ipmitool sdr elist: %v\n%s", m.ID, err, out)
				return
			}
			var sys struct{ SerialNumber, UUID string }
			if code := m.rf(t, http.MethodGet, "/redfish/v1/Systems/1", "admin", "password", nil, &sys); code != 200 {
				t.Errorf("%s: GET Systems/1: HTTP %d", m.ID, code)
				return
			}
			if sys.SerialNumber != m.Serial {
				t.Errorf("%s: Redfish serial %q, fleet says %q", m.ID, sys.SerialNumber, m.Serial)
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := serials[sys.UUID]; dup {
				t.Errorf("%s and %s share the system UUID %s", prev, m.ID, sys.UUID)
			}
			serials[sys.UUID] = m.ID
		}(m)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	verifiedByFleetCA(t, e, ms[0], ms[len(ms)-1])

	a, b := ms[2], ms[3]
	selA, selB := a.selCount(t), b.selCount(t)

	// A hot-add on a, driven through the fleet's control listener by id.
	for _, args := range [][]string{{"attention", "CPU0_DIMM_A2"}, {"insert", "CPU0_DIMM_A2", "--capacity-gib", "64", "--wait"}} {
		if out, err := e.ctl(append([]string{"--server-id", a.ID}, args...)...); err != nil {
			t.Fatalf("ctl --server-id %s %v: %v\n%s", a.ID, args, err, out)
		}
	}
	total := func(m fleetMember) float64 {
		var sys struct {
			MemorySummary struct{ TotalSystemMemoryGiB float64 }
		}
		m.rf(t, http.MethodGet, "/redfish/v1/Systems/1", "admin", "password", nil, &sys)
		return sys.MemorySummary.TotalSystemMemoryGiB
	}
	if ta, tb := total(a), total(b); ta != tb+64 {
		t.Errorf("after a 64 GiB hot-add on %s: %s has %v GiB, %s has %v GiB", a.ID, a.ID, ta, b.ID, tb)
	}
	if n := a.selCount(t); n <= selA {
		t.Errorf("%s: hot-add logged nothing in its SEL (%d entries before, %d after)", a.ID, selA, n)
	}
	if n := b.selCount(t); n != selB {
		t.Errorf("%s: SEL went from %d to %d entries after a hot-add on %s", b.ID, selB, n, a.ID)
	}
	// The member's address works as its id too.
	if out, err := e.ctl("--server-id", a.Address, "slots", "CPU0_DIMM_A2", "-o", "json"); err != nil || !strings.Contains(out, `"populated"`) && !strings.Contains(out, `"online"`) {
		t.Errorf("ctl --server-id %s slots: %v\n%s", a.Address, err, out)
	}
	if out, err := e.ctl("--server-id", b.ID, "slots", "CPU0_DIMM_A2", "-o", "json"); err != nil || !strings.Contains(out, `"empty"`) {
		t.Errorf("%s's CPU0_DIMM_A2 should be empty: %v\n%s", b.ID, err, out)
	}

	// SEL clear on a leaves b's SEL alone.
	selB = b.selCount(t)
	if out, err := a.ipmitool(t, "sel", "clear"); err != nil {
		t.Fatalf("%s: ipmitool sel clear: %v\n%s", a.ID, err, out)
	}
	if n := b.selCount(t); n != selB {
		t.Errorf("%s: SEL went from %d to %d entries after a SEL clear on %s", b.ID, selB, n, a.ID)
	}

	// An account made on a is not b's.
	acct := map[string]any{"UserName": "fleetop", "Password": "Fleet-passw0rd", "RoleId": "Operator", "Enabled": true}
	if code := a.rf(t, http.MethodPost, "/redfish/v1/AccountService/Accounts", "admin", "password", acct, nil); code != 201 {
		t.Fatalf("%s: create account: HTTP %d", a.ID, code)
	}
	if code := a.rf(t, http.MethodGet, "/redfish/v1/Systems/1", "fleetop", "Fleet-passw0rd", nil, nil); code != 200 {
		t.Errorf("%s: the new account cannot log in: HTTP %d", a.ID, code)
	}
	if code := b.rf(t, http.MethodGet, "/redfish/v1/Systems/1", "fleetop", "Fleet-passw0rd", nil, nil); code != 401 {
		t.Errorf("%s: an account made on %s logs in here: HTTP %d", b.ID, a.ID, code)
	}

	// A subscription on a is not b's.
	sub := map[string]any{"Destination": "http://127.0.0.1:9/events", "Protocol": "Redfish"}
	if code := a.rf(t, http.MethodPost, "/redfish/v1/EventService/Subscriptions", "admin", "password", sub, nil); code != 201 {
		t.Fatalf("%s: create subscription: HTTP %d", a.ID, code)
	}
	var subs struct {
		Count int `json:"Members@odata.count"`
	}
	b.rf(t, http.MethodGet, "/redfish/v1/EventService/Subscriptions", "admin", "password", nil, &subs)
	if subs.Count != 0 {
		t.Errorf("%s has %d subscriptions after one was made on %s", b.ID, subs.Count, a.ID)
	}

	// Removing a member closes its endpoints; the others go on.
	last := ms[len(ms)-1]
	if out, err := e.ctl("servers", "remove", last.ID); err != nil {
		t.Fatalf("ctl servers remove %s: %v\n%s", last.ID, err, out)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.TrimSuffix(last.Redfish[0], "/redfish/v1"), "https://"), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("%s: HTTPS still accepts connections after removal", last.ID)
	}
	if out, err := last.ipmitool(t, "-R", "1", "mc", "info"); err == nil {
		t.Errorf("%s: ipmitool still answered after removal:\n%s", last.ID, out)
	}
	if out, err := ms[0].ipmitool(t, "mc", "info"); err != nil {
		t.Errorf("%s: ipmitool after another member's removal: %v\n%s", ms[0].ID, err, out)
	}
	if out, err := e.ctl("--server-id", last.ID, "slots"); err == nil || !strings.Contains(out, "no member") {
		t.Errorf("ctl --server-id %s after removal: want a clear error, got %v\n%s", last.ID, err, out)
	}
	if out, _ := e.ctl("servers", "list", "-o", "json"); strings.Count(out, `"id"`) != len(ms)-1 {
		t.Errorf("after removing one member, ctl servers list shows:\n%s", out)
	}
}

// verifiedByFleetCA: a client trusting only the fleet's CA (the path serve
// prints) verifies each member's HTTPS certificate for its own address.
func verifiedByFleetCA(t *testing.T, e *Emulator, ms ...fleetMember) {
	t.Helper()
	var caPath string
	for _, l := range strings.Split(e.Output(), "\n") {
		if rest, ok := strings.CutPrefix(l, "  CA       "); ok {
			caPath, _, _ = strings.Cut(rest, " ")
		}
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatalf("the fleet CA serve names (%q): %v", caPath, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caPath)
	}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, m := range ms {
		resp, err := c.Get(m.Redfish[0])
		if err != nil {
			t.Errorf("%s with the fleet CA only: %v", m.ID, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s service root: HTTP %d", m.ID, resp.StatusCode)
		}
	}
}
