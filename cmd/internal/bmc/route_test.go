package bmc

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

func TestRoute(t *testing.T) {
	var got string
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = name })
	}
	h := Route(mark("ctl"), mark("ui"), mark("redfish"))
	for path, want := range map[string]string{
		"/emulator/v1": "ctl", "/emulator/v1/": "ctl", "/emulator/v1/slots/CPU0_DIMM_A1": "ctl",
		"/emulator/v10": "redfish", "/emulator": "redfish", "/redfish/v1/Systems": "redfish", "/": "redfish",
		"/ui": "ui", "/ui/": "ui", "/ui/api/stream": "ui", "/uix": "redfish",
	} {
		got = ""
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		if got != want {
			t.Errorf("%s went to %q, want %q", path, got, want)
		}
	}
}

// Config.Observe hears of each surface's requests under its own name:
// Redfish's from the service itself, the control API's and the web UI's
// through observe's status recorder.
func TestObserveNamesTheSurface(t *testing.T) {
	type seen struct {
		surface, method string
		code            int
	}
	var got []seen
	cfg := Config{Profile: profile.Default(), User: "admin", Password: "password",
		Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.0.1:0",
		Observe: func(surface, method string, code int, _ time.Duration) {
			got = append(got, seen{surface, method, code})
		}}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []struct {
		path string
		want seen
	}{
		{"/redfish/v1", seen{"redfish", http.MethodGet, http.StatusOK}},
		{"/redfish/v1/Systems", seen{"redfish", http.MethodGet, http.StatusUnauthorized}},
		{"/emulator/v1/slots", seen{"control", http.MethodGet, http.StatusUnauthorized}},
		{"/ui/", seen{"ui", http.MethodGet, http.StatusOK}},
	} {
		got = nil
		w := httptest.NewRecorder()
		b.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, c.path, nil))
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("GET %s (answered %d): observed %v, want [%v]", c.path, w.Code, got, c.want)
		}
	}
}
