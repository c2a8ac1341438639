package webui_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// boardState is what a refused action must leave as it was.
type boardState struct {
	populated, attention, faults, latches int
	ce, ue                                uint64
	blocksOnline                          int
}

func stateOf(s *platform.Snapshot) boardState {
	st := boardState{populated: s.Populated(), blocksOnline: s.Kernel.BlocksOnline}
	for _, sl := range s.Slots {
		if sl.AttentionLED != "Off" {
			st.attention++
		}
		if sl.LatchOpen {
			st.latches++
		}
		st.faults += len(sl.Faults)
		if sl.RAS != nil {
			st.ce += sl.RAS.Errors.Lifetime.CE
			st.ue += sl.RAS.Errors.Lifetime.UE
		}
	}
	return st
}

// FuzzReadOnlyRequest sends the UI any method, path and body as a
// ReadOnly session: it never panics, never answers 5xx, refuses every
// write under the API with 403 (or 404/405 for what does not exist), and
// the board stays as it was.
func FuzzReadOnlyRequest(f *testing.F) {
	b, err := bmc.New(bmc.Config{Profile: profile.Default(), User: "admin", Password: "password",
		Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.0.1:0"})
	if err != nil {
		f.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = b.Close() })
	h := b.Handler()
	serve := func(method, path, auth, tok string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.SetBasicAuth("admin", "password")
		}
		if tok != "" {
			req.Header.Set("X-Auth-Token", tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := serve(http.MethodPost, "/redfish/v1/AccountService/Accounts", "admin", "",
		[]byte(`{"UserName":"viewer","Password":"Viewer-passw0rd","RoleId":"ReadOnly","Enabled":true}`)); rec.Code != http.StatusCreated {
		f.Fatalf("create viewer: %d %s", rec.Code, rec.Body)
	}
	rec := serve(http.MethodPost, "/redfish/v1/SessionService/Sessions", "", "", []byte(`{"UserName":"viewer","Password":"Viewer-passw0rd"}`))
	tok := rec.Header().Get("X-Auth-Token")
	if rec.Code != http.StatusCreated || tok == "" {
		f.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	before := stateOf(b.Platform().Snapshot())

	f.Add(uint8(1), "api/emulator/v1/slots/CPU0_DIMM_A2/attention", []byte(nil))
	f.Add(uint8(2), "api/emulator/v1/slots/CPU0_DIMM_A2/module", []byte(`{"capacity_gib":64}`))
	f.Add(uint8(3), "api/emulator/v1/slots/CPU0_DIMM_A1/module", []byte(nil))
	f.Add(uint8(2), "api/emulator/v1/slots/CPU0_DIMM_A1/faults/calibration", []byte(nil))
	f.Add(uint8(1), "api/emulator/v1/ras/errors", []byte(`{"slot":"CPU0_DIMM_A1","rank":0,"kind":"ue"}`))
	f.Add(uint8(0), "api/emulator/v1/slots", []byte(nil))
	f.Add(uint8(4), "api/emulator/v1/slots/CPU0_DIMM_A1/latch", []byte(`{"open":true}`))
	f.Add(uint8(1), "api/emulator/v1/../../emulator/v1/slots/CPU0_DIMM_A2/attention", []byte(nil))
	f.Add(uint8(1), "api/emulator/v1/%2e%2e/slots/CPU0_DIMM_A2/attention", []byte(nil))
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions}
	f.Fuzz(func(t *testing.T, m uint8, path string, body []byte) {
		method := methods[int(m)%len(methods)]
		if strings.HasSuffix(path, "stream") || strings.Contains(path, "stream?") {
			return // a stream never ends on its own
		}
		req, err := http.NewRequest(method, "http://bmc/ui/"+path, bytes.NewReader(body))
		if err != nil || req.URL.Path == "" {
			return
		}
		if p := req.URL.Path; strings.HasSuffix(p, "/stream") || strings.Contains(p, "/events") || strings.Contains(p, "/console") {
			return // long polls: not what this target is about
		}
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, req.URL, rec.Code, rec.Body)
		}
		write := method != http.MethodGet && method != http.MethodHead
		if write && strings.HasPrefix(req.URL.Path, "/ui/api/") && rec.Code < 400 {
			t.Fatalf("ReadOnly %s %s: %d %s, want a refusal", method, req.URL, rec.Code, rec.Body)
		}
		if after := stateOf(b.Platform().Snapshot()); after != before {
			t.Fatalf("ReadOnly %s %s changed the board: %+v -> %+v", method, req.URL, before, after)
		}
	})
}
