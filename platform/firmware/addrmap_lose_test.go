package firmware

import (
	"errors"
	"slices"
	"testing"

	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/smc"
)

// Lose takes a surprise-removed boot module out of the decode without
// moving anybody else's addresses, and frees the slot for Add.
func TestLoseBootModule(t *testing.T) {
	for _, tc := range []struct {
		name string
		// ragged adds CPU0_DIMM_A2 at boot: channel A, populated unlike
		// the others, is a 1-way (linear) set of its own; B to G stripe
		// 6-way and H is linear.
		ragged bool
		slot   string
	}{
		{"interleaved first way", false, "CPU0_DIMM_A1"},
		{"interleaved middle way", false, "CPU0_DIMM_C1"},
		{"linear", true, "CPU0_DIMM_A1"},
		{"ragged 6-way set", true, "CPU0_DIMM_D1"},
		{"ragged linear set", true, "CPU0_DIMM_H1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo := smc.Topology(profile.Default().Memory)
			boot := map[string]uint64{}
			var lostSlot smc.Slot
			for _, s := range topo {
				if s.Position == 1 || tc.ragged && s.Name == "CPU0_DIMM_A2" {
					boot[s.Name] = 32 * GiB
				}
				if s.Name == tc.slot {
					lostSlot = s
				}
			}
			m, err := newAddressMap(mapConfig{topo: topo, boot: boot, pooled: func(int) uint64 { return 128 * GiB }, align: 2 * GiB})
			if err != nil {
				t.Fatal(err)
			}
			before := m.TAD()
			type dec struct {
				slot string
				off  uint64
			}
			was := map[uint64]dec{}
			wantFirst := ^uint64(0)
			for _, r := range before.Rules {
				// Every way of a stripe at 64 points of the rule.
				step := max(r.Length/64/InterleaveGranularity*InterleaveGranularity, InterleaveGranularity)
				for a := r.Base; a < r.End(); a += step {
					for k := uint64(0); k < 8 && a+k*InterleaveGranularity < r.End(); k++ {
						x := a + k*InterleaveGranularity
						s, off, ok := before.Decode(x)
						if !ok {
							t.Fatalf("%#x not decoded at boot", x)
						}
						was[x] = dec{s, off}
					}
				}
				if i := slices.Index(r.Targets, tc.slot); i >= 0 {
					wantFirst = min(wantFirst, r.Base+uint64(i)*r.Granularity)
				}
			}

			// A boot slot whose module is decoded needs no room...
			if err := m.view.Load().fits(lostSlot, 1024*GiB); err != nil {
				t.Fatalf("boot slot before Lose: %v", err)
			}
			first, n, err := m.Lose(tc.slot)
			if err != nil {
				t.Fatal(err)
			}
			if first != wantFirst || n != 32*GiB {
				t.Errorf("Lose = %#x, %d; want %#x, %d", first, n, wantFirst, 32*GiB)
			}
			checkMap2(t, m)
			after := m.TAD()
			if after.Generation != before.Generation+1 || len(after.RulesFor(tc.slot)) != 0 {
				t.Fatalf("after Lose: generation %d, rules for %s %+v", after.Generation, tc.slot, after.RulesFor(tc.slot))
			}
			// The ways keep the slot's name, marked lost, so the interleave
			// set still says which member it lost.
			marked := 0
			for _, r := range after.Rules {
				if slices.Contains(r.Lost, tc.slot) && slices.Contains(r.Targets, tc.slot) && !r.Hotplug {
					marked++
				}
			}
			if marked == 0 {
				t.Fatalf("no rule marks %s lost: %+v", tc.slot, after.Rules)
			}
			if s, off, ok := after.Decode(first); ok {
				t.Fatalf("the lost module's first address %#x decodes to %s+%#x", first, s, off)
			}
			for a, w := range was {
				s, off, ok := after.Decode(a)
				if w.slot == tc.slot {
					if ok {
						t.Fatalf("%#x of the lost module decodes to %s+%#x", a, s, off)
					}
					continue
				}
				if !ok || s != w.slot || off != w.off {
					t.Fatalf("%#x moved from %s+%#x to %s+%#x (%v)", a, w.slot, w.off, s, off, ok)
				}
			}
			if m.Node(tc.slot) != -1 {
				t.Fatalf("lost %s still has a node", tc.slot)
			}
			if _, _, err := m.Lose(tc.slot); err == nil {
				t.Fatal("a module lost twice")
			}

			// ...but once its module is lost, a module seated there is a
			// hot-add the reservation must hold (the slot has no window).
			if err := m.view.Load().fits(lostSlot, 32*GiB); err != nil {
				t.Fatalf("lost slot, 32 GiB: %v", err)
			}
			if err := m.view.Load().fits(lostSlot, 256*GiB); !errors.Is(err, ErrNoAddressSpace) {
				t.Fatalf("lost slot, 256 GiB of a 128 GiB reservation: %v", err)
			}

			// A new module in the slot is a hot-add that leaves the
			// controller interleaved; the lost ways stay lost.
			rng, changes, err := m.Add(lostSlot, 32*GiB)
			if err != nil {
				t.Fatalf("add into the lost slot: %v", err)
			}
			if len(changes) != 0 {
				t.Fatalf("add into the lost slot changed the interleave: %+v", changes)
			}
			checkMap2(t, m)
			if rules := m.TAD().RulesFor(tc.slot); len(rules) != 1 || !rules[0].Hotplug || rules[0].Range != rng {
				t.Fatalf("new module's rules %+v, range %v", rules, rng)
			}
			if s, off, ok := m.TAD().Decode(first); ok {
				t.Fatalf("lost address %#x decodes to %s+%#x after the add", first, s, off)
			}
			if _, _, err := m.Lose(tc.slot); err == nil {
				t.Fatal("Lose took a hot-added module")
			}
			if _, err := m.Remove(tc.slot); err != nil {
				t.Fatal(err)
			}
			checkMap2(t, m)
		})
	}
}

// checkMap2 is checkMap for tables with lost ways: the table validates,
// and every address of a rule decodes to one of its targets, or to none
// when the rule has lost ways.
func checkMap2(t *testing.T, m *AddressMap) {
	t.Helper()
	tad := m.TAD()
	if err := tad.Validate(m.layout, m.capacities(), m.socketOf()); err != nil {
		t.Fatal(err)
	}
	// Decode and Encode agree everywhere but the lost ways.
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	for i, r := range tad.Rules {
		for _, off := range []uint64{0, r.Length / 2, r.Length - 1} {
			slot, _, ok := tad.Decode(r.Base + off)
			if !ok && len(r.Lost) == 0 {
				t.Fatalf("%#x in rule %d does not decode", r.Base+off, i)
			}
			if ok && slices.Index(r.Targets, slot) < 0 {
				t.Fatalf("%#x decodes to %s outside %v", r.Base+off, slot, r.Targets)
			}
		}
	}
}
