package redfish

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// redfishtool runs the DMTF client against srv over plain HTTP (-S Never:
// the test server is plain HTTP on loopback) and decodes its JSON output.
func redfishtool(t *testing.T, bin string, srv *httptest.Server, args ...string) map[string]any {
	t.Helper()
	return runRedfishtool(t, bin, strings.TrimPrefix(srv.URL, "http://"), []string{"-S", "Never"}, args...)
}

// runRedfishtool runs the client against host with the connection flags
// conn; -T bounds each request and the context the whole run. An empty
// output (a PATCH) decodes to nil.
func runRedfishtool(t *testing.T, bin, host string, conn []string, args ...string) map[string]any {
	t.Helper()
	full := append(append([]string{"-r", host}, conn...), "-T", "20", "-u", adminUser, "-p", adminPass)
	full = append(full, args...)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "NO_PROXY=*", "no_proxy=*")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("redfishtool %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, stderr)
	}
	var m map[string]any
	if len(strings.TrimSpace(string(out))) == 0 {
		return m
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("redfishtool %s: output is not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

func redfishtoolBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redfishtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redfishtool not installed (Debian package redfishtool): %v", err)
		}
		t.Skipf("redfishtool not installed (Debian package redfishtool): %v", err)
	}
	return bin
}

func TestRedfishtool(t *testing.T) {
	bin := redfishtoolBinary(t)
	p := newPlatform(t)
	insert(t, p, "CPU0_DIMM_A2", 64)
	srv := httptest.NewServer(newHandler(t, p))
	defer srv.Close()

	root := redfishtool(t, bin, srv, "root")
	if root["@odata.type"] != typeServiceRoot || path(t, root, "Systems", "@odata.id") != "/redfish/v1/Systems" {
		t.Errorf("root = %v", root)
	}

	list := redfishtool(t, bin, srv, "Systems", "list")
	if list["Members@odata.count"] != 1.0 || path(t, list, "Members", 0, "Id") != "1" ||
		path(t, list, "Members", 0, "@odata.id") != "/redfish/v1/Systems/1" {
		t.Errorf("Systems list = %v", list)
	}

	sys := redfishtool(t, bin, srv, "Systems", "-I", "1", "get")
	if sys["SerialNumber"] != "BMCEMU0001" || sys["PowerState"] != "On" ||
		path(t, sys, "MemorySummary", "TotalSystemMemoryGiB") != 576.0 {
		t.Errorf("Systems get = %v", sys)
	}

	// This redfishtool has no Memory sub-command, so read the members raw.
	dimm := redfishtool(t, bin, srv, "raw", "GET", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1")
	if dimm["CapacityMiB"] != 32768.0 || dimm["MemoryDeviceType"] != "DDR5" || dimm["ErrorCorrection"] != "SingleBitECC" ||
		path(t, dimm, "MemoryLocation", "Slot") != 1.0 {
		t.Errorf("CPU0_DIMM_A1 = %v", dimm)
	}
	added := redfishtool(t, bin, srv, "raw", "GET", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2")
	if added["CapacityMiB"] != 65536.0 || added["RankCount"] != 2.0 {
		t.Errorf("CPU0_DIMM_A2 = %v", added)
	}
	empty := redfishtool(t, bin, srv, "raw", "GET", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_B2")
	if path(t, empty, "Status", "State") != "Absent" {
		t.Errorf("CPU0_DIMM_B2 = %v", empty)
	}
}

// TestRedfishtoolSEL reads the SEL log service the way an operator's
// script would: raw GETs of the service and its entries.
func TestRedfishtoolSEL(t *testing.T) {
	bin := redfishtoolBinary(t)
	srv := httptest.NewServer(newHandlerCfg(t, newPlatform(t), Config{SEL: newSEL(t)}))
	defer srv.Close()
	svc := redfishtool(t, bin, srv, "raw", "GET", "/redfish/v1/Systems/1/LogServices/SEL")
	if svc["LogEntryType"] != "SEL" || path(t, svc, "Entries", "@odata.id") != "/redfish/v1/Systems/1/LogServices/SEL/Entries" {
		t.Errorf("SEL = %v", svc)
	}
	entries := redfishtool(t, bin, srv, "raw", "GET", "/redfish/v1/Systems/1/LogServices/SEL/Entries")
	if entries["Members@odata.count"] != 6.0 || path(t, entries, "Members", 0, "MessageId") != "0x6F36FF01" ||
		path(t, entries, "Members", 0, "Message") != "Memory CPU0_DIMM_A2: Presence detected asserted" {
		t.Errorf("SEL entries = %v", entries)
	}
}

// TestRedfishtoolSessionsHTTPS drives redfishtool the way an operator
// would against a BMC: HTTPS always (-S Always) with a login session
// (-A Session), which redfishtool creates by POST to Sessions and ends with
// DELETE.
func TestRedfishtoolSessionsHTTPS(t *testing.T) {
	bin := redfishtoolBinary(t)
	p := newPlatform(t)
	h, srv := newTLSServer(t, p)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	run := func(args ...string) map[string]any {
		t.Helper()
		return runRedfishtool(t, bin, host, []string{"-S", "Always", "-A", "Session"}, args...)
	}
	sys := run("Systems", "-I", "1", "get")
	if path(t, sys, "MemorySummary", "TotalSystemMemoryGiB") != 512.0 {
		t.Errorf("MemorySummary = %v", sys["MemorySummary"])
	}
	dimm := run("raw", "GET", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1")
	if dimm["CapacityMiB"] != 32768.0 {
		t.Errorf("Memory = %v", dimm)
	}
	run("raw", "PATCH", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", "-d", `{"LocationIndicatorActive": true}`)
	if sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1"); !sl.LocationIndicator {
		t.Error("redfishtool PATCH did not light the LED")
	}
	accts := run("AccountService", "Accounts", "list")
	if accts["Members@odata.count"] == nil {
		t.Errorf("Accounts list = %v", accts)
	}
	// Each run logged in and out: no session is left behind.
	if got := getJSON(t, h, "/redfish/v1/SessionService/Sessions"); got["Members@odata.count"] != 0.0 {
		t.Errorf("redfishtool left %v sessions", got["Members@odata.count"])
	}
}

// newTLSServer serves a fresh Redfish service over HTTPS with a generated
// certificate, as the emulator's 8443 listener does.
func newTLSServer(t *testing.T, p Platform) (http.Handler, *httptest.Server) {
	t.Helper()
	h, srv, _ := newTLSServerCert(t, p)
	return h, srv
}

// newTLSServerCert also returns the certificate's PEM file, for clients
// that verify it.
func newTLSServerCert(t *testing.T, p Platform) (http.Handler, *httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	cert, err := LoadOrCreateCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := newHandlerCfg(t, p, Config{SEL: newSEL(t)})
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	return h, srv, filepath.Join(dir, CertFile)
}

// TestRedfishtoolSubscription registers an event listener the way an
// operator's script would, with redfishtool's raw POST, and removes it
// with raw DELETE; the collection, read by redfishtool too, follows.
func TestRedfishtoolSubscription(t *testing.T) {
	bin := redfishtoolBinary(t)
	h := newHandler(t, newPlatform(t))
	srv := httptest.NewServer(h)
	defer srv.Close()
	const coll = "/redfish/v1/EventService/Subscriptions"
	listed := func(id string) bool {
		t.Helper()
		for _, m := range members(t, redfishtool(t, bin, srv, "raw", "GET", coll)) {
			if m.(map[string]any)["@odata.id"] == id {
				return true
			}
		}
		return false
	}

	created := redfishtool(t, bin, srv, "raw", "POST", coll,
		"-d", `{"Destination":"http://127.0.0.1:9/redfishtool","Protocol":"Redfish","Context":"redfishtool"}`)
	id, _ := created["@odata.id"].(string)
	if !strings.HasPrefix(id, coll+"/") || created["Context"] != "redfishtool" || created["Destination"] != "http://127.0.0.1:9/redfishtool" {
		t.Fatalf("raw POST answered %v", created)
	}
	if !listed(id) {
		t.Fatalf("%s is not in %s after the POST", id, coll)
	}

	redfishtool(t, bin, srv, "raw", "DELETE", id)
	if listed(id) {
		t.Errorf("%s is still in %s after the DELETE", id, coll)
	}
	if w := do(t, h, http.MethodGet, id); w.Code != http.StatusNotFound {
		t.Errorf("GET %s after the DELETE: %d", id, w.Code)
	}
}
