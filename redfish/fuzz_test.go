package redfish

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRequest throws arbitrary methods, paths and headers at the service:
// it must never panic and never answer 5xx, except 501 for a '$' query
// parameter it does not implement (DSP0266 clause 7.3).
func FuzzRequest(f *testing.F) {
	seeds := []struct{ method, target, auth, accept string }{
		{"GET", "/redfish/v1/", "", ""},
		{"GET", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", "admin:password", "application/json"},
		{"HEAD", "/redfish/v1/Systems/1", "admin:password", ""},
		{"POST", "/redfish/v1/Systems", "admin:password", ""},
		{"DELETE", "/redfish/v1/Managers/bmc/", "admin:wrong", ""},
		{"GET", "/redfish/v1/Systems/1/Memory/%2e%2e/%2e%2e", "admin:password", ""},
		{"GET", "/redfish/v1/Systems//1//", "admin:password", ""},
		{"GET", "/redfish/v1/Systems?$expand=.($levels=1)", "admin:password", ""},
		{"PATCH", "/redfish/v1/$metadata", "", "*/*"},
		{"OPTIONS", "*", "", ""},
		{"G\x00T", "/redfish\xff", ":", "\n"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.auth, s.accept)
	}
	p := newPlatform(f)
	h := newHandler(f, p)
	f.Fuzz(func(t *testing.T, method, target, auth, accept string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n\x00") {
			// net/http would reject the request before a handler sees it.
			return
		}
		r := &http.Request{Method: method, URL: u, RequestURI: target, Header: http.Header{}, Host: "bmc", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		r = r.WithContext(t.Context())
		if user, pass, ok := strings.Cut(auth, ":"); ok {
			r.SetBasicAuth(user, pass)
		}
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 && !(w.Code == http.StatusNotImplemented && strings.Contains(u.RawQuery, "$")) {
			t.Fatalf("%s %q: status %d, body %s", method, target, w.Code, w.Body)
		}
		if w.Code >= 400 && method != http.MethodHead && !strings.Contains(w.Body.String(), `"error"`) {
			t.Fatalf("%s %q: status %d without an error body: %q", method, target, w.Code, w.Body)
		}
	})
}
