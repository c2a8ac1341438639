package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/ipblock"
)

// Members bind loopback addresses other than 127.0.0.1 (Linux answers the
// whole of 127.0.0.0/8 without setup) on high ports, each test in its own
// 127.0.N.0/24 so that tests and packages do not collide.
const (
	ipmiPort  = 16230
	httpPort  = 18080
	fleetUser = "fleet"
	fleetPass = "fleet-secret"
	adminUser = "admin"
	adminPass = "password"
)

func testNet(t *testing.T, third int) netip.Addr {
	t.Helper()
	a := netip.AddrFrom4([4]byte{127, 0, byte(third), 1})
	// Skip rather than fail where 127.0.0.0/8 is not all loopback (macOS).
	ln, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String())
	if err != nil {
		t.Skipf("cannot bind %s: %v", a, err)
	}
	ln.Close()
	return a
}

func runtimeLayout(first netip.Addr) Layout {
	return Layout{First: first, IPMIPort: ipmiPort, HTTPPort: httpPort, HTTPSPort: 0,
		User: adminUser, Password: adminPass}
}

// newFleet starts an empty fleet that members added at run time place
// from first; it is closed when the test ends.
func newFleet(t *testing.T, first netip.Addr, stateDir string) *Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// The tests send many wrong credentials from one address on purpose;
	// TestFleetBlocksGuessingAddress checks the blocking itself.
	lenient := ipblock.Settings{Enabled: true, FailCount: ipblock.MaxFailCount, FailWindow: time.Second, Penalty: time.Second}
	f := New(Options{
		StateDir: stateDir, User: fleetUser, Password: fleetPass,
		Clock: clock.Real{Speed: 1000}, Seed: 5, Layout: runtimeLayout(first), IPBlocking: &lenient,
	})
	f.Start(ctx)
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close fleet: %v", err)
		}
		cancel()
	})
	return f
}

// members parses a fleet file's members placed from first.
func members(t *testing.T, first netip.Addr, src string) []Member {
	t.Helper()
	ms, _, err := Parse("test.yaml", []byte("seed: 5\nmembers:\n"+src), runtimeLayout(first))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// addAll adds members and fails the test on any error.
func addAll(t *testing.T, f *Fleet, ms []Member) {
	t.Helper()
	for _, m := range ms {
		if _, err := f.Add(m); err != nil {
			t.Fatalf("add %s: %v", m.Name, err)
		}
	}
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// request does a request with Basic auth (no auth when user is "") and
// returns the status and the body.
func request(t *testing.T, c *http.Client, method, url, user, pass, body string) (int, string, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// systemSerial reads Systems/1's serial number from a member's Redfish.
func systemSerial(t *testing.T, c *http.Client, info control.ServerInfo, user, pass string) string {
	t.Helper()
	if len(info.Redfish) == 0 {
		t.Fatalf("%s serves no Redfish", info.ID)
	}
	code, body, _ := request(t, c, http.MethodGet, info.Redfish[0]+"/Systems/1", user, pass, "")
	if code != http.StatusOK {
		t.Fatalf("%s: GET Systems/1: %d %s", info.ID, code, body)
	}
	var sys struct{ SerialNumber string }
	if err := json.Unmarshal([]byte(body), &sys); err != nil {
		t.Fatal(err)
	}
	return sys.SerialNumber
}

// ipmiDeviceID opens an RMCP+ session with a member's IPMI and reads its
// device ID.
func ipmiDeviceID(t *testing.T, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(port, &p)
	g, err := client.NewClient(host, p, adminUser, adminPass)
	if err != nil {
		t.Fatal(err)
	}
	g.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(types.CipherSuiteID3).WithTimeout(10 * time.Second)
	ctx := context.Background()
	if err := g.Connect(ctx); err != nil {
		t.Fatalf("IPMI %s: %v", addr, err)
	}
	defer func() { _ = g.Close(ctx) }()
	if _, err := g.GetDeviceID(ctx); err != nil {
		t.Fatalf("IPMI %s: Get Device ID: %v", addr, err)
	}
}

// refused says whether nothing listens on a TCP address any more.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	c.Close()
	return false
}

// udpFree says whether a UDP address can be bound (nothing holds it).
func udpFree(t *testing.T, addr string) bool {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestFleetAddRemoveList(t *testing.T) {
	first := testNet(t, 42)
	f := newFleet(t, first, "")
	c := newClient(t)
	ms := members(t, first, "  - {name: bmc, count: 3}\n  - {name: db, profile: mirror}\n")
	addAll(t, f, ms)

	list := f.List()
	if len(list) != 4 || f.Len() != 4 {
		t.Fatalf("List: %d members, Len %d; want 4", len(list), f.Len())
	}
	for i, want := range []struct{ id, profile, ipmi, redfish string }{
		{"bmc-001", "default", "127.0.42.1:16230", "http://127.0.42.1:18080/redfish/v1"},
		{"bmc-002", "default", "127.0.42.2:16230", "http://127.0.42.2:18080/redfish/v1"},
		{"bmc-003", "default", "127.0.42.3:16230", "http://127.0.42.3:18080/redfish/v1"},
		{"db", "mirror", "127.0.42.4:16230", "http://127.0.42.4:18080/redfish/v1"},
	} {
		got := list[i]
		if got.ID != want.id || got.Profile != want.profile || got.IPMI != want.ipmi || len(got.Redfish) != 1 || got.Redfish[0] != want.redfish ||
			got.User != adminUser || got.Password != adminPass || got.Serial != Serial(5, want.id) || got.StateDir != "" {
			t.Errorf("List()[%d] = %+v, want %+v", i, got, want)
		}
		// Each member is its own machine: its serial on its own address.
		if s := systemSerial(t, c, got, adminUser, adminPass); s != Serial(5, want.id) {
			t.Errorf("%s: Redfish serial %q, want %q", want.id, s, Serial(5, want.id))
		}
	}
	ipmiDeviceID(t, list[3].IPMI)

	// Remove by id, and by a member's own address.
	if err := f.Remove("bmc-002", false); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("127.0.42.4", false); err != nil {
		t.Fatalf("remove by address: %v", err)
	}
	if f.Len() != 2 {
		t.Errorf("Len %d after two removals, want 2", f.Len())
	}
	var ids []string
	for _, m := range f.List() {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "bmc-001,bmc-003" {
		t.Errorf("members %v after removing bmc-002 and db", ids)
	}
	// A removed member's endpoints are closed when Remove returns.
	for _, m := range []string{"127.0.42.2", "127.0.42.4"} {
		if !refused(m + ":18080") {
			t.Errorf("%s:18080 still accepts connections", m)
		}
		if !udpFree(t, m+":16230") {
			t.Errorf("udp %s:16230 is still bound", m)
		}
	}
	// The others are untouched.
	systemSerial(t, c, list[0], adminUser, adminPass)
	systemSerial(t, c, list[2], adminUser, adminPass)

	for _, id := range []string{"bmc-002", "nosuch", "127.0.42.99", ""} {
		if err := f.Remove(id, false); !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove(%q): %v, want ErrNotFound", id, err)
		}
	}
	// The name is free again.
	addAll(t, f, ms[1:2])
	systemSerial(t, c, memberInfo(t, f, "bmc-002"), adminUser, adminPass)
}

func memberInfo(t *testing.T, f *Fleet, id string) control.ServerInfo {
	t.Helper()
	for _, m := range f.List() {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no member %s", id)
	return control.ServerInfo{}
}

// TestFleetAddConflicts: a name or an endpoint already a member's is
// refused with ErrExists before anything is bound, and the member holding
// it keeps working.
func TestFleetAddConflicts(t *testing.T) {
	first := testNet(t, 43)
	f := newFleet(t, first, "")
	c := newClient(t)
	a := members(t, first, "  - {name: a}\n")[0]
	info, err := f.Add(a)
	if err != nil {
		t.Fatal(err)
	}

	sameName := a
	sameName.Addr = netip.MustParseAddr("127.0.43.50")
	sameIPMI := members(t, first, "  - {name: b, http_port: 18081}\n")[0]
	sameHTTP := members(t, first, "  - {name: c, ipmi_port: 16231}\n")[0]
	for _, m := range []Member{a, sameName, sameIPMI, sameHTTP} {
		_, err := f.Add(m)
		if !errors.Is(err, ErrExists) {
			t.Errorf("Add(%s on %s:%d/%d): %v, want ErrExists", m.Name, m.Addr, m.IPMIPort, m.HTTPPort, err)
		}
	}
	if f.Len() != 1 {
		t.Errorf("Len %d, want 1", f.Len())
	}
	if s := systemSerial(t, c, info, adminUser, adminPass); s != Serial(5, "a") {
		t.Errorf("a's serial %q after the refusals", s)
	}
	ipmiDeviceID(t, info.IPMI)
	// Nothing of the refused ones was bound.
	if !udpFree(t, "127.0.43.50:16230") || !refused("127.0.43.50:18080") {
		t.Error("a refused member left a socket bound")
	}

	// The same address on other ports is another endpoint.
	other := members(t, first, "  - {name: d, ipmi_port: 16231, http_port: 18081}\n")[0]
	if _, err := f.Add(other); err != nil {
		t.Fatalf("same address, other ports: %v", err)
	}
	// Now the address is shared: it no longer names one member.
	if err := f.Remove("127.0.43.1", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove by a shared address: %v, want ErrNotFound", err)
	}
}

// TestFleetAddressInUse: an endpoint another program holds fails the add
// with a clear message, releases whatever the add had bound, and leaves
// the fleet as it was.
func TestFleetAddressInUse(t *testing.T) {
	first := testNet(t, 44)
	f := newFleet(t, first, "")
	c := newClient(t)
	ms := members(t, first, "  - {name: ok}\n  - {name: tcp-busy}\n  - {name: udp-busy}\n")
	info, err := f.Add(ms[0])
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.44.2:18080")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = f.Add(ms[1])
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, ErrExists) ||
		!strings.Contains(err.Error(), "cannot bind tcp 127.0.44.2:18080: the address is already in use") ||
		!strings.Contains(err.Error(), "tcp-busy") {
		t.Errorf("Add on a bound TCP port: %v", err)
	}
	if !udpFree(t, "127.0.44.2:16230") {
		t.Error("the failed add left its IPMI port bound")
	}

	pc, err := net.ListenPacket("udp", "127.0.44.3:16230")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, err = f.Add(ms[2])
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) ||
		!strings.Contains(err.Error(), "cannot bind udp 127.0.44.3:16230: the address is already in use") {
		t.Errorf("Add on a bound UDP port: %v", err)
	}
	if ln2, err := net.Listen("tcp", "127.0.44.3:18080"); err != nil {
		t.Errorf("the failed add left its HTTP port bound: %v", err)
	} else {
		ln2.Close()
	}

	if f.Len() != 1 || len(f.List()) != 1 {
		t.Errorf("Len %d after failed adds, want 1", f.Len())
	}
	systemSerial(t, c, info, adminUser, adminPass)
	ipmiDeviceID(t, info.IPMI)

	// Once the other program lets go, the same member can be added.
	ln.Close()
	pc.Close()
	addAll(t, f, ms[1:])
	if f.Len() != 3 {
		t.Errorf("Len %d, want 3", f.Len())
	}
}

// TestFleetHandler drives the fleet's control endpoints over HTTP as
// `bmcemu ctl servers` does.
func TestFleetHandler(t *testing.T) {
	first := testNet(t, 45)
	f := newFleet(t, first, "")
	addAll(t, f, members(t, first, "  - {name: bmc, count: 2}\n"))
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	c := newClient(t)
	servers := srv.URL + control.Prefix + "/servers"

	// Membership needs the fleet's credentials.
	for _, cred := range [][2]string{{"", ""}, {fleetUser, "wrong"}, {adminUser, adminPass}, {"", fleetPass}} {
		for _, r := range []struct{ method, url, body string }{
			{http.MethodGet, servers, ""},
			{http.MethodGet, servers + "/bmc-001", ""},
			{http.MethodPost, servers, `{"name": "x"}`},
			{http.MethodDelete, servers + "/bmc-001", ""},
			{http.MethodGet, srv.URL + control.Prefix, ""},
		} {
			code, body, h := request(t, c, r.method, r.url, cred[0], cred[1], r.body)
			if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") || !strings.Contains(body, `"Unauthorized"`) {
				t.Errorf("%s %s as %q/%q: %d %s, want 401", r.method, r.url, cred[0], cred[1], code, body)
			}
		}
	}
	if f.Len() != 2 {
		t.Fatalf("unauthorised requests changed the fleet: %d members", f.Len())
	}

	code, body, _ := request(t, c, http.MethodGet, servers, fleetUser, fleetPass, "")
	var list []control.ServerInfo
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list) != 2 || list[1].ID != "bmc-002" {
		t.Fatalf("GET servers: %d %s", code, body)
	}
	code, body, _ = request(t, c, http.MethodGet, servers+"/bmc-002", fleetUser, fleetPass, "")
	if code != http.StatusOK || !strings.Contains(body, `"ipmi": "127.0.45.2:16230"`) {
		t.Errorf("GET servers/bmc-002: %d %s", code, body)
	}
	code, body, _ = request(t, c, http.MethodGet, servers+"/127.0.45.2", fleetUser, fleetPass, "")
	if code != http.StatusOK || !strings.Contains(body, `"id": "bmc-002"`) {
		t.Errorf("GET servers/127.0.45.2: %d %s", code, body)
	}

	// Add: a fleet file's member entry as JSON.
	code, body, h := request(t, c, http.MethodPost, servers, fleetUser, fleetPass, `{"name": "db", "profile": "mirror", "ras_mode": "AdvancedECC"}`)
	var added control.ServerInfo
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &added) != nil {
		t.Fatalf("POST servers: %d %s", code, body)
	}
	// Without an address it takes the one after the last member's.
	if h.Get("Location") != control.Prefix+"/servers/db" || added.ID != "db" || added.Profile != "mirror" ||
		added.IPMI != "127.0.45.3:16230" || added.Serial != Serial(5, "db") {
		t.Errorf("POST servers: Location %q, %+v", h.Get("Location"), added)
	}
	if s := systemSerial(t, c, added, adminUser, adminPass); s != Serial(5, "db") {
		t.Errorf("db's serial %q", s)
	}
	code, body, _ = request(t, c, http.MethodPost, servers, fleetUser, fleetPass, `{"name": "web", "count": 2, "address": "127.0.45.20"}`)
	if code != http.StatusCreated || !strings.Contains(body, `"id": "web-002"`) || !strings.Contains(body, `127.0.45.21:16230`) {
		t.Errorf("POST servers with count: %d %s", code, body)
	}

	for _, tc := range []struct {
		body       string
		status     int
		code, text string
	}{
		{`{"name": "x"`, http.StatusBadRequest, "MalformedJSON", "want a JSON object"},
		{`["x"]`, http.StatusBadRequest, "MalformedJSON", "want a JSON object"},
		{``, http.StatusBadRequest, "MalformedJSON", ""},
		{`{"name": "x", "adress": "127.0.45.30"}`, http.StatusBadRequest, "InvalidMember", "members[0].adress: field adress not found"},
		{`{"name": "x", "count": "two"}`, http.StatusBadRequest, "InvalidMember", "members[0].count: cannot unmarshal"},
		{`{"name": "x", "ras_mode": "RAID6"}`, http.StatusBadRequest, "InvalidMember", "members[0].ras_mode: must be one of"},
		{`{"name": "X"}`, http.StatusBadRequest, "InvalidMember", "members[0].name"},
		{`{"name": "x", "profile": "nosuch"}`, http.StatusBadRequest, "InvalidMember", `"nosuch": a member added at run time names a built-in profile`},
		// The API never reads a file the client names.
		{`{"name": "x", "profile": "/etc/passwd"}`, http.StatusBadRequest, "InvalidMember", `"/etc/passwd": a member added at run time names a built-in profile`},
		{`{"name": "x", "address": "host.example"}`, http.StatusBadRequest, "InvalidMember", `"host.example" is not an IP address`},
		{`{"name": "bmc-001", "address": "127.0.45.40"}`, http.StatusConflict, "Conflict", `member "bmc-001"`},
		{`{"name": "y", "address": "127.0.45.1"}`, http.StatusConflict, "Conflict", `is member "bmc-001"'s`},
		{`{"name": "z", "address": "127.0.45.1", "ipmi_port": 16239}`, http.StatusConflict, "Conflict", `tcp 127.0.45.1:18080 is member "bmc-001"'s`},
	} {
		code, body, _ := request(t, c, http.MethodPost, servers, fleetUser, fleetPass, tc.body)
		var e control.Error
		if code != tc.status || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.text) {
			t.Errorf("POST %s: %d %s, want %d %s containing %q", tc.body, code, body, tc.status, tc.code, tc.text)
		}
	}
	if n := f.Len(); n != 5 {
		t.Errorf("%d members after the refused adds, want 5", n)
	}
	systemSerial(t, c, list[0], adminUser, adminPass) // bmc-001 unharmed by the conflicts

	// A member's own control API, through the fleet's listener, with the
	// member's accounts.
	for _, id := range []string{"bmc-001", "127.0.45.1"} {
		code, body, _ := request(t, c, http.MethodGet, servers+"/"+id+"/slots", adminUser, adminPass, "")
		var slots []control.Slot
		if code != http.StatusOK || json.Unmarshal([]byte(body), &slots) != nil || len(slots) != 32 {
			t.Errorf("GET servers/%s/slots: %d, %d slots: %.200s", id, code, len(slots), body)
		}
	}
	code, _, _ = request(t, c, http.MethodGet, servers+"/db/slots", adminUser, adminPass, "")
	if code != http.StatusOK {
		t.Errorf("GET servers/db/slots: %d", code)
	}
	if code, body, _ := request(t, c, http.MethodGet, servers+"/bmc-001/slots", fleetUser, fleetPass, ""); code != http.StatusUnauthorized {
		t.Errorf("member API with the fleet's credentials: %d %s, want 401", code, body)
	}
	if code, body, _ := request(t, c, http.MethodGet, servers+"/bmc-001/slots", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("member API without credentials: %d %s, want 401", code, body)
	}
	// Whether an id exists is told to the fleet's operator only.
	for _, u := range []string{servers + "/nosuch/slots", servers + "/127.0.45.99/slots", servers + "/nosuch/system"} {
		if code, body, _ := request(t, c, http.MethodGet, u, fleetUser, fleetPass, ""); code != http.StatusNotFound || !strings.Contains(body, "NotFound") {
			t.Errorf("GET %s: %d %s, want 404", u, code, body)
		}
		if code, body, _ := request(t, c, http.MethodGet, u, adminUser, adminPass, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a member's credentials: %d %s, want 401", u, code, body)
		}
	}
	if code, body, _ := request(t, c, http.MethodGet, servers+"/nosuch", fleetUser, fleetPass, ""); code != http.StatusNotFound {
		t.Errorf("GET servers/nosuch: %d %s, want 404", code, body)
	}
	if code, _, _ := request(t, c, http.MethodGet, srv.URL+"/redfish/v1", adminUser, adminPass, ""); code != http.StatusNotFound {
		t.Errorf("Redfish on the fleet's listener: %d, want 404", code)
	}

	// The control client `bmcemu ctl` uses, against the same endpoints.
	cl := &control.Client{BaseURL: srv.URL, User: fleetUser, Password: fleetPass, HTTP: c}
	ctx := context.Background()
	got, err := cl.Servers(ctx)
	if err != nil || len(got) != 5 {
		t.Errorf("client Servers: %d, %v", len(got), err)
	}
	if _, err := cl.AddServer(ctx, map[string]any{"name": "bmc-001"}); !isAPIError(err, http.StatusConflict) {
		t.Errorf("client AddServer of a duplicate: %v, want 409", err)
	}
	mc := &control.Client{BaseURL: srv.URL, Member: "web-001", User: adminUser, Password: adminPass, HTTP: c}
	if sl, err := mc.Slot(ctx, "CPU0_DIMM_A1"); err != nil || sl.Name != "CPU0_DIMM_A1" {
		t.Errorf("client Slot through the fleet: %+v, %v", sl, err)
	}

	// Remove.
	if err := cl.RemoveServer(ctx, "nosuch", false); !isAPIError(err, http.StatusNotFound) {
		t.Errorf("client RemoveServer(nosuch): %v, want 404", err)
	}
	code, body, _ = request(t, c, http.MethodDelete, servers+"/bmc-002", fleetUser, fleetPass, "")
	if code != http.StatusNoContent {
		t.Errorf("DELETE servers/bmc-002: %d %s", code, body)
	}
	if err := cl.RemoveServer(ctx, "127.0.45.3", true); err != nil {
		t.Errorf("client RemoveServer by address: %v", err)
	}
	for _, id := range []string{"bmc-002", "db"} {
		if code, _, _ := request(t, c, http.MethodGet, servers+"/"+id, fleetUser, fleetPass, ""); code != http.StatusNotFound {
			t.Errorf("GET servers/%s after removal: %d, want 404", id, code)
		}
		if code, _, _ := request(t, c, http.MethodGet, servers+"/"+id+"/slots", fleetUser, fleetPass, ""); code != http.StatusNotFound {
			t.Errorf("GET servers/%s/slots after removal: %d, want 404", id, code)
		}
		if code, _, _ := request(t, c, http.MethodDelete, servers+"/"+id, fleetUser, fleetPass, ""); code != http.StatusNotFound {
			t.Errorf("DELETE servers/%s twice: %d, want 404", id, code)
		}
	}
	if !refused("127.0.45.2:18080") {
		t.Error("bmc-002's Redfish still listens after DELETE")
	}
	if got, _ := cl.Servers(ctx); len(got) != 3 {
		t.Errorf("%d members after two removals, want 3", len(got))
	}
}

func isAPIError(err error, status int) bool {
	var ae *control.APIError
	return errors.As(err, &ae) && ae.Status == status
}

// TestFleetRemoveFreesMemory: a removed member's memory goes back to the
// heap. Members are measured on the way in (each having answered Redfish,
// so what it builds lazily counts), so the test holds however large a
// member is. Removal frees nearly all of a member's share (over 99% when
// written); the bound, 75%, leaves room for allocator noise and still
// catches a fleet that keeps its closed members: closing alone frees about
// 40% (the buffers of the surfaces and stores), the platform and the rest
// stay with the member.
func TestFleetRemoveFreesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 21 members")
	}
	first := testNet(t, 46)
	f := newFleet(t, first, "")
	ms := members(t, first, "  - {name: m, count: 21}\n")
	// One member first, removed again: one-time costs (validator and
	// template caches, pools) are paid before the baseline.
	addAll(t, f, ms[:1])
	if err := f.Remove(ms[0].Name, false); err != nil {
		t.Fatal(err)
	}
	ms = ms[1:]
	c := newClient(t)
	base := heapAfterGC()
	addAll(t, f, ms)
	for _, m := range f.List() {
		systemSerial(t, c, m, adminUser, adminPass)
	}
	c.CloseIdleConnections()
	full := heapAfterGC()
	perMember := (int64(full) - int64(base)) / int64(len(ms))
	t.Logf("heap %d KiB before, %d KiB with %d members: %d KiB a member", base>>10, full>>10, len(ms), perMember>>10)
	if perMember <= 0 {
		t.Fatalf("members take no heap (%d -> %d bytes)", base, full)
	}
	for _, m := range ms[:10] {
		if err := f.Remove(m.Name, false); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(float64(10*perMember) * 0.75)
	// Serving goroutines let go of their member as they wind down, which
	// the scheduler decides: measure until the heap has dropped, for as
	// long as it takes on a loaded machine.
	var dropped int64
	for range 200 {
		dropped = int64(full) - int64(heapAfterGC())
		if dropped >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("removing 10 members freed %d KiB (want at least %d KiB)", dropped>>10, want>>10)
	if dropped < want {
		t.Errorf("removing 10 of %d members freed %d KiB of their %d KiB", len(ms), dropped>>10, 10*perMember>>10)
	}
	if f.Len() != 10 {
		t.Errorf("Len %d, want 10", f.Len())
	}
}

func heapAfterGC() uint64 {
	var st runtime.MemStats
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers let go
	runtime.ReadMemStats(&st)
	return st.HeapAlloc
}

// TestFleetStatePersists: a member's state directory outlives its removal
// unless purged, so a member added again is the same machine.
func TestFleetStatePersists(t *testing.T) {
	first := testNet(t, 47)
	state := t.TempDir()
	f := newFleet(t, first, state)
	c := newClient(t)
	m := members(t, first, "  - {name: keep}\n")[0]
	info, err := f.Add(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(state, "keep")
	if info.StateDir != dir {
		t.Errorf("state directory %q, want %q", info.StateDir, dir)
	}
	accounts := info.Redfish[0] + "/AccountService/Accounts"
	code, body, _ := request(t, c, http.MethodPost, accounts, adminUser, adminPass,
		`{"UserName": "operator1", "Password": "operator-pw1", "RoleId": "Operator"}`)
	if code != http.StatusCreated {
		t.Fatalf("create account: %d %s", code, body)
	}
	systemSerial(t, c, info, "operator1", "operator-pw1")

	if err := f.Remove("keep", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "accounts.json")); err != nil {
		t.Fatalf("state after removal: %v", err)
	}
	c.CloseIdleConnections()
	if info, err = f.Add(m); err != nil {
		t.Fatal(err)
	}
	if s := systemSerial(t, c, info, "operator1", "operator-pw1"); s != Serial(5, "keep") {
		t.Errorf("serial %q after re-adding, want %q", s, Serial(5, "keep"))
	}
	systemSerial(t, c, info, adminUser, adminPass)

	if err := f.Remove("keep", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory after purge: %v", err)
	}
	// Added once more, it is a new machine: the seeded account only.
	c.CloseIdleConnections()
	if info, err = f.Add(m); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := request(t, c, http.MethodGet, info.Redfish[0]+"/Systems/1", "operator1", "operator-pw1", ""); code != http.StatusUnauthorized {
		t.Errorf("purged account still logs in: %d", code)
	}
	systemSerial(t, c, info, adminUser, adminPass)
}

// TestFleetAddGroupAllOrNothing: a group whose third member conflicts
// adds none of the group.
func TestFleetAddGroupAllOrNothing(t *testing.T) {
	first := testNet(t, 48)
	f := newFleet(t, first, "")
	addAll(t, f, members(t, first.Next().Next(), "  - {name: taken}\n")) // on .3
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	c := newClient(t)
	body := fmt.Sprintf(`{"name": "grp", "count": 3, "address": %q}`, first.String())
	code, resp, _ := request(t, c, http.MethodPost, srv.URL+control.Prefix+"/servers", fleetUser, fleetPass, body)
	if code != http.StatusConflict {
		t.Fatalf("POST a group over a taken address: %d %s, want 409", code, resp)
	}
	if n := f.Len(); n != 1 {
		t.Errorf("%d members after the refused group, want 1 (none of the group)", n)
	}
	if !refused(netip.AddrPortFrom(first, httpPort).String()) {
		t.Errorf("grp-001's address still accepts connections")
	}
}

// TestFleetSamePortsShardAdd: members added at run time to a shard on one
// address take ports past the shard's own members, which do not start at
// the layout's first port.
func TestFleetSamePortsShardAdd(t *testing.T) {
	first := testNet(t, 49)
	lay := runtimeLayout(first)
	lay.SamePorts = true
	ms, _, err := Parse("test.yaml", []byte("seed: 5\nmembers:\n  - {name: bmc, count: 4}\n"), lay)
	if err != nil {
		t.Fatal(err)
	}
	shard, err := Shard(ms, 1, 2) // bmc-003, bmc-004 on ports +2, +3
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := New(Options{User: fleetUser, Password: fleetPass, Clock: clock.Real{Speed: 1000}, Seed: 5, Layout: lay})
	f.Start(ctx)
	defer f.Close()
	addAll(t, f, shard)
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	code, resp, _ := request(t, newClient(t), http.MethodPost, srv.URL+control.Prefix+"/servers", fleetUser, fleetPass, `{"name": "extra"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST extra to a shard: %d %s, want 201", code, resp)
	}
	if info := memberInfo(t, f, "extra"); info.IPMI != netip.AddrPortFrom(first, ipmiPort+4).String() {
		t.Errorf("extra's IPMI is %s, want the port after the shard's last member", info.IPMI)
	}
}

// TestFleetBlocksGuessingAddress: wrong fleet credentials from one source
// address block that address (503, Retry-After, even with the right
// password), while the operator's login from another address still works.
func TestFleetBlocksGuessingAddress(t *testing.T) {
	f := New(Options{User: fleetUser, Password: fleetPass, Clock: clock.Real{Speed: 1000}, Seed: 5})
	srv := httptest.NewUnstartedServer(f.Handler())
	ln, err := net.Listen("tcp", "127.0.74.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	from := func(addr string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	}
	attacker, operator := from("127.0.74.2"), from("127.0.74.3")
	servers := srv.URL + control.Prefix + "/servers"
	for i := range ipblock.DefaultSettings().FailCount {
		if code, body, _ := request(t, attacker, http.MethodGet, servers, fleetUser, "guess", ""); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s, want 401", i+1, code, body)
		}
	}
	code, body, h := request(t, attacker, http.MethodGet, servers, fleetUser, fleetPass, "")
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(body, "AddressBlocked") {
		t.Fatalf("blocked address with the right password: %d %s %v", code, body, h)
	}
	if code, body, _ := request(t, operator, http.MethodGet, servers, fleetUser, fleetPass, ""); code != http.StatusOK {
		t.Fatalf("operator from another address: %d %s", code, body)
	}
	// A request without credentials is not a guess.
	for range 10 {
		if code, _, _ := request(t, operator, http.MethodGet, servers, "", "", ""); code != http.StatusUnauthorized {
			t.Fatalf("no credentials: %d", code)
		}
	}
	if code, _, _ := request(t, operator, http.MethodGet, servers, fleetUser, fleetPass, ""); code != http.StatusOK {
		t.Fatalf("requests without credentials blocked the operator: %d", code)
	}
}
