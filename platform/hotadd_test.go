package platform

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

var epoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// rig is a platform on a manual clock with a recorder of every event.
type rig struct {
	t   *testing.T
	clk *clock.Manual
	p   *Platform
	sub *events.Subscription
	log []events.Record
}

func newRig(t *testing.T, mut func(*Options)) *rig {
	t.Helper()
	return bootRig(t, profile.Default(), mut)
}

// bootRig boots prof on a manual clock; mut may adjust the options.
func bootRig(t *testing.T, prof *profile.Profile, mut func(*Options)) *rig {
	t.Helper()
	r := &rig{t: t, clk: clock.NewManual(epoch)}
	opts := Options{Clock: r.clk, FaultSeed: 7}
	if mut != nil {
		mut(&opts)
	}
	p, err := New(prof, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	r.sub = p.Subscribe("rig", 1<<16)
	t.Cleanup(r.sub.Close)
	return r
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// drain collects the records published so far.
func (r *rig) drain() []events.Record {
	var out []events.Record
	for {
		select {
		case rec := <-r.sub.C:
			out = append(out, rec)
			r.log = append(r.log, rec)
		default:
			return out
		}
	}
}

func kindsOf(recs []events.Record, slot string) []string {
	var out []string
	for _, rec := range recs {
		if s := slotOf(rec.Event); slot == "" || s == slot || s == "" {
			out = append(out, rec.Event.Kind())
		}
	}
	return out
}

func slotOf(e events.Event) string {
	switch ev := e.(type) {
	case events.BusNoise:
		return ev.Slot
	case events.BusNoiseRecovered, events.PowerChanged:
		return ""
	}
	return strings.TrimSpace(fieldSlot(e))
}

func fieldSlot(e events.Event) string {
	s := fmt.Sprintf("%+v", e)
	i := strings.Index(s, "Slot:")
	if i < 0 {
		return ""
	}
	s = s[i+5:]
	if j := strings.IndexAny(s, " }"); j >= 0 {
		s = s[:j]
	}
	return s
}

func (r *rig) image(slot string, gib int) []byte {
	r.t.Helper()
	img, err := spd.Encode(r.p.NewModuleSpec(slot, spd.Spec{CapacityGiB: gib, PartNumber: "HOTADD"}))
	r.must(err)
	return img
}

func (r *rig) slot(name string) Slot {
	r.t.Helper()
	s, ok := r.p.Snapshot().Slot(name)
	if !ok {
		r.t.Fatalf("no slot %s", name)
	}
	return s
}

func (r *rig) invariants() {
	r.t.Helper()
	if err := r.p.CheckInvariants(); err != nil {
		r.t.Fatal(err)
	}
}

const GiB = uint64(1) << 30

// expect checks one slot's story and layer states.
func (r *rig) expect(name, state, power, led, stage string) Slot {
	r.t.Helper()
	s := r.slot(name)
	if s.State != state || s.Power != power || s.AttentionLED != led || s.Stage != stage {
		r.t.Fatalf("%s: state=%s power=%s led=%s stage=%q reason=%q; want %s %s %s %q",
			name, s.State, s.Power, s.AttentionLED, s.Stage, s.Reason, state, power, led, stage)
	}
	return s
}

// has asserts the records since the last call include kinds, in order.
func (r *rig) has(slot string, kinds ...string) []events.Record {
	r.t.Helper()
	recs := r.drain()
	got := kindsOf(recs, slot)
	i := 0
	for _, k := range got {
		if i < len(kinds) && k == kinds[i] {
			i++
		}
	}
	if i < len(kinds) {
		r.t.Fatalf("%s: want %v in order, got %v", slot, kinds, got)
	}
	return recs
}

func find[T events.Event](recs []events.Record) (T, bool) {
	for _, rec := range recs {
		if e, ok := rec.Event.(T); ok {
			return e, true
		}
	}
	var zero T
	return zero, false
}

func (r *rig) otherModulesServe(except string) {
	r.t.Helper()
	for _, s := range r.p.Snapshot().Slots {
		if s.Name == except || s.Module == nil || s.Position != 1 {
			continue
		}
		if s.State != StateEnabled || s.Power != "Nominal" {
			r.t.Fatalf("boot module %s disturbed: %s %s %s", s.Name, s.State, s.Power, s.Reason)
		}
	}
}

// TestHotAddStepByStep presses attention, inserts a 64 GiB module into
// CPU0_DIMM_A2 and steps time through every layer.
func TestHotAddStepByStep(t *testing.T) {
	r := newRig(t, nil)
	const slot = "CPU0_DIMM_A2"
	mi0 := r.p.Meminfo()
	k0 := r.p.Snapshot().Kernel
	gen0 := r.p.Snapshot().Generation

	// SMC: attention -> isolation (200 ms) -> ready for installation.
	r.must(r.p.PressAttention(slot))
	r.expect(slot, StateAbsent, "Off", "Blinking", "isolating")
	r.clk.Advance(200 * time.Millisecond)
	r.expect(slot, StateAbsent, "Isolated", "Off", "ready")
	r.has(slot, "AttentionPressed", "AttentionIndicatorChanged", "SlotPowerChanged", "SlotReady")

	// Seat + latch: no bus noise (isolated); SPD read after 20 ms.
	mod, err := r.p.Insert(slot, r.image(slot, 64))
	r.must(err)
	if mod.SPD.CapacityMiB != 64<<10 {
		t.Fatalf("module %+v", mod.SPD)
	}
	r.expect(slot, StateStarting, "Isolated", "Blinking", "spd-read")
	recs := r.has(slot, "SlotLatchChanged", "SlotPresenceChanged", "ModuleInserted", "SlotLatchChanged")
	if _, noisy := find[events.BusNoise](recs); noisy {
		t.Fatal("bus noise although the slot was isolated")
	}
	r.clk.Advance(20 * time.Millisecond)
	recs = r.has(slot, "SPDAccepted", "SlotPowerChanged")
	if acc, _ := find[events.SPDAccepted](recs); acc.OperatingSpeedMTs != 4800 {
		t.Fatalf("SPD accepted at %d MT/s", acc.OperatingSpeedMTs)
	}
	r.expect(slot, StateStarting, "Ramping", "Blinking", "ramping")

	// Power ramp: 10 steps of 100 ms, then Nominal and the SCI.
	r.clk.Advance(900 * time.Millisecond)
	r.expect(slot, StateStarting, "Ramping", "Blinking", "ramping")
	if st, _ := r.p.SlotStatus(slot); st.MilliVolts != 990 {
		t.Fatalf("VDD %d mV after 9 steps", st.MilliVolts)
	}
	r.clk.Advance(100 * time.Millisecond)
	r.expect(slot, StateStarting, "Nominal", "Blinking", "training")
	recs = r.has(slot, "SlotPowerChanged", "SCIRaised", "ACPIOST")
	if sci, _ := find[events.SCIRaised](recs); sci.Method != "_L01" || sci.Cause != "insert" {
		t.Fatalf("SCI %+v", sci)
	}

	// Firmware: training + Vref (400 ms), TAD update, then the pattern test.
	r.clk.Advance(400 * time.Millisecond)
	recs = r.has(slot, "MemoryTrained", "AddressMapUpdated")
	upd, _ := find[events.AddressMapUpdated](recs)
	if upd.Op != "add" || upd.Length != 64*GiB || upd.Socket != 0 {
		t.Fatalf("TAD update %+v", upd)
	}
	rules := r.p.TAD().RulesFor(slot)
	if len(rules) != 1 || !rules[0].Hotplug || rules[0].Base != upd.Base {
		t.Fatalf("TAD rules for %s: %+v", slot, rules)
	}
	r.expect(slot, StateStarting, "Nominal", "Blinking", "pattern-test")
	if blocks := r.p.Snapshot().Kernel.Blocks; blocks != k0.Blocks {
		t.Fatalf("kernel saw memory before the OSPM was notified: %d blocks", blocks)
	}

	// Pattern test (200 ms) -> SRAT entry, Notify(Device Check), the OS
	// adds and onlines the range, _OST success, hot-add done.
	r.clk.Advance(200 * time.Millisecond)
	recs = r.has(slot, "PatternTestCompleted", "ACPINotify", "ACPIOST", "KernelMemoryAdded", "ACPIOST", "AttentionIndicatorChanged", "MemoryHotAdded")
	added, _ := find[events.KernelMemoryAdded](recs)
	if added.Blocks != 32 || added.Online != 32 || added.Node != 0 || added.Base != upd.Base {
		t.Fatalf("kernel add %+v", added)
	}
	s := r.expect(slot, StateEnabled, "Nominal", "Off", "")
	if s.Health != HealthOK || s.Memory == nil || s.Memory.BlocksOnline != 32 || s.Memory.OnlineBytes != 64*GiB {
		t.Fatalf("slot after hot-add: %+v %+v", s, s.Memory)
	}
	var srat *firmware.MemoryAffinity
	for _, m := range r.p.SRAT().Memory {
		if m.Base == upd.Base {
			srat = &m
		}
	}
	if srat == nil || srat.Length != 64*GiB || srat.Flags&firmware.SRATHotPluggable == 0 || srat.ProximityDomain != 0 {
		t.Fatalf("SRAT entry %+v", srat)
	}
	dev, _ := r.p.l().fw.DeviceForSlot(slot)
	if dev.STA != firmware.STAOK || !dev.Ejectable || ostSeq(dev) != "firmware(0x200,0x80) ospm(0x200,0x80) ospm(0x200,0x0)" {
		t.Fatalf("device %s STA=%#x ejectable=%v OST %s", dev.Path, dev.STA, dev.Ejectable, ostSeq(dev))
	}
	for _, b := range r.p.Blocks() {
		if b.Start >= upd.Base && b.Start < upd.Base+upd.Length && (b.State != "online" || b.Node != 0 || b.Boot) {
			t.Fatalf("block %+v", b)
		}
	}
	// Totals: MemTotal (managed pages) grows by the capacity; the memmap,
	// 64 bytes per 4 KiB page, comes out of free memory, as in Linux
	// without memmap_on_memory.
	mi := r.p.Meminfo()
	memmapKB := 64 * GiB / 4096 * 64 >> 10
	if mi.MemTotal-mi0.MemTotal != 64*GiB>>10 || mi.Memmap-mi0.Memmap != memmapKB ||
		mi.MemFree-mi0.MemFree != 64*GiB>>10-memmapKB {
		t.Fatalf("meminfo: MemTotal +%d kB, MemFree +%d kB, Memmap +%d kB", mi.MemTotal-mi0.MemTotal, mi.MemFree-mi0.MemFree, mi.Memmap-mi0.Memmap)
	}
	k := r.p.Snapshot().Kernel
	if k.OnlineBytes-k0.OnlineBytes != 64*GiB || k.TotalRAMBytes-k0.TotalRAMBytes != 64*GiB || k.Blocks != k0.Blocks+32 {
		t.Fatalf("snapshot kernel %+v, before %+v", k, k0)
	}
	if !strings.Contains(dmesgText(r.p), "memory_hotplug: added [mem 0x") {
		t.Fatalf("dmesg lacks the add:\n%s", dmesgText(r.p))
	}
	if g := r.p.Snapshot().Generation; g <= gen0 {
		t.Fatalf("generation %d not above %d", g, gen0)
	}
	r.otherModulesServe(slot)
	r.invariants()
}

func dmesgText(p *Platform) string {
	var b strings.Builder
	for _, l := range p.Dmesg(0) {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func ostSeq(d firmware.Device) string {
	var s []string
	for _, o := range d.OST {
		s = append(s, fmt.Sprintf("%s(%#x,%#x)", o.From, o.Source, o.Status))
	}
	return strings.Join(s, " ")
}

// hotAdd runs the careful sequence to its end.
func (r *rig) hotAdd(slot string, gib int) {
	r.t.Helper()
	r.must(r.p.PressAttention(slot))
	r.clk.RunUntilIdle(time.Minute)
	_, err := r.p.Insert(slot, r.image(slot, gib))
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
}

// TestEachFaultKind arms every kind on CPU0_DIMM_B2, runs a hot-add and
// checks the documented outcome, with the rest of the server serving.
func TestEachFaultKind(t *testing.T) {
	const slot = "CPU0_DIMM_B2"
	for _, fk := range FaultKinds() {
		t.Run(fk.Name, func(t *testing.T) {
			r := newRig(t, nil)
			mi0 := r.p.Meminfo()
			r.must(r.p.ArmFault(slot, fk.Name))
			if s := r.slot(slot); !slices.Equal(s.Faults, []string{fk.Name}) {
				t.Fatalf("armed faults %v", s.Faults)
			}
			if fk.Name == "bus-noise-ue" {
				// Only an insertion into a live slot makes noise.
				_, err := r.p.Insert(slot, r.image(slot, 32))
				r.must(err)
				recs := r.drain()
				noise, ok := find[events.BusNoise](recs)
				if !ok || len(noise.Victims) != 1 || noise.Victims[0].Slot != "CPU0_DIMM_B1" || noise.Victims[0].Uncorrectable < 1 {
					t.Fatalf("bus noise %+v", noise)
				}
				if v := r.slot("CPU0_DIMM_B1"); !v.Disturbed || v.Health != HealthWarning {
					t.Fatalf("victim during noise: %+v", v)
				}
				r.clk.RunUntilIdle(time.Minute)
				r.has("", "BusNoiseRecovered")
				if v := r.slot("CPU0_DIMM_B1"); v.Disturbed || v.Health != HealthOK {
					t.Fatalf("victim after recovery: %+v", v)
				}
				r.expect(slot, StateEnabled, "Nominal", "Off", "")
				r.otherModulesServe(slot)
				r.invariants()
				return
			}
			r.hotAdd(slot, 32)
			recs := r.drain()
			s := r.slot(slot)
			if s.State != StateFailed || s.AttentionLED != "On" || s.Power != "Isolated" || s.Reason == "" {
				t.Fatalf("slot after %s: %s %s %s %s %q", fk.Name, s.State, s.Health, s.Power, s.AttentionLED, s.Reason)
			}
			switch fk.Stage {
			case "smc":
				f, ok := find[events.SPDCheckFailed](recs)
				want := map[string]string{"spd-crc": "crc", "voltage-mismatch": "voltage", "speed-mismatch": "speed"}[fk.Name]
				if !ok || f.Reason != want || s.Health != HealthWarning {
					t.Fatalf("SPD check %+v (health %s), want reason %s", f, s.Health, want)
				}
				if _, ok := find[events.SCIRaised](recs); ok {
					t.Fatal("SCI raised for a refused module")
				}
			case "firmware":
				ff, ok := find[events.FirmwareFault](recs)
				if !ok || ff.Fault != fk.Name || s.Health != HealthCritical || !s.FWFault || !s.Parked {
					t.Fatalf("firmware fault %+v; slot %+v", ff, s)
				}
				if _, ok := find[events.ModuleParked](recs); !ok {
					t.Fatal("module not parked")
				}
				def := r.p.Snapshot().Defective
				if len(def) != 1 || def[0].Slot != slot || def[0].Fault != fk.Name {
					t.Fatalf("defective pool %+v", def)
				}
				dev, _ := r.p.l().fw.DeviceForSlot(slot)
				if !strings.Contains(ostSeq(dev), "firmware(0x200,0x81)") {
					t.Fatalf("_OST %s", ostSeq(dev))
				}
				if len(r.p.TAD().RulesFor(slot)) != 0 {
					t.Fatal("failed module still decoded")
				}
				switch fk.Name {
				case "training", "calibration":
					tf, _ := find[events.TrainingFailed](recs)
					if want := map[string]string{"training": "dq-dqs", "calibration": "vref"}[fk.Name]; tf.Stage != want {
						t.Fatalf("training failed at %q, want %q", tf.Stage, want)
					}
				case "stuck-at":
					pt, ok := find[events.PatternTestCompleted](recs)
					if !ok || pt.Passed {
						t.Fatalf("pattern test %+v", pt)
					}
				case "firmware-hang":
					ft, ok := find[events.FirmwareTimeout](recs)
					if !ok || ft.Stage != "training" {
						t.Fatalf("timeout %+v", ft)
					}
				}
			}
			if _, ok := find[events.KernelMemoryAdded](recs); ok {
				t.Fatal("the OS added memory of a failed module")
			}
			if mi := r.p.Meminfo(); mi.MemTotal != mi0.MemTotal {
				t.Fatalf("MemTotal %d -> %d", mi0.MemTotal, mi.MemTotal)
			}
			r.otherModulesServe(slot)
			r.invariants()

			// Pull the bad module, clear the fault: the slot takes a good one.
			_, err := r.p.Remove(slot)
			r.must(err)
			r.expect(slot, StateAbsent, "Off", "Off", "")
			r.must(r.p.ClearFault(slot, "all"))
			r.hotAdd(slot, 32)
			r.expect(slot, StateEnabled, "Nominal", "Off", "")
			r.invariants()
		})
	}
}

// TestHotRemove: ejecting a hot-added module offlines and removes its
// memory; an unmovable allocation in it makes the OS refuse, with the reason.
func TestHotRemove(t *testing.T) {
	const slot = "CPU1_DIMM_C2"
	t.Run("movable", func(t *testing.T) {
		r := newRig(t, nil)
		mi0 := r.p.Meminfo()
		r.hotAdd(slot, 64)
		r.drain()
		r.must(r.p.PressAttention(slot))
		r.clk.RunUntilIdle(time.Minute)
		r.has(slot, "AttentionPressed", "SCIRaised", "ACPINotify", "ACPIOST", "KernelMemoryRemoved", "AddressMapUpdated", "MemoryEjected",
			"ACPIOST", "SlotReady")
		s := r.expect(slot, StateDisabled, "Isolated", "Off", "")
		if s.Memory != nil || len(r.p.TAD().RulesFor(slot)) != 0 {
			t.Fatalf("range still mapped: %+v", s.Memory)
		}
		if mi := r.p.Meminfo(); mi.MemTotal != mi0.MemTotal || mi.MemFree != mi0.MemFree {
			t.Fatalf("meminfo after eject: %+v, before %+v", mi, mi0)
		}
		_, err := r.p.Remove(slot)
		r.must(err)
		r.expect(slot, StateAbsent, "Off", "Off", "")
		r.invariants()
		// Boot memory has no _EJ0: the firmware refuses the request.
		r.drain()
		r.must(r.p.PressAttention("CPU1_DIMM_C1"))
		r.clk.RunUntilIdle(time.Minute)
		recs := r.has("CPU1_DIMM_C1", "EjectFailed")
		if ef, _ := find[events.EjectFailed](recs); !strings.Contains(ef.Reason, "boot memory") {
			t.Fatalf("boot eject %+v", ef)
		}
		r.expect("CPU1_DIMM_C1", StateEnabled, "Nominal", "Off", "")
	})
	t.Run("unmovable", func(t *testing.T) {
		r := newRig(t, nil)
		r.hotAdd(slot, 64)
		s := r.slot(slot)
		base, end := s.Memory.Base, s.Memory.Base+s.Memory.Length
		// A kernel allocation (GFP_KERNEL) lands in the new range.
		k := r.p.l().kern
		var handles []kernel.Handle
		pinned := false
		for !pinned {
			h, err := k.Alloc(1, kernel.MaxOrder-1, false)
			if err != nil {
				t.Fatalf("no unmovable allocation reached the new range: %v", err)
			}
			pfn, _, _, _ := k.PFN(h)
			if a := pfn * kernel.PageSize; a >= base && a < end {
				pinned = true
				continue
			}
			handles = append(handles, h)
		}
		for _, h := range handles {
			r.must(k.Free(h))
		}
		r.drain()
		r.must(r.p.PressAttention(slot))
		r.clk.RunUntilIdle(time.Minute)
		recs := r.has(slot, "ACPINotify", "ACPIOST", "KernelMemoryRemoveRefused", "ACPIOST", "EjectFailed")
		ref, _ := find[events.KernelMemoryRemoveRefused](recs)
		if ref.Errno != "EBUSY" || !strings.Contains(ref.Reason, "unmovable page") || ref.Block < 0 {
			t.Fatalf("refusal %+v", ref)
		}
		if ef, _ := find[events.EjectFailed](recs); !strings.Contains(ef.Reason, "device in use") {
			t.Fatalf("eject failed %+v", ef)
		}
		dev, _ := r.p.l().fw.DeviceForSlot(slot)
		if !strings.HasSuffix(ostSeq(dev), "ospm(0x103,0x84) ospm(0x103,0x81)") {
			t.Fatalf("_OST %s", ostSeq(dev))
		}
		s = r.expect(slot, StateEnabled, "Nominal", "Off", "")
		if s.Memory.BlocksOnline != 32 {
			t.Fatalf("blocks not re-onlined: %+v", s.Memory)
		}
		// The operator sees the same refusal offlining the block by hand.
		if err := r.p.OfflineBlock(ref.Block); !errors.Is(err, ErrKernel) || !errors.Is(err, kernel.ErrBusy) {
			t.Fatalf("offline pinned block: %v", err)
		}
		r.invariants()
	})
}

// TestRandomSequencesKeepInvariants drives random operator actions,
// faults and time steps over a few slots and checks, after each, that
// address ranges never overlap each other or the holes, and that the
// kernel's books balance.
func TestRandomSequencesKeepInvariants(t *testing.T) {
	slotsUnderTest := []string{"CPU0_DIMM_A2", "CPU0_DIMM_B2", "CPU0_DIMM_A1", "CPU1_DIMM_C2", "CPU1_DIMM_D2"}
	kinds := FaultKinds()
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	seen := map[string]int{}
	defer func() {
		// The sequences must reach the interesting paths, not only errors.
		for _, k := range []string{"KernelMemoryAdded", "MemoryEjected", "SurpriseRemoval", "FirmwareFault", "SPDCheckFailed", "BusNoise", "MemoryBlockChanged"} {
			if seen[k] == 0 && !t.Failed() {
				t.Errorf("no sequence produced %s: %v", k, seen)
			}
		}
	}()
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 99))
			r := newRig(t, func(o *Options) { o.FaultSeed = uint64(seed) })
			var trace []string
			for step := 0; step < 60; step++ {
				slot := slotsUnderTest[rng.IntN(len(slotsUnderTest))]
				var op string
				var err error
				switch rng.IntN(9) {
				case 0, 1:
					op = "attention"
					err = r.p.PressAttention(slot)
				case 2, 3:
					op = "insert"
					_, err = r.p.Insert(slot, r.image(slot, []int{32, 64}[rng.IntN(2)]))
				case 4:
					op = "remove"
					_, err = r.p.Remove(slot)
				case 5:
					k := kinds[rng.IntN(len(kinds))].Name
					op = "fault " + k
					if rng.IntN(3) == 0 {
						op, err = "clear", r.p.ClearFault(slot, "")
					} else {
						err = r.p.ArmFault(slot, k)
					}
				case 6:
					if s := r.slot(slot); s.Memory != nil && s.Memory.Blocks > 0 {
						id := int(s.Memory.Base/r.p.BlockSizeBytes()) + rng.IntN(s.Memory.Blocks)
						if b, ok := r.p.Block(id); ok && b.State == "online" {
							op, err = fmt.Sprintf("offline %d", id), r.p.OfflineBlock(id)
						} else {
							op, err = fmt.Sprintf("online %d", id), r.p.OnlineBlock(id, kernel.OnlineMovable)
						}
					}
				case 7:
					op = "run"
					r.clk.RunUntilIdle(time.Minute)
				default:
					d := time.Duration(rng.IntN(1500)) * time.Millisecond
					op = "advance " + d.String()
					r.clk.Advance(d)
				}
				trace = append(trace, fmt.Sprintf("%s %s: %v", op, slot, err))
				if err := r.p.CheckInvariants(); err != nil {
					t.Fatalf("after %d steps: %v\n%s", step+1, err, strings.Join(trace, "\n"))
				}
				checkSRAT(t, r.p, trace)
				checkSnapshot(t, r.p, trace)
			}
			r.clk.RunUntilIdle(time.Hour)
			if err := r.p.CheckInvariants(); err != nil {
				t.Fatalf("at rest: %v\n%s", err, strings.Join(trace, "\n"))
			}
			checkSnapshot(t, r.p, trace)
			for _, rec := range r.drain() {
				seen[rec.Event.Kind()]++
			}
		})
	}
}

func checkSRAT(t *testing.T, p *Platform, trace []string) {
	t.Helper()
	mem := p.SRAT().Memory
	holes := p.Layout().Holes
	for i, m := range mem {
		r := firmware.Range{Base: m.Base, Length: m.Length}
		if i > 0 && mem[i-1].Base+mem[i-1].Length > m.Base {
			t.Fatalf("SRAT entries overlap at %#x\n%s", m.Base, strings.Join(trace, "\n"))
		}
		for _, h := range holes {
			if h.Overlaps(r) {
				t.Fatalf("SRAT entry %v overlaps %s\n%s", r, h.Name, strings.Join(trace, "\n"))
			}
		}
	}
}

// checkSnapshot: the snapshot agrees with the kernel, and slot ranges are
// disjoint.
func checkSnapshot(t *testing.T, p *Platform, trace []string) {
	t.Helper()
	s := p.Snapshot()
	var online uint64
	for _, b := range p.Blocks() {
		if b.State == "online" {
			online += b.PresentPages * kernel.PageSize
		}
	}
	if s.Kernel.OnlineBytes != online {
		t.Fatalf("snapshot OnlineBytes %d, kernel %d\n%s", s.Kernel.OnlineBytes, online, strings.Join(trace, "\n"))
	}
	var ranges []firmware.Range
	for _, sl := range s.Slots {
		if sl.Module == nil && sl.State != StateAbsent {
			t.Fatalf("%s: no module but state %s", sl.Name, sl.State)
		}
		if sl.Memory != nil {
			ranges = append(ranges, firmware.Range{Base: sl.Memory.Base, Length: sl.Memory.Length})
		}
	}
	for i := range ranges {
		for j := i + 1; j < len(ranges); j++ {
			if ranges[i].Overlaps(ranges[j]) {
				t.Fatalf("slot ranges overlap: %v %v\n%s", ranges[i], ranges[j], strings.Join(trace, "\n"))
			}
		}
	}
}
