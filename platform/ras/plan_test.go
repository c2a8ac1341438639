package ras

import (
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/ras/sparing"
)

// The default profile: 2 sockets x 8 channels, one 32 GiB dual-rank
// module per channel.
func defaultPopulation() []Module {
	var out []Module
	for s := range 2 {
		for ch := range 8 {
			out = append(out, Module{Slot: slot(s, ch, 1), Socket: s, Channel: ch, Position: 1, Capacity: 32 * gib, Ranks: 2, Cartridge: -1})
		}
	}
	return out
}

func slot(s, ch, pos int) string {
	return "P" + string(rune('0'+s)) + "_DIMM_" + string(rune('A'+ch)) + string(rune('0'+pos))
}

func TestPlanCapacities(t *testing.T) {
	pop := defaultPopulation()
	const raw = 512 * gib
	for _, c := range []struct {
		mode   Mode
		usable uint64
	}{
		{AdvancedECC, raw},
		{RankSparing, raw - 16*16*gib}, // one 16 GiB rank per channel
		{Mirroring, raw / 2},
	} {
		p := NewPlan(c.mode, pop)
		if p.Mode != c.mode || p.ConfigError != "" || p.Raw != raw || p.Usable != c.usable {
			t.Errorf("%s: %+v", c.mode, p)
		}
	}
	p := NewPlan(RankSparing, pop)
	if len(p.Spares) != 16 || p.Spares[0] != (sparing.Rank{Module: "P0_DIMM_A1", Rank: 1}) {
		t.Fatalf("spares %v", p.Spares)
	}
	if p := NewPlan(Mirroring, pop); len(p.MirrorPairs) != 8 || p.MirrorPairs[1] != [3]int{0, 2, 3} {
		t.Fatalf("pairs %v", p.MirrorPairs)
	}
	// RAID memory: five cartridges of 2 x 32 GiB.
	var rp []Module
	for c := range 5 {
		for pos := 1; pos <= 2; pos++ {
			rp = append(rp, Module{Slot: slot(0, c, pos), Channel: c, Position: pos, Capacity: 32 * gib, Ranks: 2, Cartridge: c})
		}
	}
	if p := NewPlan(RAID5, rp); p.Mode != RAID5 || p.Raw != 320*gib || p.Usable != 256*gib || p.CartridgeBytes != 64*gib {
		t.Fatalf("raid %+v", p)
	}
}

func TestPlanFallsBackWithConfigError(t *testing.T) {
	pop := defaultPopulation()
	asym := append(pop, Module{Slot: "P0_DIMM_A2", Socket: 0, Channel: 0, Position: 2, Capacity: 32 * gib, Ranks: 2, Cartridge: -1})
	single := defaultPopulation()
	single[3].Ranks = 1
	mixed := append(defaultPopulation(), Module{Slot: "P0_DIMM_A2", Socket: 0, Channel: 0, Position: 2, Capacity: 64 * gib, Ranks: 2, Cartridge: -1})
	for _, c := range []struct {
		mode Mode
		pop  []Module
		why  string
	}{
		{Mirroring, asym, "not populated identically"},
		{RankSparing, []Module{{Slot: "x", Capacity: gib, Ranks: 1}}, "single rank"},
		{RankSparing, mixed, "mixes rank sizes"},
		{RAID5, pop, "not on a memory cartridge"},
		{RAID5, []Module{{Slot: "x", Capacity: gib, Cartridge: 0}}, "five identical cartridges"},
		{"Bogus", pop, "unknown RAS mode"},
	} {
		p := NewPlan(c.mode, c.pop)
		var raw uint64
		for _, m := range c.pop {
			raw += m.Capacity
		}
		if p.Mode != AdvancedECC || p.Requested != c.mode || !strings.Contains(p.ConfigError, c.why) || p.Usable != raw || p.Raw != raw {
			t.Errorf("%s: %+v", c.mode, p)
		}
		if p.Spares != nil || p.MirrorPairs != nil || p.CartridgeBytes != 0 {
			t.Errorf("%s: fallback kept mode resources: %+v", c.mode, p)
		}
	}
	// One single-rank module alone on a channel leaves nothing to spare to.
	if p := NewPlan(RankSparing, single); p.Mode != AdvancedECC || !strings.Contains(p.ConfigError, "channel 3 has a single rank") {
		t.Fatalf("%+v", p)
	}
}
