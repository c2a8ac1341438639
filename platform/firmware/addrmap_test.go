package firmware

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/smc"
)

// checkMap asserts the invariants that must hold after every operation.
func checkMap(t *testing.T, m *AddressMap, step int) {
	t.Helper()
	tad := m.TAD()
	if err := tad.Validate(m.layout, m.capacities(), m.socketOf()); err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	var hot []Range
	for name, mod := range m.modules {
		if mod.boot {
			continue
		}
		hot = append(hot, mod.rng)
		if mod.rng.Base%m.align != 0 {
			t.Fatalf("step %d: %s at %v is not aligned", step, name, mod.rng)
		}
		inside := false
		for _, p := range m.layout.Reserve[mod.slot.Socket] {
			inside = inside || p.Contains(mod.rng)
		}
		if !inside {
			t.Fatalf("step %d: %s at %v left socket %d's reservation", step, name, mod.rng, mod.slot.Socket)
		}
		for _, h := range m.layout.Holes {
			if h.Overlaps(mod.rng) {
				t.Fatalf("step %d: %s at %v overlaps %s", step, name, mod.rng, h.Name)
			}
		}
		for s := range m.layout.Boot {
			for _, b := range m.layout.Boot[s] {
				if b.Overlaps(mod.rng) {
					t.Fatalf("step %d: %s at %v overlaps boot memory %v", step, name, mod.rng, b)
				}
			}
		}
	}
	sort.Slice(hot, func(i, j int) bool { return hot[i].Base < hot[j].Base })
	for i := 1; i < len(hot); i++ {
		if hot[i-1].Overlaps(hot[i]) {
			t.Fatalf("step %d: hot ranges overlap: %v %v", step, hot[i-1], hot[i])
		}
	}
	for i, r := range tad.Rules {
		for _, h := range m.layout.Holes {
			if h.Overlaps(r.Range) {
				t.Fatalf("step %d: rule %d overlaps %s", step, i, h.Name)
			}
		}
		// Every stripe decodes back to one of the rule's targets.
		for _, off := range []uint64{0, r.Length / 2, r.Length - 1} {
			slot, _, ok := tad.Decode(r.Base + off)
			if !ok {
				t.Fatalf("step %d: %#x in rule %d does not decode", step, r.Base+off, i)
			}
			found := false
			for _, tg := range r.Targets {
				found = found || tg == slot
			}
			if !found {
				t.Fatalf("step %d: %#x decodes to %s outside %v", step, r.Base+off, slot, r.Targets)
			}
		}
	}
}

func TestAddressMapProperty(t *testing.T) {
	sizes := []uint64{8, 16, 32, 64, 128, 256}
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 0xADD))
		mem := profile.Memory{Type: "DDR5", SpeedMTs: 4800, Sockets: 1 + r.IntN(3), ControllersPerSocket: 1 + r.IntN(4),
			ChannelsPerController: 1 + r.IntN(2), SlotsPerChannel: 1 + r.IntN(2)}
		topo := smc.Topology(mem)
		boot := map[string]uint64{}
		for _, s := range topo {
			// Mostly symmetric boards (slot 1 everywhere), some ragged ones,
			// and sockets with no boot memory at all.
			switch {
			case seed%5 == 0 && s.Socket == 0:
			case seed%3 == 0 && r.IntN(3) == 0:
			case s.Position == 1:
				boot[s.Name] = 32 * GiB
			}
		}
		reserve := func(int) uint64 { return uint64(64+r.IntN(512)) * GiB }
		m, err := newAddressMap(topo, boot, reserve, 2*GiB, nil, nil)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkMap(t, m, 0)
		for step := 1; step <= 60; step++ {
			s := topo[r.IntN(len(topo))]
			if _, isBoot := boot[s.Name]; isBoot {
				continue
			}
			if _, ok := m.Range(s.Name); ok && r.IntN(2) == 0 {
				if _, err := m.Remove(s.Name); err != nil {
					t.Fatalf("seed %d step %d: remove %s: %v", seed, step, s.Name, err)
				}
			} else if !ok {
				before := m.TAD()
				_, _, err := m.Add(s, sizes[r.IntN(len(sizes))]*GiB)
				if err != nil && m.TAD() != before {
					t.Fatalf("seed %d step %d: failed add replaced the table", seed, step)
				}
			}
			checkMap(t, m, step)
		}
	}
}

func TestFragmentationReported(t *testing.T) {
	mem := profile.Default().Memory
	topo := smc.Topology(mem)
	boot := map[string]uint64{}
	for _, s := range topo {
		if s.Position == 1 {
			boot[s.Name] = 32 * GiB
		}
	}
	m, err := newAddressMap(topo, boot, func(int) uint64 { return 96 * GiB }, 2*GiB, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := topo[1], topo[3], topo[5] // CPU0 A2, B2, C2
	if _, _, err := m.Add(a, 32*GiB); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Add(b, 32*GiB); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Remove(a.Name); err != nil {
		t.Fatal(err)
	}
	// 64 GiB free in two 32 GiB holes: a 64 GiB module does not fit.
	_, _, err = m.Add(c, 64*GiB)
	if err == nil || !contains(err.Error(), "fragmented") {
		t.Fatalf("want fragmentation, got %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
