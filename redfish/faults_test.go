package redfish

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

func setRule(t testing.TB, in *netfault.Injector, s, k, body string) {
	t.Helper()
	r, err := netfault.ParseRule(s, k, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Set(r); err != nil {
		t.Fatal(err)
	}
}

func TestFaultErrorAndStaleETag(t *testing.T) {
	in := netfault.New(netfault.Options{})
	h := newHandlerCfg(t, newPlatform(t), Config{Faults: in})
	const target = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"

	setRule(t, in, "redfish", "error", `{"count":1,"retry_after_seconds":7}`)
	w := do(t, h, http.MethodGet, target)
	checkError(t, w, http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable", "7")
	if w.Header().Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	current := do(t, h, http.MethodGet, target).Header().Get("ETag")

	setRule(t, in, "redfish", "stale-etag", `{"count":1}`)
	if got := do(t, h, http.MethodGet, target).Header().Get("ETag"); got == current || got == "" {
		t.Errorf("stale ETag %q, current %q", got, current)
	}
	if got := do(t, h, http.MethodGet, target).Header().Get("ETag"); got != current {
		t.Errorf("after the rule was spent: ETag %q, want %q", got, current)
	}
	setRule(t, in, "redfish", "stale-etag", `{"count":1}`)
	patch := func() *httptest.ResponseRecorder {
		return do(t, h, http.MethodPatch, target, withBody(`{"LocationIndicatorActive":true}`), func(r *http.Request) {
			r.Header.Set("If-Match", current)
		})
	}
	checkError(t, patch(), http.StatusPreconditionFailed, "PreconditionFailed")
	if w := patch(); w.Code != http.StatusOK {
		t.Errorf("PATCH with the current ETag once the rule was spent: %d %s", w.Code, w.Body)
	}
}

func TestFaultDropAndColdReset(t *testing.T) {
	in := netfault.New(netfault.Options{})
	srv := httptest.NewServer(newHandlerCfg(t, newPlatform(t), Config{Faults: in}))
	defer srv.Close()
	get := func() error {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/redfish/v1/Systems/1", nil)
		req.SetBasicAuth(adminUser, adminPass)
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	setRule(t, in, "redfish", "drop", `{"count":1}`)
	if err := get(); err == nil {
		t.Error("a dropped request was answered")
	}
	if err := get(); err != nil {
		t.Errorf("after the drop: %v", err)
	}
	if err := in.StartReset(time.Hour, "command"); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil {
		t.Error("answered during a cold reset")
	}
}

func TestFaultSessionExpiry(t *testing.T) {
	in := netfault.New(netfault.Options{})
	h := newHandlerCfg(t, newPlatform(t), Config{Faults: in})
	login := func() string {
		w := do(t, h, http.MethodPost, "/redfish/v1/SessionService/Sessions", withBody(`{"UserName":"admin","Password":"password"}`))
		if w.Code != http.StatusCreated {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
		return w.Header().Get("X-Auth-Token")
	}
	withToken := func(tok string) reqOpt {
		return func(r *http.Request) { r.Header.Del("Authorization"); r.Header.Set("X-Auth-Token", tok) }
	}
	a, b := login(), login()
	setRule(t, in, "redfish", "session-expiry", ``) // an action: every session ends now
	for _, tok := range []string{a, b} {
		checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1", withToken(tok)), http.StatusUnauthorized, "NoValidSession")
	}
	c := login()
	setRule(t, in, "redfish", "session-expiry", `{"every":2}`)
	if w := do(t, h, http.MethodGet, "/redfish/v1/Systems/1", withToken(c)); w.Code != http.StatusOK {
		t.Errorf("first request under every 2: %d", w.Code)
	}
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1", withToken(c)), http.StatusUnauthorized, "NoValidSession")
}

// The push order under each events rule, with the next event releasing
// a held one.
func TestFaultEventPushOrder(t *testing.T) {
	in := netfault.New(netfault.Options{})
	m := &subscriptions{faults: in}
	s := &subscription{ID: "1", stop: make(chan struct{})}
	ev := func(id uint64) rfEvent { return rfEvent{ID: id} }
	ids := func(evs []rfEvent) []uint64 {
		out := []uint64{}
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	setRule(t, in, "events", "reorder", `{"every":2}`)
	setRule(t, in, "events", "duplicate", `{"every":3}`)
	setRule(t, in, "events", "drop", `{"every":5}`)
	var held []rfEvent
	var release <-chan time.Time
	var got []uint64
	for id := uint64(1); id <= 7; id++ {
		var out []rfEvent
		out, held, release = m.faultEvent(s, ev(id), held, release)
		got = append(got, ids(out)...)
	}
	_ = release
	// 1 out; 2 held (reorder's 2nd look); 3 out, then 2 (no reorder
	// look while one is held); 4 out twice (duplicate's 3rd look: 1, 3,
	// 4); 5 dropped (drop's 5th); 6 held (reorder's 4th look); 7 out,
	// then 6.
	if want := []uint64{1, 3, 2, 4, 4, 7, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("pushed %v, want %v (held %v)", got, want, ids(held))
	}
}

// BenchmarkFaultsOverhead is what the fault middleware costs a Memory GET
// (the baseline: no injector) with an injector and no rule, and with a
// rule live on another surface (every Redfish kind is then consulted).
func BenchmarkFaultsOverhead(b *testing.B) {
	p := newPlatform(b)
	const target = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"
	idle := netfault.New(netfault.Options{})
	busy := netfault.New(netfault.Options{})
	r, _ := netfault.ParseRule("ipmi", "loss", []byte(`{"probability":0.1}`))
	if _, err := busy.Set(r); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    Faults
	}{{"baseline", nil}, {"idle", idle}, {"ruleElsewhere", busy}} {
		h := newHandlerCfg(b, p, Config{Faults: c.f})
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.SetBasicAuth(adminUser, adminPass)
			benchServe(b, h, req)
		})
	}
}
