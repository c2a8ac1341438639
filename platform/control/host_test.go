package control

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// The OS views answer only while the OS runs: 409 with the host off, 503
// with Retry-After while it boots; the console log shows the boot.
func TestHostRoutesAndOSGate(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := platform.New(profile.Default(), platform.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Authenticate: func(_ netip.Addr, u, pw string) bool { return u == "admin" && pw == "pw" }}, p)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, Prefix+path, nil)
		r.SetBasicAuth("admin", "pw")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get("/os/meminfo"); w.Code != http.StatusOK {
		t.Fatalf("meminfo while running: %d %s", w.Code, w.Body)
	}
	if err := p.Reset(platform.ResetForceOff); err != nil {
		t.Fatal(err)
	}
	if w := get("/os/blocks"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "HostPoweredOff") {
		t.Errorf("blocks while off: %d %s", w.Code, w.Body)
	}
	if err := p.Reset(platform.ResetOn); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	w := get("/os/dmesg")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "PrimaryProcessorInitializationStarted") {
		t.Errorf("dmesg during POST: %d %v %s", w.Code, w.Header(), w.Body)
	}
	clk.RunUntilIdle(time.Hour)
	if w := get("/os/dmesg"); w.Code != http.StatusOK {
		t.Errorf("dmesg after boot: %d %s", w.Code, w.Body)
	}
	var host Host
	if err := json.Unmarshal(get("/host").Body.Bytes(), &host); err != nil || !host.OSRunning || host.BootTarget != "Hdd" ||
		host.BootMAC != platform.HostNICMAC(p.Profile().System.SerialNumber).String() || len(host.BootOrder) != 4 {
		t.Errorf("host %+v: %v", host, err)
	}
	var pg platform.ConsolePage
	if err := json.Unmarshal(get("/host/console?since=0").Body.Bytes(), &pg); err != nil || len(pg.Lines) < 3 ||
		pg.Lines[2].Text != "BIOS Version "+p.Profile().System.BIOSVersion || !strings.HasSuffix(pg.Partial, "login: ") {
		t.Errorf("console %+v: %v", pg, err)
	}
	var later platform.ConsolePage
	if err := json.Unmarshal(get("/host/console?since="+itoa(pg.LastSeq)).Body.Bytes(), &later); err != nil || len(later.Lines) != 0 {
		t.Errorf("console after the last line: %+v %v", later, err)
	}
	if w := get("/host/console?wait=x"); w.Code != http.StatusBadRequest {
		t.Errorf("bad wait: %d", w.Code)
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }
