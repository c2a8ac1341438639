package redfish

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
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

// FuzzFilter: the $filter parser never panics, and what it accepts it can
// evaluate against any member without panicking.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"Status/State eq 'Enabled'", "(a eq 1 or not b ne true) and c le -2.5e3", "x eq null", "it''s eq 'it''s'",
		"((((a eq 1))))", "not not not a eq 'x'", "a eq", "eq eq eq", "'x' eq 'y'", "a/b/ eq 1", "(a eq 1",
	} {
		f.Add(s)
	}
	member := map[string]any{"a": json.Number("1"), "b": true, "c": "str", "Status": map[string]any{"State": "Enabled"}}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			return
		}
		e.eval(member)
		e.eval(map[string]any{})
	})
}

// FuzzDecodeBody: the PATCH/POST decoder never panics, never reports a
// property both applied and refused, and an accepted property is one the
// target struct has.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"LocationIndicatorActive":true}`, `{"CapacityMiB":1,"Bogus":[1]}`, `{"UserName":"a","Password":"b","RoleId":"Root"}`,
		`{"RoleId":1}`, `{"AccountTypes":["x"]}`, `null`, `[]`, `{"a":`, `{"@odata.etag":"x"}`, `{"Enabled":null}`,
		`{"DeliveryRetryAttempts":21}`, `{"IndicatorLED":"Strobe","LocationIndicatorActive":true}`,
		`{"DateTime":"2030-01-01T00:00:00Z","DateTimeLocalOffset":"+25:00"}`, `{"Boot":{"BootSourceOverrideTarget":"Pxe","X":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range []any{&memoryPatch{}, &accountCreate{}, &accountPatch{}, &sessionLogin{}, &accountServicePatch{}, &subscriptionCreate{},
			&testEvent{}, &eventServicePatch{}, &chassisPatch{}, &managerPatch{}, &systemPatch{}} {
			d, err := decodeBody(body, dst, memoryReadOnly)
			if err != nil {
				if _, ok := asAPIError(err); !ok {
					t.Fatalf("%T: non-API error %v", dst, err)
				}
				continue
			}
			names := jsonNames(reflect.ValueOf(dst).Elem().Interface())
			for k := range d.present {
				if !slices.Contains(names, k) {
					t.Fatalf("%T: accepted unknown %q", dst, k)
				}
				if d.hasProblem(k) {
					t.Fatalf("%T: %q both applied and refused", dst, k)
				}
			}
			for _, p := range d.problems {
				p.body() // renders
			}
			// A property refused by validation is left as if never sent,
			// so no handler can apply it.
			rv := reflect.ValueOf(dst).Elem()
			for i := range rv.NumField() {
				name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
				if !d.present[name] && d.hasProblem(name) && !rv.Field(i).IsZero() {
					t.Fatalf("%T: refused %q kept a value", dst, name)
				}
			}
		}
	})
}

// FuzzPatch sends arbitrary bodies to every writable singleton: never a
// 5xx, always an error body with a 4xx, and a refused PATCH leaves the
// platform as it was.
func FuzzPatch(f *testing.F) {
	targets := []string{"/redfish/v1/Chassis/1", "/redfish/v1/Managers/bmc", "/redfish/v1/EventService",
		"/redfish/v1/Systems/1", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", "/redfish/v1/SessionService"}
	for i, body := range []string{
		`{"LocationIndicatorActive":true}`, `{"DateTimeLocalOffset":"-05:30"}`, `{"DeliveryRetryAttempts":0}`,
		`{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}`, `{"Enabled":"no"}`, `{"SessionTimeout":29}`,
		`{"IndicatorLED":"Lit","Bogus":1}`, `{"DateTime":"2030-13-01T00:00:00Z"}`, `{"Boot":[]}`, `{"a":`, `null`, "",
	} {
		f.Add(uint8(i), body)
	}
	p := newPlatform(f)
	h := newHandlerCfg(f, p, Config{SEL: newSEL(f)})
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		target := targets[int(which)%len(targets)]
		before := p.Snapshot().Generation
		r := httptest.NewRequest(http.MethodPatch, target, strings.NewReader(body))
		r.SetBasicAuth(adminUser, adminPass)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("PATCH %s %q: status %d, body %s", target, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			if !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("PATCH %s %q: status %d without an error body: %q", target, body, w.Code, w.Body)
			}
			if after := p.Snapshot().Generation; after != before {
				t.Fatalf("PATCH %s %q: refused with %d but the platform moved (generation %d -> %d)", target, body, w.Code, before, after)
			}
		}
	})
}
