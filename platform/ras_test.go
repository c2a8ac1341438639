package platform

import (
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// newRASRig boots a built-in RAS profile on a manual clock.
func newRASRig(t *testing.T, name string, mut func(*profile.Profile)) *rig {
	t.Helper()
	return bootRig(t, builtin(t, name, mut), nil)
}

// verify runs the read-back and fails on any loss or corruption.
func (r *rig) verify(when string) {
	r.t.Helper()
	vs, err := r.p.VerifyWorkload()
	r.must(err)
	if !vs.OK() {
		r.t.Fatalf("%s: verify %+v", when, vs)
	}
}

func (r *rig) redundancy() string { return r.p.Snapshot().RAS.Redundancy }

func TestRASCapacityPerMode(t *testing.T) {
	t.Parallel()
	const gib = uint64(1) << 30
	for _, tc := range []struct {
		profile      string
		mode         string
		raw, usable  uint64
		redundancy   string
		sets         int
		wantSnapshot func(*Snapshot) bool
	}{
		{"default", "AdvancedECC", 512 * gib, 512 * gib, "", 0, nil},
		{"mirror", "Mirroring", 256 * gib, 128 * gib, events.FullyRedundant, 4, nil},
		{"sparing", "RankSparing", 256 * gib, 128 * gib, events.FullyRedundant, 8, nil},
		{"raid5", "RAID5", 160 * gib, 128 * gib, events.FullyRedundant, 1, nil},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			r := newRASRig(t, tc.profile, nil)
			s := r.p.Snapshot().RAS
			if s.Mode != tc.mode || s.ConfigError != "" || s.RawBytes != tc.raw || s.UsableBytes != tc.usable ||
				s.Redundancy != tc.redundancy || len(s.Sets) != tc.sets {
				t.Fatalf("RAS %+v", s)
			}
			// The OS was given exactly the usable capacity.
			var ram uint64
			for _, b := range r.p.Layout().Boot {
				for _, rg := range b {
					ram += rg.Length
				}
			}
			if ram != tc.usable {
				t.Fatalf("boot RAM %d GiB, usable %d GiB", ram/gib, tc.usable/gib)
			}
			// Less the kernel's own reservations (about 16 MiB).
			if k := r.p.Snapshot().Kernel; k.OnlineBytes > tc.usable || tc.usable-k.OnlineBytes > 32<<20 {
				t.Fatalf("kernel online %d, usable %d", k.OnlineBytes, tc.usable)
			}
			r.invariants()
		})
	}
}

func TestRASConfigErrorFallsBackToECC(t *testing.T) {
	t.Parallel()
	// Mirroring with channel B empty cannot pair A with B.
	r := newRASRig(t, "mirror", func(p *profile.Profile) {
		p.Modules[0].Slots = []string{"CPU0_DIMM_A1", "CPU0_DIMM_C1", "CPU0_DIMM_D1"}
	})
	s := r.p.Snapshot().RAS
	if s.Requested != "Mirroring" || s.Mode != "AdvancedECC" || !strings.Contains(s.ConfigError, "not populated identically") ||
		s.UsableBytes != s.RawBytes {
		t.Fatalf("RAS %+v", s)
	}
	e, ok := find[events.RASModeApplied](r.p.EventsSince(t.Context(), 0, 10, 0).Records)
	if !ok || e.ConfigError == "" {
		t.Fatalf("boot event %+v", e)
	}
}

func TestRASMirrorFailoverAndResilver(t *testing.T) {
	t.Parallel()
	r := newRASRig(t, "mirror", nil)
	ws, err := r.p.RunWorkload(42, 4096)
	r.must(err)
	if ws.Pages < 4000 {
		t.Fatalf("workload %+v", ws)
	}
	r.verify("after write")
	r.drain()

	// A UE on the primary: the pair fails over, nothing is lost.
	r.must(r.p.InjectMemoryError("CPU0_DIMM_A1", 0, false))
	recs := r.has("CPU0_DIMM_A1", "MemoryUncorrectableError", "MemoryModuleMappedOut")
	if ue, _ := find[events.MemoryUncorrectableError](recs); !ue.Recovered {
		t.Fatalf("UE %+v", ue)
	}
	rc, ok := find[events.MemoryRedundancyChanged](recs)
	if !ok || rc.State != events.RedundancyLost || rc.Overall != events.RedundancyLost {
		t.Fatalf("redundancy %+v", rc)
	}
	r.expect("CPU0_DIMM_A1", StateDisabled, "Nominal", "Off", "")
	r.verify("after failover")

	// A mismatched replacement is refused with the reason.
	r.must(r.p.PressAttention("CPU0_DIMM_A1"))
	r.clk.RunUntilIdle(time.Minute)
	_, err = r.p.Remove("CPU0_DIMM_A1")
	r.must(err)
	img, err := spd.Encode(r.p.NewModuleSpec("CPU0_DIMM_A1", spd.Spec{CapacityGiB: 64, Ranks: 2}))
	r.must(err)
	_, err = r.p.Insert("CPU0_DIMM_A1", img)
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	if rf, ok := find[events.MemoryReplaceRefused](r.drain()); !ok || !strings.Contains(rf.Reason, "mirror") {
		t.Fatalf("mismatch not refused: %+v", rf)
	}
	if s := r.slot("CPU0_DIMM_A1"); s.State != StateFailed {
		t.Fatalf("refused replacement: %+v", s)
	}
	_, err = r.p.Remove("CPU0_DIMM_A1")
	r.must(err)

	// The identical replacement re-silvers and restores redundancy.
	img, err = spd.Encode(r.p.NewModuleSpec("CPU0_DIMM_A1", spd.Spec{CapacityGiB: 32, Ranks: 2}))
	r.must(err)
	_, err = r.p.Insert("CPU0_DIMM_A1", img)
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	recs = r.drain()
	for _, k := range []string{"MemoryRebuildStarted", "MemoryRebuildCompleted", "MemoryRedundancyChanged"} {
		if !strings.Contains(strings.Join(kindsOf(recs, ""), " "), k) {
			t.Fatalf("no %s in %v", k, kindsOf(recs, ""))
		}
	}
	if r.redundancy() != events.FullyRedundant {
		t.Fatalf("redundancy %s", r.redundancy())
	}
	r.expect("CPU0_DIMM_A1", StateEnabled, "Nominal", "Off", "")
	r.verify("after re-silver")

	// Now fail the partner too: the re-silvered side carries the data.
	r.must(r.p.InjectMemoryError("CPU0_DIMM_B1", 1, false))
	r.verify("after second failover")
	// A UE on the last copy loses data, and says so.
	r.drain()
	r.must(r.p.InjectMemoryError("CPU0_DIMM_A1", 0, false))
	if dl, ok := find[events.MemoryDataLost](r.drain()); !ok || dl.Pages == 0 {
		t.Fatalf("no data loss reported: %+v", dl)
	}
	if vs, _ := r.p.VerifyWorkload(); vs.Lost == 0 || vs.Mismatched != 0 {
		t.Fatalf("verify after loss %+v", vs)
	}
	if r.redundancy() != events.NonRedundant {
		t.Fatalf("redundancy %s", r.redundancy())
	}
	r.invariants()
}

func TestRASSparingCopiesOnCEThreshold(t *testing.T) {
	t.Parallel()
	r := newRASRig(t, "sparing", nil)
	_, err := r.p.RunWorkload(7, 4096)
	r.must(err)
	r.drain()
	for range 10 {
		r.must(r.p.InjectMemoryError("CPU0_DIMM_C1", 0, true))
	}
	recs := r.has("CPU0_DIMM_C1", "MemoryCorrectableError", "MemoryCEThresholdExceeded", "MemoryRebuildStarted")
	if st, _ := find[events.MemoryRebuildStarted](recs); st.Op != "spare-copy" || st.Total == 0 {
		t.Fatalf("spare copy %+v", st)
	}
	// No hot-plug on the channel while the copy runs.
	r.must(r.p.PressAttention("CPU0_DIMM_C2"))
	_, err = r.p.Insert("CPU0_DIMM_C2", r.image("CPU0_DIMM_C2", 32))
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	recs = r.drain()
	if rf, ok := find[events.MemoryReplaceRefused](recs); !ok || !strings.Contains(rf.Reason, "spare copy") {
		t.Fatalf("hot-add during copy: %v", kindsOf(recs, ""))
	}
	if _, ok := find[events.MemorySpareActivated](recs); !ok {
		t.Fatalf("copy did not complete: %v", kindsOf(recs, ""))
	}
	mo, ok := find[events.MemoryModuleMappedOut](recs)
	if !ok || mo.Slot != "CPU0_DIMM_C1" || mo.Rank != 0 {
		t.Fatalf("mapped out %+v", mo)
	}
	// The hot-add into the busy channel was not isolated: its bus noise
	// hit C1 too, and those errors count beside the injected ten.
	noise := uint64(0)
	if bn, ok := find[events.BusNoise](recs); ok {
		for _, v := range bn.Victims {
			if v.Slot == "CPU0_DIMM_C1" {
				noise += uint64(v.Correctable)
			}
		}
	}
	s := r.slot("CPU0_DIMM_C1")
	if s.Health != HealthWarning || s.RAS == nil || s.RAS.MappedOutRanks != 1 || s.RAS.Errors.Lifetime.CE != 10+noise || !s.RAS.ThresholdTripped {
		t.Fatalf("slot %+v ras %+v", s, s.RAS)
	}
	if rc, ok := find[events.MemoryRedundancyChanged](r.log); !ok || rc.State != events.RedundancyDegraded {
		t.Fatalf("redundancy %+v", rc)
	}
	r.verify("after spare copy")
}

func TestRASRaid5CartridgeLossAndRebuild(t *testing.T) {
	t.Parallel()
	r := newRASRig(t, "raid5", nil)
	_, err := r.p.RunWorkload(9, 8192)
	r.must(err)
	r.drain()
	// Pull a module of cartridge 2 (controller 2): the array degrades.
	r.must(r.p.PressAttention("CPU0_DIMM_E1"))
	r.clk.RunUntilIdle(time.Minute)
	_, err = r.p.Remove("CPU0_DIMM_E1")
	r.must(err)
	if r.redundancy() != events.RedundancyDegraded {
		t.Fatalf("redundancy %s", r.redundancy())
	}
	r.verify("degraded")
	// A second cartridge may not leave while one is out.
	r.drain()
	r.must(r.p.PressAttention("CPU0_DIMM_A1"))
	r.clk.RunUntilIdle(time.Minute)
	if ef, ok := find[events.EjectFailed](r.drain()); !ok || !strings.Contains(ef.Reason, "one cartridge at a time") {
		t.Fatalf("second eject %+v", ef)
	}
	// The board's other module (F1) stayed seated: the replacement of E1
	// completes the cartridge, which is rebuilt.
	img, err := spd.Encode(r.p.NewModuleSpec("CPU0_DIMM_E1", spd.Spec{CapacityGiB: 16, Ranks: 1}))
	r.must(err)
	_, err = r.p.Insert("CPU0_DIMM_E1", img)
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	recs := r.drain()
	if c, ok := find[events.MemoryRebuildCompleted](recs); !ok || c.Op != "rebuild" {
		t.Fatalf("rebuild: %v", kindsOf(recs, ""))
	}
	if r.redundancy() != events.FullyRedundant {
		t.Fatalf("redundancy %s", r.redundancy())
	}
	r.verify("rebuilt")

	// A surprise loss of a second cartridge while degraded is fatal and
	// reported.
	_, err = r.p.Remove("CPU0_DIMM_A1")
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	_, err = r.p.Remove("CPU0_DIMM_C1")
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	if dl, ok := find[events.MemoryDataLost](r.drain()); !ok || !strings.Contains(dl.Reason, "array failed") {
		t.Fatalf("fatal not reported: %+v", dl)
	}
	if r.redundancy() != events.NonRedundant {
		t.Fatalf("redundancy %s", r.redundancy())
	}
}

func TestRASAdvancedECCUncorrectableLosesData(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	_, err := r.p.RunWorkload(1, 2048)
	r.must(err)
	r.drain()
	r.must(r.p.InjectMemoryError("CPU1_DIMM_D1", 0, false))
	recs := r.has("CPU1_DIMM_D1", "MemoryUncorrectableError", "MemoryDataLost")
	if ue, _ := find[events.MemoryUncorrectableError](recs); ue.Recovered {
		t.Fatalf("UE %+v", ue)
	}
	vs, err := r.p.VerifyWorkload()
	r.must(err)
	if vs.Lost != 1 || vs.Mismatched != 0 || vs.Matched != vs.Pages-1 {
		t.Fatalf("verify %+v", vs)
	}
	if err := r.p.InjectMemoryError("CPU1_DIMM_D1", 3, true); err == nil {
		t.Fatal("rank 3 of a single-rank module accepted")
	}
	if err := r.p.InjectMemoryError("CPU1_DIMM_D2", 0, true); err == nil {
		t.Fatal("error injected into an empty slot")
	}
}

// A UE nothing covers leaves the module Critical in the snapshot (the
// one source both surfaces read) until its current period is cleared;
// the lifetime count stays. A mirror side's UE is the failover's story.
func TestRASUnprotectedUEIsCriticalUntilCleared(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	const slot = "CPU1_DIMM_D1"
	r.must(r.p.InjectMemoryError(slot, 0, false))
	r.drain()
	if s := r.slot(slot); s.Health != HealthCritical || s.State != StateEnabled || s.RAS == nil || !s.RAS.UnprotectedUE {
		t.Fatalf("after a UE: %s %s %+v", s.State, s.Health, s.RAS)
	}
	r.must(r.p.ClearMemoryErrorCounts(slot))
	if s := r.slot(slot); s.Health != HealthOK || s.RAS.UnprotectedUE || s.RAS.Errors.Lifetime.UE != 1 {
		t.Fatalf("after clearing: %s %+v", s.Health, s.RAS)
	}
}

func TestRASMirroredHotAddNeedsAMatchedPair(t *testing.T) {
	t.Parallel()
	r := newRASRig(t, "mirror", nil)
	online := r.p.Snapshot().Kernel.OnlineBytes
	r.hotAdd("CPU0_DIMM_E2", 64)
	if a, ok := find[events.MemoryAwaitingPartner](r.drain()); !ok || !strings.Contains(a.Reason, "channel F position 2") {
		t.Fatalf("first half: %+v", a)
	}
	if s := r.slot("CPU0_DIMM_E2"); s.State != StateStarting || s.Stage != "awaiting-partner" || s.Memory != nil {
		t.Fatalf("held half %+v", s)
	}
	if got := r.p.Snapshot().Kernel.OnlineBytes; got != online {
		t.Fatalf("half a pair reached the OS: %d -> %d", online, got)
	}
	// A partner of another size is refused; the first half keeps waiting.
	r.hotAdd("CPU0_DIMM_F2", 32)
	if rf, ok := find[events.MemoryReplaceRefused](r.drain()); !ok || !strings.Contains(rf.Reason, "does not match") {
		t.Fatalf("mismatch: %+v", rf)
	}
	_, err := r.p.Remove("CPU0_DIMM_F2")
	r.must(err)
	// The matched partner completes the pair: the primary's 64 GiB reach
	// the OS through the hot-add path, mirrored.
	_, err = r.p.Insert("CPU0_DIMM_F2", r.image("CPU0_DIMM_F2", 64))
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	recs := r.drain()
	if h, ok := find[events.MemoryHotAdded](recs); !ok || h.Slot != "CPU0_DIMM_E2" || h.Length != 64<<30 {
		t.Fatalf("pair hot-add: %v", kindsOf(recs, ""))
	}
	r.expect("CPU0_DIMM_E2", StateEnabled, "Nominal", "Off", "")
	r.expect("CPU0_DIMM_F2", StateEnabled, "Nominal", "Off", "")
	if got := r.p.Snapshot().Kernel.OnlineBytes; got != online+64<<30 {
		t.Fatalf("online %d, want +64 GiB", got)
	}
	if st := r.p.Snapshot().RAS; len(st.Sets) != 5 || st.Sets[4].Slots[0] != "CPU0_DIMM_E2" || st.Sets[4].UsableBytes != 64<<30 {
		t.Fatalf("sets %+v", st.Sets)
	}
	// The new range is mirrored: a UE on its primary fails over losslessly.
	_, err = r.p.RunWorkload(3, 8192)
	r.must(err)
	r.must(r.p.InjectMemoryError("CPU0_DIMM_E2", 1, false))
	if ue, ok := find[events.MemoryUncorrectableError](r.drain()); !ok || !ue.Recovered {
		t.Fatalf("UE on the hot-added pair %+v", ue)
	}
	r.verify("after failover on the hot-added pair")
	r.invariants()
}

// restart boots a new platform on the same inventory store.
func restartRAS(t *testing.T, prof *profile.Profile, store InventoryStore) *rig {
	t.Helper()
	return bootRig(t, prof, func(o *Options) { o.Store = store })
}

func TestRASModeIsAFirmwareSettingForTheNextBoot(t *testing.T) {
	t.Parallel()
	store := NewFileInventory(t.TempDir() + "/inventory.json")
	r := restartRAS(t, profile.Default(), store)
	r.must(r.p.SetRASMode("Mirroring"))
	if s := r.p.Snapshot().RAS; s.Mode != "AdvancedECC" || s.NextBoot != "Mirroring" {
		t.Fatalf("before reboot %+v", s)
	}
	if err := r.p.SetRASMode("Chipkill"); err == nil {
		t.Fatal("unknown mode accepted")
	}
	r = restartRAS(t, profile.Default(), store)
	if s := r.p.Snapshot().RAS; s.Mode != "Mirroring" || s.UsableBytes != 256<<30 || s.Redundancy != events.FullyRedundant {
		t.Fatalf("after reboot %+v", s)
	}
}

func TestRASRaid5ExpansionByUpgradingEveryCartridge(t *testing.T) {
	t.Parallel()
	store := NewFileInventory(t.TempDir() + "/inventory.json")
	prof, err := profile.Builtin("raid5")
	if err != nil {
		t.Fatal(err)
	}
	r := restartRAS(t, prof, store)
	online := r.p.Snapshot().Kernel.OnlineBytes
	_, err = r.p.RunWorkload(11, 4096)
	r.must(err)
	// Cartridge c is controller c: channels 2c and 2c+1, one slot each.
	for c := range 5 {
		for _, ch := range []string{string(rune('A' + 2*c)), string(rune('A' + 2*c + 1))} {
			slot := "CPU0_DIMM_" + ch + "1"
			r.must(r.p.PressAttention(slot))
			r.clk.RunUntilIdle(time.Minute)
			_, err := r.p.Remove(slot)
			r.must(err)
		}
		for _, ch := range []string{string(rune('A' + 2*c)), string(rune('A' + 2*c + 1))} {
			slot := "CPU0_DIMM_" + ch + "1"
			img, err := spd.Encode(r.p.NewModuleSpec(slot, spd.Spec{CapacityGiB: 32, Ranks: 2, PartNumber: "UPGRADE"}))
			r.must(err)
			_, err = r.p.Insert(slot, img)
			r.must(err)
			r.clk.RunUntilIdle(time.Minute)
		}
		r.verify("after upgrading a cartridge")
		_, expanded := find[events.MemoryCapacityExpanded](r.drain())
		if expanded != (c == 4) {
			t.Fatalf("cartridge %d: expanded=%v", c, expanded)
		}
	}
	if r.redundancy() != events.FullyRedundant {
		t.Fatalf("redundancy %s", r.redundancy())
	}
	// The added 128 GiB reached the OS at once, through the data
	// modules' devices, and holds data like the rest of the array.
	if got := r.p.Snapshot().Kernel.OnlineBytes; got != online+128<<30 {
		t.Fatalf("online %d GiB, want %d + 128", got>>30, online>>30)
	}
	if st := r.p.Snapshot().RAS; st.Sets[0].UsableBytes != 256<<30 {
		t.Fatalf("array usable %d GiB", st.Sets[0].UsableBytes>>30)
	}
	if s := r.slot("CPU0_DIMM_A1"); s.Memory == nil || s.Memory.Length != 16<<30 || s.State != StateEnabled {
		t.Fatalf("extension through CPU0_DIMM_A1: %+v", s)
	}
	_, err = r.p.RunWorkload(12, 16384)
	r.must(err)
	// A cartridge loss is survived in the added capacity too.
	r.must(r.p.PressAttention("CPU0_DIMM_C1"))
	r.clk.RunUntilIdle(time.Minute)
	_, err = r.p.Remove("CPU0_DIMM_C1")
	r.must(err)
	r.verify("degraded after expansion")
	img, err := spd.Encode(r.p.NewModuleSpec("CPU0_DIMM_C1", spd.Spec{CapacityGiB: 32, Ranks: 2}))
	r.must(err)
	_, err = r.p.Insert("CPU0_DIMM_C1", img)
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	if r.redundancy() != events.FullyRedundant {
		t.Fatalf("after the rebuild of an expanded cartridge: %s", r.redundancy())
	}
	r.verify("rebuilt after expansion")
	if s := r.slot("CPU0_DIMM_C1"); s.Memory == nil || s.Memory.Length != 16<<30 {
		t.Fatalf("the replacement lost the extension's decode: %+v", s.Memory)
	}
	r.invariants()
	// The next boot maps the larger array from the start.
	r = restartRAS(t, prof, store)
	if s := r.p.Snapshot().RAS; s.Mode != "RAID5" || s.UsableBytes != 256<<30 {
		t.Fatalf("after reboot %+v", s)
	}
}

func TestRASCopyAbortedWhenItsTargetIsPulled(t *testing.T) {
	t.Parallel()
	r := newRASRig(t, "mirror", nil)
	_, err := r.p.RunWorkload(2, 4096)
	r.must(err)
	r.must(r.p.InjectMemoryError("CPU0_DIMM_G1", 0, false))
	r.must(r.p.PressAttention("CPU0_DIMM_G1"))
	r.clk.RunUntilIdle(time.Minute)
	_, err = r.p.Remove("CPU0_DIMM_G1")
	r.must(err)
	img, err := spd.Encode(r.p.NewModuleSpec("CPU0_DIMM_G1", spd.Spec{CapacityGiB: 32, Ranks: 2}))
	r.must(err)
	_, err = r.p.Insert("CPU0_DIMM_G1", img)
	r.must(err)
	// Run until the re-silver is under way (a 32 GiB side takes 16 s).
	for r.p.Snapshot().RAS.Job == nil || r.p.Snapshot().RAS.Job.Percent < 20 {
		r.clk.Advance(100 * time.Millisecond)
	}
	_, err = r.p.Remove("CPU0_DIMM_G1")
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	ab, ok := find[events.MemoryRebuildAborted](r.drain())
	if !ok || ab.Slot != "CPU0_DIMM_G1" || ab.Op != "resilver" || !strings.Contains(ab.Reason, "pulled") {
		t.Fatalf("aborted copy %+v", ab)
	}
	if j := r.p.Snapshot().RAS.Job; j != nil {
		t.Fatalf("job still running: %+v", j)
	}
	r.verify("after the aborted re-silver: the surviving side serves")
}

func TestRASLifetimeErrorCountsSurviveRestart(t *testing.T) {
	t.Parallel()
	store := NewFileInventory(t.TempDir() + "/inventory.json")
	r := restartRAS(t, profile.Default(), store)
	changed := r.p.Snapshot().ChangedAt
	for range 3 {
		r.must(r.p.InjectMemoryError("CPU0_DIMM_B1", 0, true))
	}
	r.must(r.p.InjectMemoryError("CPU0_DIMM_B1", 0, false))
	r.must(r.p.InjectMemoryError("CPU1_DIMM_C1", 0, true))
	if got := r.p.Snapshot().ChangedAt; !got.Equal(changed) {
		t.Fatalf("error counts moved the inventory's change time: %v -> %v", changed, got)
	}
	r = restartRAS(t, profile.Default(), store)
	b1 := r.slot("CPU0_DIMM_B1").RAS
	if b1 == nil || b1.Errors.Lifetime.CE != 3 || b1.Errors.Lifetime.UE != 1 || b1.Errors.Current.CE != 0 {
		t.Fatalf("after restart %+v", b1)
	}
	// Counters belong to the module: a pulled module's go with it.
	_, err := r.p.Remove("CPU1_DIMM_C1")
	r.must(err)
	r = restartRAS(t, profile.Default(), store)
	if c1 := r.slot("CPU1_DIMM_C1").RAS; c1 != nil {
		t.Fatalf("pulled module's counters came back: %+v", c1)
	}
	if b1 := r.slot("CPU0_DIMM_B1").RAS; b1 == nil || b1.Errors.Lifetime.CE != 3 {
		t.Fatalf("after second restart %+v", b1)
	}
}

func TestRASAddressRangeMirror(t *testing.T) {
	t.Parallel()
	const gib = uint64(1) << 30
	r := newRASRig(t, "rangemirror", nil)
	s := r.p.Snapshot().RAS
	if s.Mode != "AddressRangeMirror" || s.RawBytes != 512*gib || s.UsableBytes != 448*gib || len(s.Sets) != 2 ||
		s.Redundancy != events.FullyRedundant {
		t.Fatalf("RAS %+v", s)
	}
	// Each socket's mirrored memory is one contiguous range marked
	// EFI_MEMORY_MORE_RELIABLE, decoded by the pair's primary alone.
	var reliable []firmware.Range
	for _, d := range r.p.EFIMemoryMap() {
		if d.Attribute&firmware.EFIMemoryMoreReliable != 0 {
			reliable = append(reliable, d.Range())
		}
	}
	if len(reliable) != 2 || reliable[0].Length != 32*gib || reliable[1].Length != 32*gib {
		t.Fatalf("reliable ranges %v", reliable)
	}
	for i, rg := range reliable {
		want := []string{"CPU0_DIMM_A1", "CPU1_DIMM_A1"}[i]
		for _, addr := range []uint64{rg.Base, rg.End() - 1} {
			if slot, _, ok := r.p.TAD().Decode(addr); !ok || slot != want {
				t.Fatalf("reliable %v decodes to %s, want %s", rg, slot, want)
			}
		}
	}
	if !strings.Contains(dmesgText(r.p), "Memory: 65536M/") || !strings.Contains(dmesgText(r.p), "mirrored memory") {
		t.Fatalf("no mirrored memory line in dmesg:\n%s", dmesgText(r.p))
	}
	_, err := r.p.RunWorkload(4, 8192)
	r.must(err)
	// A UE in the mirrored range fails over with nothing lost...
	r.drain()
	r.must(r.p.InjectMemoryError("CPU0_DIMM_A1", 0, false))
	if ue, ok := find[events.MemoryUncorrectableError](r.drain()); !ok || !ue.Recovered {
		t.Fatalf("UE in the mirrored range %+v", ue)
	}
	r.verify("after failover in the mirrored range")
	// ...one outside it loses data, reported.
	r.must(r.p.InjectMemoryError("CPU0_DIMM_C1", 0, false))
	if dl, ok := find[events.MemoryDataLost](r.drain()); !ok || dl.Pages != 1 {
		t.Fatalf("UE outside the mirrored range %+v", dl)
	}
	if vs, _ := r.p.VerifyWorkload(); vs.Lost != 1 || vs.Mismatched != 0 {
		t.Fatalf("verify %+v", vs)
	}
	// Hot-add outside the mirrored range is a plain hot-add.
	r.hotAdd("CPU1_DIMM_E2", 64)
	if h, ok := find[events.MemoryHotAdded](r.drain()); !ok || h.Length != 64*gib {
		t.Fatal("plain hot-add refused in AddressRangeMirror")
	}
	r.invariants()
}

func TestRASCEStormAtARate(t *testing.T) {
	t.Parallel()
	r := newRASRig(t, "sparing", nil)
	_, err := r.p.RunWorkload(8, 4096)
	r.must(err)
	r.drain()
	if err := r.p.SetMemoryErrorRate("CPU0_DIMM_E1", 5, 1, 0); err == nil {
		t.Fatal("rank 5 of a dual-rank module accepted")
	}
	// Five CEs a second on rank 0: the bucket (10, leaking one per 6 min)
	// trips within seconds and the rank is spared.
	r.must(r.p.SetMemoryErrorRate("CPU0_DIMM_E1", 0, 5, 0))
	for range 60 {
		r.clk.Advance(time.Second)
		if s := r.slot("CPU0_DIMM_E1"); s.RAS != nil && s.RAS.MappedOutRanks == 1 && r.p.Snapshot().RAS.Job == nil {
			break
		}
	}
	recs := r.drain()
	if _, ok := find[events.MemoryCEThresholdExceeded](recs); !ok {
		t.Fatalf("no threshold trip: %v", kindsOf(recs, "CPU0_DIMM_E1"))
	}
	if _, ok := find[events.MemorySpareActivated](recs); !ok {
		t.Fatalf("no spare copy: %v", kindsOf(recs, "CPU0_DIMM_E1"))
	}
	r.must(r.p.SetMemoryErrorRate("CPU0_DIMM_E1", 0, 0, 0))
	n := r.slot("CPU0_DIMM_E1").RAS.Errors.Lifetime.CE
	r.clk.Advance(time.Minute)
	if got := r.slot("CPU0_DIMM_E1").RAS.Errors.Lifetime.CE; got != n || n < 10 {
		t.Fatalf("CEs after stop: %d -> %d", n, got)
	}
	r.verify("after the storm and the spare copy")
}

func TestRASModuleFailsInPlace(t *testing.T) {
	t.Parallel()
	t.Run("raid5 cartridge", func(t *testing.T) {
		r := newRASRig(t, "raid5", nil)
		_, err := r.p.RunWorkload(6, 8192)
		r.must(err)
		r.must(r.p.FailModule("CPU0_DIMM_G1")) // cartridge 3: G1 and H1
		if r.redundancy() != events.RedundancyDegraded {
			t.Fatalf("redundancy %s", r.redundancy())
		}
		for _, slot := range []string{"CPU0_DIMM_G1", "CPU0_DIMM_H1"} {
			if s := r.slot(slot); s.State != StateDisabled || s.Health != HealthCritical {
				t.Fatalf("%s after its cartridge failed: %s/%s", slot, s.State, s.Health)
			}
		}
		r.verify("cartridge failed")
		if err := r.p.FailModule("CPU0_DIMM_H1"); err == nil {
			t.Fatal("failing a failed cartridge again accepted")
		}
		// The board is replaced: both modules out, both new ones in.
		for _, slot := range []string{"CPU0_DIMM_G1", "CPU0_DIMM_H1"} {
			r.must(r.p.PressAttention(slot))
			r.clk.RunUntilIdle(time.Minute)
			_, err := r.p.Remove(slot)
			r.must(err)
		}
		for _, slot := range []string{"CPU0_DIMM_G1", "CPU0_DIMM_H1"} {
			img, err := spd.Encode(r.p.NewModuleSpec(slot, spd.Spec{CapacityGiB: 16, Ranks: 1}))
			r.must(err)
			_, err = r.p.Insert(slot, img)
			r.must(err)
			r.clk.RunUntilIdle(time.Minute)
		}
		if r.redundancy() != events.FullyRedundant {
			t.Fatalf("after the new cartridge: %s", r.redundancy())
		}
		r.verify("new cartridge rebuilt")
	})
	t.Run("mirror side", func(t *testing.T) {
		r := newRASRig(t, "mirror", nil)
		_, err := r.p.RunWorkload(6, 4096)
		r.must(err)
		r.must(r.p.FailModule("CPU0_DIMM_D1"))
		if r.redundancy() != events.RedundancyLost || r.slot("CPU0_DIMM_D1").State != StateDisabled {
			t.Fatalf("redundancy %s, D1 %s", r.redundancy(), r.slot("CPU0_DIMM_D1").State)
		}
		r.verify("side failed")
	})
	t.Run("no redundancy", func(t *testing.T) {
		r := newRig(t, nil)
		_, err := r.p.RunWorkload(6, 4096)
		r.must(err)
		r.drain()
		r.must(r.p.FailModule("CPU1_DIMM_F1"))
		dl, ok := find[events.MemoryDataLost](r.drain())
		if !ok || dl.Pages == 0 {
			t.Fatalf("loss not reported: %+v", dl)
		}
		vs, err := r.p.VerifyWorkload()
		r.must(err)
		if vs.Lost != dl.Pages || vs.Mismatched != 0 {
			t.Fatalf("verify %+v, lost %d", vs, dl.Pages)
		}
		if s := r.slot("CPU1_DIMM_F1"); s.State != StateDisabled || s.Health != HealthCritical {
			t.Fatalf("failed module %s/%s", s.State, s.Health)
		}
	})
}

func TestRASInjectAtAnAddress(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	_, err := r.p.RunWorkload(3, 4096)
	r.must(err)
	r.drain()
	bad := uint64(40 << 30)
	if err := r.p.InjectMemoryErrorAt("CPU0_DIMM_B1", 0, &bad, false); err == nil {
		t.Fatal("an address outside the 32 GiB module accepted")
	}
	// An address the workload did not write: a UE there loses nothing.
	free := uint64(0x1000)
	for ; ; free += 0x1000 {
		if !r.p.l().ras.sys.Written("CPU0_DIMM_B1", free) {
			break
		}
	}
	r.must(r.p.InjectMemoryErrorAt("CPU0_DIMM_B1", 0, &free, false))
	recs := r.drain()
	if ue, ok := find[events.MemoryUncorrectableError](recs); !ok || ue.Address != free {
		t.Fatalf("UE %+v", ue)
	}
	if _, lost := find[events.MemoryDataLost](recs); lost {
		t.Fatal("a UE on an unwritten page reported data lost")
	}
	r.verify("UE on an unused page")
}
