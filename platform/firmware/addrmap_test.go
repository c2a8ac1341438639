package firmware

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
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
	// Every home agent's directory is what the TAD decodes on its socket.
	for _, a := range m.HomeAgents().Agents() {
		var want []Range
		for _, r := range tad.Rules {
			if r.Socket == a.Socket {
				want = append(want, r.Range)
			}
		}
		if want = mergeRanges(want); !slices.Equal(a.Directory, want) {
			t.Fatalf("step %d: socket %d snoop filter directory %v, TAD decodes %v", step, a.Socket, a.Directory, want)
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
		// Every stripe decodes to one of the rule's targets, and back.
		for _, off := range []uint64{0, 1, InterleaveGranularity - 1, InterleaveGranularity, r.Length / 2, r.Length / 3, r.Length - InterleaveGranularity, r.Length - 1} {
			if off >= r.Length {
				continue
			}
			slot, moff, ok := tad.Decode(r.Base + off)
			if !ok {
				t.Fatalf("step %d: %#x in rule %d does not decode", step, r.Base+off, i)
			}
			if back, ok := tad.Encode(slot, moff); !ok || back != r.Base+off {
				t.Fatalf("step %d: %#x decodes to %s+%#x, which encodes to %#x (%v)", step, r.Base+off, slot, moff, back, ok)
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
	for seed := uint64(1); seed <= 120; seed++ {
		r := rand.New(rand.NewPCG(seed, 0xADD))
		ctl := 1 + r.IntN(12)
		mem := profile.Memory{Type: "DDR5", SpeedMTs: 4800, Sockets: 1 + r.IntN(3), ControllersPerSocket: ctl,
			ChannelsPerController: 1 + r.IntN(min(4, 32/ctl)), SlotsPerChannel: 1 + r.IntN(3)}
		topo := smc.Topology(mem)
		boot := map[string]uint64{}
		for _, s := range topo {
			// Mostly symmetric boards (slot 1 everywhere), some ragged ones
			// of mixed sizes, and sockets with no boot memory at all.
			switch {
			case seed%5 == 0 && s.Socket == 0:
			case seed%3 == 0 && r.IntN(3) == 0:
			case seed%3 == 0:
				boot[s.Name] = []uint64{1, 8, 16, 32, 64}[r.IntN(5)] * GiB
			case s.Position == 1:
				boot[s.Name] = 32 * GiB
			}
		}
		var m *AddressMap
		var err error
		if seed%2 == 0 {
			reserve := func(int) uint64 { return uint64(64+r.IntN(512)) * GiB }
			m, err = newAddressMap(mapConfig{topo: topo, boot: boot, pooled: reserve, align: 2 * GiB})
		} else {
			m, err = newAddressMap(mapConfig{topo: topo, boot: boot, perSlot: uint64(16+r.IntN(256)) * GiB, align: 2 * GiB})
		}
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

func TestSplitWays(t *testing.T) {
	ddr4, ddr5 := InterleaveWays(spd.DDR4), InterleaveWays(spd.DDR5)
	for _, tc := range []struct {
		n    int
		ways []int
		want []int
	}{
		{5, ddr5, []int{4, 1}}, {7, ddr5, []int{6, 1}}, {9, ddr5, []int{8, 1}}, {12, ddr5, []int{12}},
		{18, ddr5, []int{12, 6}}, {32, ddr5, []int{12, 12, 8}}, {12, ddr4, []int{8, 4}}, {10, ddr4, []int{8, 2}},
		{6, ddr4, []int{6}}, {1, ddr4, []int{1}},
	} {
		if got := splitWays(tc.n, tc.ways); !slices.Equal(got, tc.want) {
			t.Errorf("%d channels over %v: %v, want %v", tc.n, tc.ways, got, tc.want)
		}
	}
}

// TestBootSetsSplitAndResumeAcrossTheHole: five like channels are a 4-way
// and a 1-way set; a 3-way set that starts at 1 GiB reaches the MMIO hole
// mid-row and resumes above 4 GiB at the next way, decoding every module
// byte exactly once.
func TestBootSetsSplitAndResumeAcrossTheHole(t *testing.T) {
	mem := profile.Memory{Type: "DDR5", SpeedMTs: 4800, Sockets: 1, ControllersPerSocket: 5, ChannelsPerController: 1, SlotsPerChannel: 2}
	topo := smc.Topology(mem)
	boot := map[string]uint64{}
	for _, s := range topo {
		if s.Position == 1 {
			boot[s.Name] = 32 * GiB
		}
	}
	m, err := newAddressMap(mapConfig{topo: topo, boot: boot, perSlot: 64 * GiB})
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m, 0)
	sets := m.TAD().Sets
	if len(sets) != 2 || sets[0].Ways != 4 || !slices.Equal(sets[0].Channels, []string{"A", "B", "C", "D"}) ||
		sets[1].Ways != 1 || sets[1].Channels[0] != "E" || sets[0].Bytes != 128*GiB || sets[1].Bytes != 32*GiB {
		t.Fatalf("sets %+v", sets)
	}

	mem.ControllersPerSocket = 4
	topo = smc.Topology(mem)
	boot = map[string]uint64{"CPU0_DIMM_A1": GiB}
	for _, ch := range []string{"B", "C", "D"} {
		boot["CPU0_DIMM_"+ch+"1"] = 32 * GiB
	}
	m, err = newAddressMap(mapConfig{topo: topo, boot: boot, perSlot: 64 * GiB})
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m, 0)
	phased := false
	for _, r := range m.TAD().Rules {
		phased = phased || r.Phase != 0
	}
	if !phased {
		t.Fatalf("no rule resumes mid-row: %+v", m.TAD().Rules)
	}
	// Decode walks the stripe across the hole without a gap.
	tad := m.TAD()
	for _, addr := range []uint64{LowMMIOBase - 2*InterleaveGranularity, LowMMIOBase - InterleaveGranularity, fourGiB, fourGiB + InterleaveGranularity} {
		slot, off, ok := tad.Decode(addr)
		if back, ok2 := tad.Encode(slot, off); !ok || !ok2 || back != addr {
			t.Fatalf("%#x -> %s+%#x -> %#x", addr, slot, off, back)
		}
	}
	a, _, _ := tad.Decode(LowMMIOBase - InterleaveGranularity)
	b, _, _ := tad.Decode(fourGiB)
	if a == b {
		t.Fatalf("the stripe does not move to the next way across the hole: %s then %s", a, b)
	}
}

// TestHomeWindowsSurviveAnyOrder: every empty slot takes a module as large
// as its window in any order of adds and removes.
func TestHomeWindowsSurviveAnyOrder(t *testing.T) {
	mem := profile.Memory{Type: "DDR5", SpeedMTs: 4800, Sockets: 1, ControllersPerSocket: 4, ChannelsPerController: 2, SlotsPerChannel: 3}
	topo := smc.Topology(mem)
	boot := map[string]uint64{}
	var empty []smc.Slot
	for _, s := range topo {
		if s.Position == 1 {
			boot[s.Name] = 64 * GiB
		} else {
			empty = append(empty, s)
		}
	}
	m, err := newAddressMap(mapConfig{topo: topo, boot: boot, perSlot: 128 * GiB})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	sizes := []uint64{16, 32, 64, 128}
	for round := range 50 {
		for _, i := range r.Perm(len(empty)) {
			s := empty[i]
			if _, ok := m.Range(s.Name); ok {
				if r.IntN(2) == 0 {
					if _, err := m.Remove(s.Name); err != nil {
						t.Fatal(err)
					}
				}
				continue
			}
			if _, _, err := m.Add(s, sizes[r.IntN(len(sizes))]*GiB); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			checkMap(t, m, round)
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
	m, err := newAddressMap(mapConfig{topo: topo, boot: boot, pooled: func(int) uint64 { return 96 * GiB }, align: 2 * GiB})
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
