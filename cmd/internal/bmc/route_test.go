package bmc

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
