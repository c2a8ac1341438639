package redfish

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

const (
	adminUser = "admin"
	adminPass = "password"
)

var testAccounts = []Account{
	{UserName: adminUser, Password: adminPass, Role: RoleAdministrator},
	{UserName: "reader", Password: "reader-pw", Role: RoleReadOnly},
}

// clocks holds each test platform's manual clock, so insert can step the
// simulated hardware through a hot-add without sleeping.
var clocks sync.Map // *platform.Platform -> *clock.Manual

func newPlatform(t testing.TB) *platform.Platform {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	p, err := platform.New(profile.Default(), platform.Options{Clock: clk})
	if err != nil {
		t.Fatalf("platform.New: %v", err)
	}
	clocks.Store(p, clk)
	t.Cleanup(func() { clocks.Delete(p) })
	return p
}

// settle runs the platform's pending hardware steps to completion.
func settle(t testing.TB, p *platform.Platform) {
	t.Helper()
	c, ok := clocks.Load(p)
	if !ok {
		t.Fatal("platform was not made by newPlatform")
	}
	c.(*clock.Manual).RunUntilIdle(10 * time.Minute)
}

func newHandler(t testing.TB, p Platform) http.Handler {
	t.Helper()
	return newHandlerCfg(t, p, Config{})
}

func insert(t testing.TB, p *platform.Platform, slot string, gib int) {
	t.Helper()
	img, err := spd.Encode(p.NewModuleSpec(slot, spd.Spec{CapacityGiB: gib}))
	if err != nil {
		t.Fatalf("spd.Encode: %v", err)
	}
	// The careful sequence: attention (the slot isolates), seat, then let
	// the SMC, firmware and OS finish the hot-add.
	if err := p.PressAttention(slot); err != nil {
		t.Fatalf("PressAttention %s: %v", slot, err)
	}
	settle(t, p)
	if _, err := p.Insert(slot, img); err != nil {
		t.Fatalf("Insert %s: %v", slot, err)
	}
	settle(t, p)
	if sl, _ := p.Snapshot().Slot(slot); sl.State != platform.StateEnabled {
		t.Fatalf("hot-add of %s ended %s (%s)", slot, sl.State, sl.Reason)
	}
}

type reqOpt func(*http.Request)

func noAuth(r *http.Request) { r.Header.Del("Authorization") }

func basic(user, pass string) reqOpt {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

// from sends the request from addr (httptest's default is 192.0.2.1):
// per-address blocking counts failures by it.
func from(addr string) reqOpt {
	return func(r *http.Request) { r.RemoteAddr = net.JoinHostPort(addr, "40000") }
}

// do sends one request as the administrator unless opts say otherwise.
func do(t testing.TB, h http.Handler, method, target string, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.SetBasicAuth(adminUser, adminPass)
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// getJSON GETs target, insists on 200 and the DSP0266 headers, and decodes.
func getJSON(t testing.TB, h http.Handler, target string, opts ...reqOpt) map[string]any {
	t.Helper()
	w := do(t, h, http.MethodGet, target, opts...)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", target, w.Code, w.Body)
	}
	checkJSONHeaders(t, w)
	return decode(t, w.Body.Bytes())
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func checkJSONHeaders(t testing.TB, w *httptest.ResponseRecorder) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Type":  "application/json; charset=utf-8",
		"OData-Version": "4.0",
		"Cache-Control": "no-cache",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// path walks m along keys (strings for objects, ints for arrays).
func path(t testing.TB, m any, keys ...any) any {
	t.Helper()
	cur := m
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			obj, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not an object: %v", k, cur)
			}
			v, ok := obj[k]
			if !ok {
				t.Fatalf("missing key %q in %v", k, obj)
			}
			cur = v
		case int:
			arr, ok := cur.([]any)
			if !ok || k >= len(arr) {
				t.Fatalf("at [%d]: not an array or too short: %v", k, cur)
			}
			cur = arr[k]
		}
	}
	return cur
}

// checkError asserts a DSP0266 error body carrying the Base message id.
func checkError(t testing.TB, w *httptest.ResponseRecorder, status int, id string, args ...string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	checkJSONHeaders(t, w)
	m := decode(t, w.Body.Bytes())
	full := "Base.1.22.1." + id
	if got := path(t, m, "error", "code"); got != full {
		t.Errorf("error.code = %v, want %s", got, full)
	}
	if msg, _ := path(t, m, "error", "message").(string); msg == "" {
		t.Error("error.message empty")
	}
	info := path(t, m, "error", "@Message.ExtendedInfo", 0).(map[string]any)
	if info["MessageId"] != full || info["@odata.type"] != "#Message.v1_3_0.Message" {
		t.Errorf("ExtendedInfo = %v", info)
	}
	if info["Resolution"] == "" || info["MessageSeverity"] == "" || info["Message"] != path(t, m, "error", "message") {
		t.Errorf("ExtendedInfo incomplete: %v", info)
	}
	gotArgs, _ := info["MessageArgs"].([]any)
	if len(gotArgs) != len(args) {
		t.Fatalf("MessageArgs = %v, want %v", gotArgs, args)
	}
	for i, a := range args {
		if gotArgs[i] != a {
			t.Errorf("MessageArgs[%d] = %v, want %s", i, gotArgs[i], a)
		}
	}
}
