package redfish

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

type observed struct {
	method string
	code   int
}

// Config.Observe hears of every answered request with the status sent,
// by both of front's ways (a plain GET and everything else), and not of
// one whose connection a protocol fault dropped.
func TestObserveHearsEveryAnswer(t *testing.T) {
	var (
		mu  sync.Mutex
		got []observed
	)
	obs := func(method string, code int, d time.Duration) {
		if d < 0 {
			t.Errorf("%s %d: negative duration %v", method, code, d)
		}
		mu.Lock()
		got = append(got, observed{method, code})
		mu.Unlock()
	}
	in := netfault.New(netfault.Options{})
	h := newHandlerCfg(t, newPlatform(t), Config{Faults: in, Observe: obs})
	take := func() []observed {
		mu.Lock()
		defer mu.Unlock()
		g := got
		got = nil
		return g
	}
	const member = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"
	for _, c := range []struct {
		method, target string
		opts           []reqOpt
		want           int
	}{
		{http.MethodGet, member, nil, http.StatusOK},
		{http.MethodHead, member, nil, http.StatusOK},
		{http.MethodGet, member + "/", nil, http.StatusOK},
		{http.MethodGet, member, []reqOpt{noAuth}, http.StatusUnauthorized},
		{http.MethodGet, "/redfish/v1/Nothing", nil, http.StatusNotFound},
		{http.MethodDelete, member, nil, http.StatusMethodNotAllowed},
		{http.MethodGet, member, []reqOpt{func(r *http.Request) { r.Header.Set("OData-Version", "5.0") }}, http.StatusPreconditionFailed},
		{http.MethodGet, member, []reqOpt{func(r *http.Request) { r.Header.Set("If-None-Match", "*") }}, http.StatusNotModified},
		{http.MethodPatch, member, []reqOpt{withBody(`{"LocationIndicatorActive":`)}, http.StatusBadRequest},
		{http.MethodPatch, member, []reqOpt{withBody(`{"LocationIndicatorActive":true}`)}, http.StatusOK},
	} {
		w := do(t, h, c.method, c.target, c.opts...)
		if w.Code != c.want {
			t.Fatalf("%s %s: %d, the test expects %d", c.method, c.target, w.Code, c.want)
		}
		if g, want := take(), []observed{{c.method, c.want}}; !slices.Equal(g, want) {
			t.Errorf("%s %s answered %d: observed %v, want %v", c.method, c.target, w.Code, g, want)
		}
	}

	// An armed rule sends even a GET the long way.
	setRule(t, in, "redfish", "error", `{"count":1}`)
	if w := do(t, h, http.MethodGet, member); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("GET under an error rule: %d", w.Code)
	}
	if g, want := take(), []observed{{http.MethodGet, http.StatusServiceUnavailable}}; !slices.Equal(g, want) {
		t.Errorf("injected 503: observed %v, want %v", g, want)
	}

	srv := httptest.NewServer(h)
	defer srv.Close()
	setRule(t, in, "redfish", "drop", `{"count":1}`)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+member, nil)
	req.SetBasicAuth(adminUser, adminPass)
	if resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the drop rule let the request be answered")
	}
	if g := take(); len(g) != 0 {
		t.Errorf("a dropped request was observed: %v", g)
	}
}
