package conformance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// rasState reads `ctl ras -o json`.
type rasState struct {
	Mode        string `json:"mode"`
	Requested   string `json:"requested"`
	ConfigError string `json:"config_error"`
	RawBytes    uint64 `json:"raw_bytes"`
	UsableBytes uint64 `json:"usable_bytes"`
	Redundancy  string `json:"redundancy"`
	Job         *struct {
		Kind string `json:"kind"`
	} `json:"job"`
	Modules map[string]struct {
		Role   string `json:"role"`
		State  string `json:"state"`
		Errors struct {
			Lifetime struct{ CE, UE uint64 }
		} `json:"errors"`
		MappedOutRanks int `json:"mapped_out_ranks"`
	} `json:"modules"`
}

func (e *Emulator) ras(t *testing.T) rasState {
	t.Helper()
	out, err := e.ctl("ras", "-o", "json")
	if err != nil {
		t.Fatalf("ctl ras: %v\n%s", err, out)
	}
	var s rasState
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("ctl ras JSON: %v\n%s", err, out)
	}
	return s
}

func (e *Emulator) mustCtl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.ctl(args...)
	if err != nil {
		t.Fatalf("ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// waitRAS polls `ctl ras` until ok (copies run on the emulator's clock).
func (e *Emulator) waitRAS(t *testing.T, ok func(rasState) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := e.ras(t)
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("RAS state never settled: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verifyAll runs `ctl ras verify`, which exits non-zero on any lost or
// wrong byte.
func (e *Emulator) verifyAll(t *testing.T, when string) {
	t.Helper()
	out, err := e.ctl("ras", "verify")
	if err != nil || !strings.Contains(out, "0 lost, 0 mismatched") {
		t.Fatalf("%s: ctl ras verify: %v\n%s", when, err, out)
	}
}

// memorySummaryGiB reads Redfish MemorySummary.TotalSystemMemoryGiB.
func (e *Emulator) memorySummaryGiB(t *testing.T) float64 {
	t.Helper()
	var sys struct {
		MemorySummary struct{ TotalSystemMemoryGiB float64 }
	}
	e.getJSON("/redfish/v1/Systems/1", &sys)
	return sys.MemorySummary.TotalSystemMemoryGiB
}

// Mirroring through the binary: a UE fails the pair over with every byte
// intact; the failed side is replaced through the attention button, the
// hardware re-silvers it and redundancy returns.
func TestRASMirroringEndToEnd(t *testing.T) {
	e := start(t, startOpts{args: []string{"--profile", "mirror", "--speed", "50"}})
	s := e.ras(t)
	if s.Mode != "Mirroring" || s.RawBytes != 256<<30 || s.UsableBytes != 128<<30 || s.Redundancy != "FullyRedundant" {
		t.Fatalf("boot RAS state %+v", s)
	}
	if got := e.memorySummaryGiB(t); got != 128 {
		t.Errorf("Redfish TotalSystemMemoryGiB %v, want the net 128", got)
	}
	e.mustCtl(t, "ras", "workload", "--seed", "5", "--pages", "8192")
	e.verifyAll(t, "after write")

	const slot = "CPU0_DIMM_C1"
	e.mustCtl(t, "ras", "inject", slot, "--ue")
	s = e.ras(t)
	if s.Redundancy != "RedundancyLost" || s.Modules[slot].State != "Failed" || s.Modules[slot].Errors.Lifetime.UE != 1 {
		t.Fatalf("after UE: %+v / %+v", s.Redundancy, s.Modules[slot])
	}
	e.verifyAll(t, "after failover")

	e.mustCtl(t, "attention", slot)
	e.waitSlot(slot, "Isolated")
	e.mustCtl(t, "remove", slot)
	out := e.mustCtl(t, "insert", slot, "--capacity-gib", "32", "--ranks", "2", "--wait")
	for _, step := range []string{"MemoryRebuildStarted", "resilver of Mirror1", "MemoryRebuildCompleted"} {
		if !strings.Contains(out, step) {
			t.Errorf("insert --wait lacks %q:\n%s", step, out)
		}
	}
	if strings.Contains(out, "KernelMemoryAdded") {
		t.Errorf("a hot-replace involved the OS:\n%s", out)
	}
	s = e.ras(t)
	if s.Redundancy != "FullyRedundant" || s.Modules[slot].State != "Active" {
		t.Fatalf("after re-silver: %+v / %+v", s.Redundancy, s.Modules[slot])
	}
	e.verifyAll(t, "after re-silver")
	// redfishtool reads the pair's chunk: mirrored, healthy again.
	out, err := e.redfishtool("raw", "GET", "/redfish/v1/Systems/1/MemoryDomains/SystemMemory/MemoryChunks/Mirror1")
	if err != nil {
		t.Fatalf("redfishtool: %v\n%s", err, out)
	}
	var chunk struct {
		IsMirrorEnabled bool
		Status          struct{ State, Health string }
	}
	if err := json.Unmarshal([]byte(out), &chunk); err != nil || !chunk.IsMirrorEnabled || chunk.Status.Health != "OK" {
		t.Fatalf("redfishtool read Mirror1 as %+v (%v):\n%s", chunk, err, out)
	}

	// A module of another size is refused with the reason.
	e.mustCtl(t, "ras", "inject", "CPU0_DIMM_E1", "--ue")
	e.mustCtl(t, "attention", "CPU0_DIMM_E1")
	e.waitSlot("CPU0_DIMM_E1", "Isolated")
	e.mustCtl(t, "remove", "CPU0_DIMM_E1")
	out, err = e.ctl("insert", "CPU0_DIMM_E1", "--capacity-gib", "64", "--ranks", "2", "--wait")
	if err == nil || !strings.Contains(out+err.Error(), "mirror") {
		t.Fatalf("mismatched replacement not refused: %v\n%s", err, out)
	}

	// A module dying in place: the pair fails over, and the operator at
	// the console reads it in the SEL.
	e.mustCtl(t, "ras", "fail", "CPU0_DIMM_H1")
	e.verifyAll(t, "after H1 failed")
	sel := e.mustIPMI("sel", "elist")
	for _, want := range []string{"CPU0_DIMM_H1 | Memory Device Disabled", "Redundancy Lost"} {
		if !strings.Contains(sel, want) {
			t.Errorf("sel elist lacks %q:\n%s", want, sel)
		}
	}
}

// Rank sparing: a CE storm crosses the threshold, the rank is copied to
// the spare and mapped out, and the data survives.
func TestRASSparingEndToEnd(t *testing.T) {
	e := start(t, startOpts{args: []string{"--profile", "sparing", "--speed", "50"}})
	s := e.ras(t)
	if s.Mode != "RankSparing" || s.UsableBytes != 128<<30 || s.Redundancy != "FullyRedundant" {
		t.Fatalf("boot RAS state %+v", s)
	}
	if got := e.memorySummaryGiB(t); got != 128 {
		t.Errorf("Redfish TotalSystemMemoryGiB %v, want the net 128", got)
	}
	e.mustCtl(t, "ras", "workload", "--pages", "8192")
	const slot = "CPU0_DIMM_G1"
	e.mustCtl(t, "ras", "inject", slot, "--ce", "--count", "10")
	out := e.mustCtl(t, "events", "--since", "0")
	if !strings.Contains(out, "crossed the correctable error threshold") || !strings.Contains(out, "spare-copy") {
		t.Fatalf("no threshold / spare copy in the event stream:\n%s", out)
	}
	e.waitRAS(t, func(s rasState) bool { return s.Job == nil && s.Modules[slot].MappedOutRanks == 1 })
	// The same failure as a storm at a rate, on another channel.
	e.mustCtl(t, "ras", "storm", "CPU0_DIMM_A1", "--ce-per-sec", "20")
	e.waitRAS(t, func(s rasState) bool { return s.Job == nil && s.Modules["CPU0_DIMM_A1"].MappedOutRanks == 1 })
	e.mustCtl(t, "ras", "storm", "CPU0_DIMM_A1", "--stop")
	s = e.ras(t)
	if s.Redundancy != "RedundancyDegraded" || s.Modules[slot].Errors.Lifetime.CE != 10 {
		t.Fatalf("after spare copy: %+v / %+v", s.Redundancy, s.Modules[slot])
	}
	e.verifyAll(t, "after spare copy")
}

// RAID5: a cartridge pulled, the array runs degraded with every byte
// reconstructed, the replacement board is rebuilt; losing a second
// cartridge while degraded is a reported, fatal event.
func TestRASRaid5EndToEnd(t *testing.T) {
	e := start(t, startOpts{args: []string{"--profile", "raid5", "--speed", "50"}})
	s := e.ras(t)
	if s.Mode != "RAID5" || s.RawBytes != 160<<30 || s.UsableBytes != 128<<30 {
		t.Fatalf("boot RAS state %+v", s)
	}
	if got := e.memorySummaryGiB(t); got != 128 {
		t.Errorf("Redfish TotalSystemMemoryGiB %v, want the net 128", got)
	}
	e.mustCtl(t, "ras", "workload", "--pages", "8192")
	// Cartridge 1 = memory controller 1 = channels C and D.
	for _, slot := range []string{"CPU0_DIMM_C1", "CPU0_DIMM_D1"} {
		e.mustCtl(t, "attention", slot)
		e.waitSlot(slot, "Isolated")
		e.mustCtl(t, "remove", slot)
	}
	if s = e.ras(t); s.Redundancy != "RedundancyDegraded" {
		t.Fatalf("cartridge out: %+v", s.Redundancy)
	}
	e.verifyAll(t, "degraded")
	e.mustCtl(t, "insert", "CPU0_DIMM_C1", "--capacity-gib", "16", "--ranks", "1", "--wait")
	out := e.mustCtl(t, "insert", "CPU0_DIMM_D1", "--capacity-gib", "16", "--ranks", "1", "--wait")
	if !strings.Contains(out, "rebuild of RAID5 complete") {
		t.Fatalf("no rebuild:\n%s", out)
	}
	if s = e.ras(t); s.Redundancy != "FullyRedundant" {
		t.Fatalf("after rebuild: %+v", s.Redundancy)
	}
	e.verifyAll(t, "rebuilt")

	e.mustCtl(t, "remove", "CPU0_DIMM_A1")
	e.mustCtl(t, "remove", "CPU0_DIMM_E1")
	out = e.mustCtl(t, "events", "--since", "0")
	if !strings.Contains(out, "DATA LOST") || !strings.Contains(out, "array failed") {
		t.Fatalf("second cartridge loss not reported:\n%s", out)
	}
	if s = e.ras(t); s.Redundancy != "NonRedundant" {
		t.Fatalf("after second loss: %+v", s.Redundancy)
	}
	if out, err := e.ctl("ras", "verify"); err == nil {
		t.Fatalf("verify passed after the array failed:\n%s", out)
	}
}
