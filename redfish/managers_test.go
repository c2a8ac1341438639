package redfish

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// The Manager's DateTime is the SEL clock: PATCH sets it (and IPMI's Get
// SEL Time reads it back, see conformance), bad values change nothing, and
// the ETag does not tick with the clock.
func TestManagerClock(t *testing.T) {
	v := schemacheck.NewForTest(t)
	l := newSEL(t)
	h := newHandlerCfg(t, newPlatform(t), Config{SEL: l})
	const mgr = "/redfish/v1/Managers/bmc"
	m := getJSON(t, h, mgr)
	if m["DateTime"] != l.Time().Format(time.RFC3339) || m["DateTimeLocalOffset"] != "+00:00" {
		t.Fatalf("Manager clock = %v %v, SEL %s", m["DateTime"], m["DateTimeLocalOffset"], l.Time())
	}

	w := do(t, h, http.MethodPatch, mgr, withBody(`{"DateTime": "2030-05-06T07:08:09+02:00", "DateTimeLocalOffset": "-05:30"}`))
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	want := time.Date(2030, 5, 6, 5, 8, 9, 0, time.UTC)
	if got := l.Time(); got.Sub(want).Abs() > 2*time.Second || l.UTCOffset() != -330 {
		t.Errorf("SEL clock %s offset %d, want %s and -330", got, l.UTCOffset(), want)
	}
	m = decode(t, w.Body.Bytes())
	if m["DateTimeLocalOffset"] != "-05:30" || m["DateTime"] != want.In(time.FixedZone("", -330*60)).Format(time.RFC3339) {
		t.Errorf("PATCH answered %v %v", m["DateTime"], m["DateTimeLocalOffset"])
	}
	if err := v.Validate(w.Body.Bytes(), schemacheck.URLPrefix+"Manager.v1_24_0.json#/definitions/Manager"); err != nil {
		t.Error(err)
	}

	before := l.Time()
	for _, bad := range []struct{ body, id, arg string }{
		{`{"DateTime": "yesterday"}`, "PropertyValueFormatError", "yesterday"},
		{`{"DateTime": "1969-12-31T23:59:59Z"}`, "PropertyValueFormatError", "1969-12-31T23:59:59Z"},
		{`{"DateTimeLocalOffset": "+25:00"}`, "PropertyValueFormatError", "+25:00"},
		{`{"DateTimeLocalOffset": "0530"}`, "PropertyValueFormatError", "0530"},
	} {
		w := do(t, h, http.MethodPatch, mgr, withBody(bad.body))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), bad.id) || !strings.Contains(w.Body.String(), bad.arg) {
			t.Errorf("%s: %d %s", bad.body, w.Code, w.Body)
		}
	}
	checkError(t, do(t, h, http.MethodPatch, mgr, withBody(`{"Model": "x"}`)), http.StatusBadRequest, "PropertyNotWritable", "Model")
	checkError(t, do(t, h, http.MethodPatch, mgr, basic("reader", "reader-pw"), withBody(`{"DateTimeLocalOffset": "+01:00"}`)),
		http.StatusForbidden, "InsufficientPrivilege")
	if l.Time().Sub(before).Abs() > 2*time.Second || l.UTCOffset() != -330 {
		t.Errorf("refused PATCHes moved the clock: %s offset %d", l.Time(), l.UTCOffset())
	}

	// The ETag ignores the ticking clock but follows a changed offset.
	e1 := do(t, h, http.MethodGet, mgr).Header().Get("ETag")
	if w := do(t, h, http.MethodPatch, mgr, withBody(`{"DateTime": "2031-01-01T00:00:00Z"}`)); w.Code != http.StatusOK {
		t.Fatalf("PATCH DateTime: %d %s", w.Code, w.Body)
	}
	if e2 := do(t, h, http.MethodGet, mgr).Header().Get("ETag"); e2 != e1 {
		t.Errorf("ETag moved with the clock: %s -> %s", e1, e2)
	}
	if w := do(t, h, http.MethodPatch, mgr, header("If-Match", e1), withBody(`{"DateTimeLocalOffset": "+01:00"}`)); w.Code != http.StatusOK {
		t.Errorf("PATCH with the ETag read before the clock moved: %d %s", w.Code, w.Body)
	}
	if e3 := do(t, h, http.MethodGet, mgr).Header().Get("ETag"); e3 == e1 {
		t.Error("ETag did not change with the offset")
	}
}
