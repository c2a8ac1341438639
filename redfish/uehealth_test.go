package redfish

import (
	"net/http"
	"testing"
)

// An uncorrectable error nothing covers (AdvancedECC) leaves the module
// Critical, on its Memory member and in the System's MemorySummary
// rollup, with ResourceStatusChangedCritical about the member, until its
// current period is cleared.
func TestUncorrectableErrorMakesModuleCritical(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{})
	sse := newSSERecorder(t, h)
	const slot = "CPU0_DIMM_A1"
	origin := memoryPath(slot)
	health := func() (string, string) {
		m := getJSON(t, h, origin)
		s := getJSON(t, h, systemPath())
		return path(t, m, "Status", "Health").(string), path(t, s, "MemorySummary", "Status", "HealthRollup").(string)
	}
	if m, roll := health(); m != "OK" || roll != "OK" {
		t.Fatalf("before: member %s rollup %s", m, roll)
	}
	inject(t, p, slot, 0, false, 1)
	sse.expect(t, eventWant{platformID("MemoryUncorrectableError"), origin},
		eventWant{resEventID("ResourceStatusChangedCritical"), origin})
	if m, roll := health(); m != "Critical" || roll != "Critical" {
		t.Fatalf("after a UE: member %s rollup %s", m, roll)
	}
	if sl, _ := p.Snapshot().Slot(slot); sl.RAS == nil || !sl.RAS.UnprotectedUE {
		t.Fatalf("platform RAS after a UE: %+v", sl.RAS)
	}
	if w := do(t, h, http.MethodPost, origin+"/MemoryMetrics/Actions/MemoryMetrics.ClearCurrentPeriod"); w.Code != http.StatusNoContent {
		t.Fatalf("ClearCurrentPeriod: %d %s", w.Code, w.Body)
	}
	if m, roll := health(); m != "OK" || roll != "OK" {
		t.Fatalf("after clearing: member %s rollup %s", m, roll)
	}
}
