package redfish

import (
	"net/http"
	"testing"

	"github.com/bmcemu/bmcemu/platform/events"
)

const (
	dimmA1Metrics = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1/MemoryMetrics"
	clearPeriod   = dimmA1Metrics + "/Actions/MemoryMetrics.ClearCurrentPeriod"
)

func eccCountsOf(t *testing.T, h http.Handler, uri string) (cur, life [2]float64, trips [2]bool) {
	t.Helper()
	m := getJSON(t, h, uri)
	cur = [2]float64{path(t, m, "CurrentPeriod", "CorrectableECCErrorCount").(float64), path(t, m, "CurrentPeriod", "UncorrectableECCErrorCount").(float64)}
	life = [2]float64{path(t, m, "LifeTime", "CorrectableECCErrorCount").(float64), path(t, m, "LifeTime", "UncorrectableECCErrorCount").(float64)}
	trips = [2]bool{path(t, m, "HealthData", "AlarmTrips", "CorrectableECCError").(bool), path(t, m, "HealthData", "AlarmTrips", "UncorrectableECCError").(bool)}
	return cur, life, trips
}

func TestMemoryMetricsCountPlatformErrors(t *testing.T) {
	p := newPlatform(t)
	bus := events.NewBus(nil)
	dir := t.TempDir()
	h := newHandlerCfg(t, p, Config{Events: bus, StateDir: dir})

	mem := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1")
	if got := path(t, mem, "Metrics", "@odata.id"); got != dimmA1Metrics {
		t.Fatalf("Metrics = %v", got)
	}
	if _, ok := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2")["Metrics"]; ok {
		t.Error("an empty slot links MemoryMetrics")
	}
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2/MemoryMetrics"),
		http.StatusNotFound, "ResourceNotFound", "MemoryMetrics", "CPU0_DIMM_A2")

	m := getJSON(t, h, dimmA1Metrics)
	if m["@odata.type"] != typeMemoryMetrics || path(t, m, "Actions", "#MemoryMetrics.ClearCurrentPeriod", "target") != clearPeriod {
		t.Fatalf("MemoryMetrics = %v", m)
	}
	if cur, life, trips := eccCountsOf(t, h, dimmA1Metrics); cur != [2]float64{} || life != [2]float64{} || trips != [2]bool{} {
		t.Fatalf("fresh module: current %v lifetime %v trips %v", cur, life, trips)
	}

	now := p.Snapshot().ChangedAt
	noise := events.BusNoise{Slot: "CPU0_DIMM_A2", Victims: []events.NoiseHit{
		{Slot: "CPU0_DIMM_A1", Correctable: 2, Uncorrectable: 1},
		{Slot: "CPU0_DIMM_A2", Correctable: 9}, // empty: nobody to count for
	}}
	bus.Publish(now, noise)
	bus.Publish(now, events.BusNoise{Victims: []events.NoiseHit{{Slot: "CPU0_DIMM_A1", Correctable: 3}}})
	waitFor(t, "the error counts", func() bool {
		_, life, _ := eccCountsOf(t, h, dimmA1Metrics)
		return life[0] == 5
	})
	cur, life, trips := eccCountsOf(t, h, dimmA1Metrics)
	if cur != [2]float64{5, 1} || life != [2]float64{5, 1} || trips != [2]bool{true, true} {
		t.Fatalf("after noise: current %v lifetime %v trips %v", cur, life, trips)
	}

	// Clearing is a component write: not for ReadOnly.
	checkError(t, do(t, h, http.MethodPost, clearPeriod, withBody(`{}`), basic("reader", "reader-pw")),
		http.StatusForbidden, "InsufficientPrivilege")
	checkError(t, do(t, h, http.MethodPost, clearPeriod, withBody(`{"Bogus":1}`)),
		http.StatusBadRequest, "PropertyUnknown", "Bogus")
	if w := do(t, h, http.MethodPost, clearPeriod); w.Code != http.StatusNoContent {
		t.Fatalf("ClearCurrentPeriod: %d %s", w.Code, w.Body)
	}
	cur, life, trips = eccCountsOf(t, h, dimmA1Metrics)
	if cur != [2]float64{} || life != [2]float64{5, 1} || trips != [2]bool{} {
		t.Fatalf("after clear: current %v lifetime %v trips %v", cur, life, trips)
	}
	bus.Publish(now, events.BusNoise{Victims: []events.NoiseHit{{Slot: "CPU0_DIMM_A1", Correctable: 1}}})
	waitFor(t, "the next error", func() bool {
		_, life, _ := eccCountsOf(t, h, dimmA1Metrics)
		return life[0] == 6
	})
	h.(interface{ Close() error }).Close()

	// A restart keeps the counts.
	h2 := newHandlerCfg(t, p, Config{Events: events.NewBus(nil), StateDir: dir})
	cur, life, trips = eccCountsOf(t, h2, dimmA1Metrics)
	if cur != [2]float64{1, 0} || life != [2]float64{6, 1} || trips != [2]bool{true, false} {
		t.Fatalf("after restart: current %v lifetime %v trips %v", cur, life, trips)
	}
}

// Another module in the slot is another part: its counts start at zero.
func TestMemoryMetricsFollowTheModule(t *testing.T) {
	m, err := newMemoryMetrics("", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPlatform(t)
	m.observe(events.BusNoise{Victims: []events.NoiseHit{{Slot: "CPU0_DIMM_A1", Correctable: 4}}}, p.Snapshot())
	sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1")
	if got := m.counts("CPU0_DIMM_A1", sl.Module.SPD.SerialNumber); got.Lifetime.Correctable != 4 {
		t.Fatalf("counts = %+v", got)
	}
	if got := m.counts("CPU0_DIMM_A1", "another-serial"); got.Lifetime != (eccCounts{}) {
		t.Fatalf("another module inherits %+v", got)
	}
}
