package redfish

import (
	"net/http"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/spd"
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

func inject(t testing.TB, p interface {
	InjectMemoryError(string, int, bool) error
}, slot string, rank int, correctable bool, n int) {
	t.Helper()
	for range n {
		if err := p.InjectMemoryError(slot, rank, correctable); err != nil {
			t.Fatalf("inject into %s/%d: %v", slot, rank, err)
		}
	}
}

// MemoryMetrics shows the platform's own counters: what was injected, what
// ClearCurrentPeriod cleared (through the platform), and the same numbers
// after a BMC restart because nothing is counted twice.
func TestMemoryMetricsCountPlatformErrors(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{Accounts: operatorAccounts})

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

	// Three CEs are corrected as designed: counted, no alarm. A UE trips
	// its alarm.
	inject(t, p, "CPU0_DIMM_A1", 0, true, 3)
	if cur, life, trips := eccCountsOf(t, h, dimmA1Metrics); cur != [2]float64{3, 0} || life != [2]float64{3, 0} || trips != [2]bool{} {
		t.Fatalf("after 3 CEs: current %v lifetime %v trips %v", cur, life, trips)
	}
	inject(t, p, "CPU0_DIMM_A1", 0, false, 1)
	if cur, life, trips := eccCountsOf(t, h, dimmA1Metrics); cur != [2]float64{3, 1} || life != [2]float64{3, 1} || trips != [2]bool{false, true} {
		t.Fatalf("after a UE: current %v lifetime %v trips %v", cur, life, trips)
	}

	// Clearing is a component write: not for ReadOnly, fine for Operator.
	checkError(t, do(t, h, http.MethodPost, clearPeriod, withBody(`{}`), basic("reader", "reader-pw")),
		http.StatusForbidden, "InsufficientPrivilege")
	checkError(t, do(t, h, http.MethodPost, clearPeriod, withBody(`{"Bogus":1}`)),
		http.StatusBadRequest, "PropertyUnknown", "Bogus")
	if w := do(t, h, http.MethodPost, clearPeriod, basic("operator", "operator-pw")); w.Code != http.StatusNoContent {
		t.Fatalf("ClearCurrentPeriod: %d %s", w.Code, w.Body)
	}
	// The platform itself cleared: its counters are the only ones.
	if sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1"); sl.RAS == nil || sl.RAS.Errors.Current.CE != 0 || sl.RAS.Errors.Lifetime.CE != 3 {
		t.Fatalf("platform counters after clear: %+v", sl.RAS)
	}
	if cur, life, trips := eccCountsOf(t, h, dimmA1Metrics); cur != [2]float64{} || life != [2]float64{3, 1} || trips != [2]bool{} {
		t.Fatalf("after clear: current %v lifetime %v trips %v", cur, life, trips)
	}
	inject(t, p, "CPU0_DIMM_A1", 0, true, 1)
	h.(interface{ Close() error }).Close()

	// A BMC restart shows the same platform counters.
	h2 := newHandlerCfg(t, p, Config{})
	if cur, life, trips := eccCountsOf(t, h2, dimmA1Metrics); cur != [2]float64{1, 0} || life != [2]float64{4, 1} || trips != [2]bool{} {
		t.Fatalf("after restart: current %v lifetime %v trips %v", cur, life, trips)
	}
}

// A CE storm trips the CE alarm at the firmware's threshold (10 within the
// leak window), and again when logging hits its limit after a clear.
func TestMemoryMetricsCEStormTripsTheAlarm(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{})
	inject(t, p, "CPU0_DIMM_A1", 0, true, 9)
	if _, _, trips := eccCountsOf(t, h, dimmA1Metrics); trips[0] {
		t.Fatal("CE alarm below the threshold")
	}
	inject(t, p, "CPU0_DIMM_A1", 0, true, 1)
	if cur, _, trips := eccCountsOf(t, h, dimmA1Metrics); !trips[0] || trips[1] || cur[0] != 10 {
		t.Fatalf("at the threshold: current %v trips %v", cur, trips)
	}
	if w := do(t, h, http.MethodPost, clearPeriod); w.Code != http.StatusNoContent {
		t.Fatalf("ClearCurrentPeriod: %d %s", w.Code, w.Body)
	}
	if _, _, trips := eccCountsOf(t, h, dimmA1Metrics); trips[0] {
		t.Fatal("CE alarm survived the clear")
	}
	// Spread over ranks' buckets is irrelevant to the logging limit: 100
	// logged CEs per module per period (DefaultConfig).
	for i := range 100 {
		inject(t, p, "CPU0_DIMM_A1", 0, true, 1)
		if i < 98 {
			// Keep the bucket below the threshold by letting it leak.
			clockOf(t, p).Advance(7 * time.Minute)
		}
	}
	sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1")
	if sl.RAS == nil || !sl.RAS.LoggingLimited {
		t.Fatalf("logging not limited: %+v", sl.RAS)
	}
	if cur, life, trips := eccCountsOf(t, h, dimmA1Metrics); !trips[0] || cur[0] != 100 || life[0] != 110 {
		t.Fatalf("at the logging limit: current %v lifetime %v trips %v", cur, life, trips)
	}
}

// Counters belong to the module: bus noise from an unisolated insertion
// counts on its neighbour, and a replacement module starts at zero.
func TestMemoryMetricsFollowTheModule(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{})
	sub := p.Subscribe("test", 256)
	defer sub.Close()
	img, err := spd.Encode(p.NewModuleSpec("CPU0_DIMM_A2", spd.Spec{CapacityGiB: 32}))
	if err != nil {
		t.Fatal(err)
	}
	// No attention press: the slot is not isolated, the channel is noisy.
	if _, err := p.Insert("CPU0_DIMM_A2", img); err != nil {
		t.Fatal(err)
	}
	settle(t, p)
	var noise uint64
	for len(sub.C) > 0 {
		if bn, ok := (<-sub.C).Event.(events.BusNoise); ok {
			for _, v := range bn.Victims {
				if v.Slot == "CPU0_DIMM_A1" {
					noise += uint64(v.Correctable)
				}
			}
		}
	}
	if noise == 0 {
		t.Fatal("no bus noise on CPU0_DIMM_A1")
	}
	if cur, life, _ := eccCountsOf(t, h, dimmA1Metrics); cur[0] != float64(noise) || life[0] != float64(noise) {
		t.Fatalf("after noise %d: current %v lifetime %v", noise, cur, life)
	}

	// The hot-added module's errors go with it: pulled after an eject,
	// its replacement starts at zero.
	const a2 = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2/MemoryMetrics"
	inject(t, p, "CPU0_DIMM_A2", 0, true, 2)
	if _, life, _ := eccCountsOf(t, h, a2); life[0] != 2 {
		t.Fatalf("A2 lifetime %v", life)
	}
	if err := p.PressAttention("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	settle(t, p)
	if _, err := p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	settle(t, p)
	insert(t, p, "CPU0_DIMM_A2", 32)
	if cur, life, _ := eccCountsOf(t, h, a2); cur != [2]float64{} || life != [2]float64{} {
		t.Fatalf("replacement inherits: current %v lifetime %v", cur, life)
	}
}
