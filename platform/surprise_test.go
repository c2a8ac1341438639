package platform

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
)

// Pulling a boot module without ejecting it, then seating a new module in
// the same slot, used to be refused with "firmware: CPU0_DIMM_A1 is already
// mapped" until the server restarted: the decoder kept the pulled module.
// A surprise removal must leave the decode without it (the other modules
// keeping exactly their addresses), the data it held reported lost, the
// kernel's machine check logged, and the slot ready for a new module.
func TestSurpriseRemovalOfBootModule(t *testing.T) {
	t.Run("interleaved boot module", func(t *testing.T) {
		r := newRig(t, nil)
		surpriseAndReplace(t, r, "CPU0_DIMM_A1")
	})
	t.Run("hot-added module after a restart", func(t *testing.T) {
		// Hot-added, then boot memory after the restart: socket 0's
		// channels are no longer symmetric, so every module decodes
		// 1-way (linear) and the pulled one takes a contiguous range.
		dir := t.TempDir()
		const slot = "CPU0_DIMM_A2"
		first := newRig(t, func(o *Options) { o.Store = NewFileInventory(filepath.Join(dir, "inventory.json")) })
		first.hotAdd(slot, 64)
		if s := first.slot(slot); s.State != StateEnabled {
			t.Fatalf("hot-add: %s %s", s.State, s.Reason)
		}
		r := newRig(t, func(o *Options) { o.Store = NewFileInventory(filepath.Join(dir, "inventory.json")) })
		if rules := r.p.TAD().RulesFor(slot); len(rules) == 0 || rules[0].Hotplug {
			t.Fatalf("%s is not boot memory after the restart: %+v", slot, rules)
		}
		surpriseAndReplace(t, r, slot)
	})
}

func surpriseAndReplace(t *testing.T, r *rig, slot string) {
	t.Helper()
	if _, err := r.p.RunWorkload(1, 4096); err != nil {
		t.Fatal(err)
	}
	before := r.p.TAD()
	capacity := r.slot(slot).Module.SPD.CapacityMiB << 20
	// What every module served, sampled over each rule at every way of a
	// few stripes.
	type decode struct {
		slot string
		off  uint64
	}
	was := map[uint64]decode{}
	lostAddrs := 0
	for _, rule := range before.Rules {
		step := max(rule.Length/64/firmware.InterleaveGranularity*firmware.InterleaveGranularity, firmware.InterleaveGranularity)
		for a := rule.Base; a < rule.End(); a += step {
			for k := uint64(0); k < 16 && a+k*firmware.InterleaveGranularity < rule.End(); k++ {
				x := a + k*firmware.InterleaveGranularity
				s, off, ok := before.Decode(x)
				if !ok {
					t.Fatalf("%#x not decoded at boot", x)
				}
				was[x] = decode{s, off}
				if s == slot {
					lostAddrs++
				}
			}
		}
	}
	if lostAddrs == 0 {
		t.Fatalf("no sampled address decodes to %s", slot)
	}
	r.drain()

	if _, err := r.p.Remove(slot); err != nil {
		t.Fatal(err)
	}
	r.clk.RunUntilIdle(time.Minute)
	recs := r.has(slot, "SurpriseRemoval", "MemoryModuleMappedOut", "MemoryDataLost", "AddressMapUpdated",
		"MemoryUncorrectableError", "FirmwareFault", "ModuleRemoved")
	am, _ := find[events.AddressMapUpdated](recs)
	if am.Op != "map-out" || am.Length != capacity {
		t.Errorf("address map event %+v, want map-out of %d bytes", am, capacity)
	}
	if ue, _ := find[events.MemoryUncorrectableError](recs); ue.Recovered {
		t.Errorf("UE from the missing module recovered: %+v", ue)
	}
	r.expect(slot, StateAbsent, "Off", "On", "")
	r.invariants()

	after := r.p.TAD()
	if rules := after.RulesFor(slot); len(rules) != 0 {
		t.Fatalf("%s still decoded after it was pulled: %+v", slot, rules)
	}
	if s, off, _ := before.Decode(am.Base); s != slot || off != 0 {
		t.Fatalf("map-out base %#x decoded to %s+%#x, not the start of %s", am.Base, s, off, slot)
	}
	if s, off, ok := after.Decode(am.Base); ok {
		t.Fatalf("map-out base %#x still decodes to %s+%#x", am.Base, s, off)
	}
	for a, w := range was {
		s, off, ok := after.Decode(a)
		switch {
		case w.slot == slot && ok:
			t.Fatalf("%#x of the pulled module now decodes to %s+%#x", a, s, off)
		case w.slot != slot && (!ok || s != w.slot || off != w.off):
			t.Fatalf("%#x moved from %s+%#x to %s+%#x (%v): a surprise removal must not re-stripe live memory", a, w.slot, w.off, s, off, ok)
		}
	}

	dmesg := dmesgText(r.p)
	for _, want := range []string{
		"mce: [Hardware Error]: Machine check events logged",
		"UE memory scrubbing error on " + slot,
		"Memory failure: 0x",
	} {
		if !strings.Contains(dmesg, want) {
			t.Errorf("dmesg lacks %q:\n%s", want, tail(dmesg, 12))
		}
	}
	t.Logf("dmesg:\n%s", tail(dmesg, 4))
	if mi := r.p.Meminfo(); mi.HardwareCorrupted != 4 {
		t.Errorf("HardwareCorrupted %d kB after the first memory failure, want 4", mi.HardwareCorrupted)
	}

	// Only the pulled module's pages are lost; everything else reads back.
	vs, err := r.p.VerifyWorkload()
	if err != nil {
		t.Fatal(err)
	}
	if vs.Lost == 0 || vs.Mismatched != 0 || vs.Matched+vs.Lost != vs.Pages {
		t.Fatalf("verify after the pull: %+v", vs)
	}
	if lost, _ := find[events.MemoryDataLost](recs); lost.Pages != vs.Lost {
		t.Errorf("MemoryDataLost says %d pages, verify lost %d", lost.Pages, vs.Lost)
	}

	// The slot takes a new module, as a hot-add into the reservation,
	// with or without the attention step.
	r.drain()
	if _, err := r.p.Insert(slot, r.image(slot, 32)); err != nil {
		t.Fatal(err)
	}
	r.clk.RunUntilIdle(time.Minute)
	r.has(slot, "ModuleInserted", "MemoryTrained", "AddressMapUpdated", "KernelMemoryAdded", "MemoryHotAdded")
	s := r.slot(slot)
	if s.State != StateEnabled || s.Memory == nil || s.Memory.Length != 32*GiB {
		t.Fatalf("new module: %s %s %+v", s.State, s.Reason, s.Memory)
	}
	rules := r.p.TAD().RulesFor(slot)
	if len(rules) != 1 || !rules[0].Hotplug || rules[0].Base != s.Memory.Base {
		t.Fatalf("new module's rules %+v, range %+v", rules, s.Memory)
	}
	// The lost ways stay lost: the new module is not their memory.
	for a, w := range was {
		if w.slot == slot {
			if s, off, ok := r.p.TAD().Decode(a); ok {
				t.Fatalf("%#x of the pulled module decodes to %s+%#x after the new insert", a, s, off)
			}
		}
	}
	r.invariants()
	checkSRAT(t, r.p, nil)
	checkSnapshot(t, r.p, nil)

	// A workload now runs over what is decoded (the new module
	// included) and reads back whole.
	if _, err := r.p.RunWorkload(2, 4096); err != nil {
		t.Fatal(err)
	}
	if vs, err := r.p.VerifyWorkload(); err != nil || !vs.OK() {
		t.Fatalf("verify of a workload after the replacement: %+v %v", vs, err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
