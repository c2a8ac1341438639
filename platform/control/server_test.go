package control

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/profile"
)

func newTestServer(t *testing.T) (*platform.Platform, *Client) {
	t.Helper()
	p, err := platform.New(profile.Default(), platform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Authenticate: func(_ netip.Addr, u, pw string) bool { return u == "admin" && pw == "password" }}, p)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return p, &Client{BaseURL: ts.URL, User: "admin", Password: "password"}
}

func TestInsertRemoveRoundTrip(t *testing.T) {
	p, c := newTestServer(t)
	ctx := context.Background()
	slots, err := c.Slots(ctx)
	if err != nil || len(slots) != 32 {
		t.Fatalf("slots: %d %v", len(slots), err)
	}
	sl, err := c.Insert(ctx, "CPU1_DIMM_H2", ModuleRequest{CapacityGiB: 64, PartNumber: "TEST-64G"})
	if err != nil {
		t.Fatal(err)
	}
	if sl.State != "populated" || sl.Module.CapacityMiB != 65536 || sl.Module.PartNumber != "TEST-64G" || sl.Channel != "H" {
		t.Fatalf("inserted slot: %+v", sl)
	}
	if got := p.Snapshot().InstalledMiB(); got != (16*32+64)*1024 {
		t.Fatalf("platform installed MiB %d", got)
	}
	var ae *APIError
	if _, err := c.Insert(ctx, "CPU1_DIMM_H2", ModuleRequest{}); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "SlotOccupied" {
		t.Fatalf("double insert: %v", err)
	}
	if _, err := c.Remove(ctx, "CPU1_DIMM_H2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remove(ctx, "CPU1_DIMM_H2"); !errors.As(err, &ae) || ae.Code != "SlotEmpty" {
		t.Fatalf("double remove: %v", err)
	}
	if _, err := c.Slot(ctx, "CPU9_DIMM_Z9"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("unknown slot: %v", err)
	}
}

func TestBadInputKeepsState(t *testing.T) {
	p, c := newTestServer(t)
	before := p.Snapshot().Generation
	cases := []struct {
		method, path, body string
		status             int
		code               string
		message            string // a part of the message, when it matters
	}{
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"capacity_gib": 64`, 400, "MalformedRequest", ""},
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"capacity_gib": "big"}`, 400, "MalformedRequest", ""},
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"colour": "red"}`, 400, "MalformedRequest", ""},
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"capacity_gib": 64} {}`, 400, "MalformedRequest", ""},
		// Validation failures name the field as the body spells it, not
		// as go-playground's "Key: 'ModuleRequest.CapacityGiB' Error:...".
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"capacity_gib": 99999}`, 400, "InvalidValue", "capacity_gib: must be at most 4096 (got 99999)"},
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"type": "DDR3"}`, 400, "InvalidValue", "type: must be one of [DDR4 DDR5] (got DDR3)"},
		{"PUT", "/slots/CPU0_DIMM_A2/latch", `{}`, 400, "InvalidValue", "open: is required"},
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"capacity_gib": 33}`, 400, "InvalidModule", ""},
		{"PUT", "/slots/CPU0_DIMM_A2/module", `{"spd": "AAAA"}`, 422, "ModuleRejected", ""},
		{"PUT", "/slots/NOPE/module", `{}`, 404, "UnknownSlot", ""},
		{"POST", "/slots/CPU0_DIMM_A2/module", `{}`, 405, "MethodNotAllowed", ""},
		{"GET", "/nothing", ``, 404, "NotFound", ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, c.BaseURL+Prefix+tc.path, strings.NewReader(tc.body))
		req.SetBasicAuth("admin", "password")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e Error
		msg := DecodeStrict(mustRead(t, resp), &e)
		if resp.StatusCode != tc.status || e.Error.Code != tc.code || msg != "" || !strings.Contains(e.Error.Message, tc.message) {
			t.Errorf("%s %s %q: got %d %+v, want %d %s", tc.method, tc.path, tc.body, resp.StatusCode, e, tc.status, tc.code)
		}
	}
	if p.Snapshot().Generation != before {
		t.Fatal("bad requests changed the platform")
	}
	bad := &Client{BaseURL: c.BaseURL, User: "admin", Password: "wrong"}
	var ae *APIError
	if _, err := bad.Slots(context.Background()); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("wrong password: %v", err)
	}
}

func mustRead(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeModuleRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"capacity_gib":64,"type":"DDR5"}`, `{"spd":"AAAA"}`, `{"ranks":-1}`, `[`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req ModuleRequest
		_ = DecodeStrict(b, &req)
	})
}

// TestAuthenticatorSeesTheRemoteAddress: the account store's per-address
// blocking needs the client's address, from this API as from Redfish.
func TestAuthenticatorSeesTheRemoteAddress(t *testing.T) {
	p, err := platform.New(profile.Default(), platform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []netip.Addr
	h, err := New(Config{Authenticate: func(remote netip.Addr, _, _ string) bool {
		got = append(got, remote)
		return false
	}}, p)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, Prefix+"/slots", nil)
	r.RemoteAddr = "[::ffff:127.0.0.2]:40000"
	r.SetBasicAuth("admin", "wrong")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || len(got) != 1 || got[0] != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("status %d, authenticator saw %v; want 401 and 127.0.0.2", w.Code, got)
	}
}

// A request an in-process front end marked Preauthorized needs no Basic
// credentials; the same request unmarked, or with a forged header, does.
func TestPreauthorized(t *testing.T) {
	p, err := platform.New(profile.Default(), platform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Authenticate: func(netip.Addr, string, string) bool { return false }}, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mark bool
		want int
	}{{"unmarked", false, http.StatusUnauthorized}, {"marked", true, http.StatusOK}} {
		r := httptest.NewRequest(http.MethodGet, Prefix+"/slots/CPU0_DIMM_A1", nil)
		r.Header.Set("X-Preauthorized", "true") // nothing a client sends counts
		if tc.mark {
			r = Preauthorized(r)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
}
