package redfish

import (
	"net/http"
	"testing"
)

// The render cache must never serve a representation older than the
// snapshot: a change of the slot shows at once, with a new ETag.
func TestRenderCacheFollowsSnapshot(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	target := "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"
	w1 := do(t, h, http.MethodGet, target)
	w2 := do(t, h, http.MethodGet, target)
	if w1.Header().Get("ETag") != w2.Header().Get("ETag") || w1.Body.String() != w2.Body.String() {
		t.Fatal("two reads of an unchanged resource differ")
	}
	if err := p.SetLocationIndicator("CPU0_DIMM_A1", true); err != nil {
		t.Fatal(err)
	}
	w3 := do(t, h, http.MethodGet, target)
	if w3.Header().Get("ETag") == w1.Header().Get("ETag") {
		t.Fatal("ETag did not change with the snapshot")
	}
	if got := path(t, decode(t, w3.Body.Bytes()), "LocationIndicatorActive"); got != true {
		t.Fatalf("LocationIndicatorActive = %v after the platform set it", got)
	}
	// Another member is its own entry.
	other := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_B1")
	if other["Id"] != "CPU0_DIMM_B1" {
		t.Fatalf("Id = %v", other["Id"])
	}
}
