package redfish

import (
	"net/http"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform"
)

// The chassis identify LED is the platform's: PATCH sets it, a refused
// PATCH leaves it, and the change goes out as ResourceEvent.ResourceChanged
// on the Chassis.
func TestChassisIdentifyPatch(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandler(t, p)
	const ch = "/redfish/v1/Chassis/1"
	if c := getJSON(t, h, ch); c["LocationIndicatorActive"] != false || c["IndicatorLED"] != "Off" {
		t.Fatalf("at start: %v", c)
	}
	w := do(t, h, http.MethodPatch, ch, withBody(`{"LocationIndicatorActive": true}`))
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	if c := decode(t, w.Body.Bytes()); c["LocationIndicatorActive"] != true || c["IndicatorLED"] != "Blinking" {
		t.Errorf("after LocationIndicatorActive true: %v", c)
	}
	if err := v.Validate(w.Body.Bytes(), schemacheck.URLPrefix+"Chassis.v1_28_0.json#/definitions/Chassis"); err != nil {
		t.Error(err)
	}
	if got := p.Snapshot().Identify; got.State != platform.IdentifyBlinking || !got.Until.IsZero() {
		t.Errorf("platform LED %+v", got)
	}
	if w := do(t, h, http.MethodPatch, ch, withBody(`{"IndicatorLED": "Lit"}`)); w.Code != http.StatusOK || p.Snapshot().Identify.State != platform.IdentifyLit {
		t.Errorf("IndicatorLED Lit: %d %s", w.Code, w.Body)
	}

	checkError(t, do(t, h, http.MethodPatch, ch, withBody(`{"IndicatorLED": "Strobe"}`)), http.StatusBadRequest, "PropertyValueNotInList", "Strobe", "IndicatorLED")
	checkError(t, do(t, h, http.MethodPatch, ch, withBody(`{"ChassisType": "Blade"}`)), http.StatusBadRequest, "PropertyNotWritable", "ChassisType")
	checkError(t, do(t, h, http.MethodPatch, ch, withBody(`{"LocationIndicatorActive": "yes"}`)), http.StatusBadRequest, "PropertyValueTypeError", "yes", "LocationIndicatorActive")
	checkError(t, do(t, h, http.MethodPatch, ch, basic("reader", "reader-pw"), withBody(`{"LocationIndicatorActive": false}`)),
		http.StatusForbidden, "InsufficientPrivilege")
	if got := p.Snapshot().Identify.State; got != platform.IdentifyLit {
		t.Errorf("refused PATCHes left the LED %s", got)
	}

	waitFor(t, "ResourceChanged on the Chassis", func() bool { return loggedAbout(t, h, resourceEventRegistry+".ResourceChanged", ch) })
}
