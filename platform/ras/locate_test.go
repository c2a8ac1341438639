package ras

import (
	"errors"
	"slices"
	"testing"

	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const gib = uint64(1) << 30

// Two 2-rank 1 GiB modules interleaved 2-way at 4 KiB, then a 1-way
// hot-added 1 GiB single-rank module.
func testLocator() Locator {
	return Locator{
		TAD: &firmware.TAD{Rules: []firmware.Rule{
			{Range: firmware.Range{Base: 0, Length: 2 * gib}, Targets: []string{"A1", "B1"}, Granularity: firmware.InterleaveGranularity},
			{Range: firmware.Range{Base: 4 * gib, Length: gib}, Targets: []string{"C1"}, Hotplug: true},
		}},
		Modules: map[string]ModuleGeometry{"A1": {gib, 2}, "B1": {gib, 2}, "C1": {gib, 1}},
	}
}

func TestLocate(t *testing.T) {
	l := testLocator()
	for _, c := range []struct {
		addr   uint64
		module string
		rank   int
		off    uint64
	}{
		{0, "A1", 0, 0},
		{4096 + 5, "B1", 0, 5},
		{2*4096 + 7, "A1", 0, 4096 + 7},
		{2*gib - 1, "B1", 1, gib - 1},
		{gib, "A1", 1, gib / 2},
		{4*gib + 123, "C1", 0, 123},
	} {
		loc, err := l.Locate(c.addr)
		if err != nil || loc.Module != c.module || loc.Rank != c.rank || loc.Addr != c.off {
			t.Errorf("Locate(%#x) = %+v, %v; want %s/%d+%#x", c.addr, loc, err, c.module, c.rank, c.off)
		}
	}
	for _, addr := range []uint64{2 * gib, 3 * gib, 5 * gib} {
		if _, err := l.Locate(addr); !errors.Is(err, ErrNotDecoded) {
			t.Errorf("Locate(%#x): %v", addr, err)
		}
	}
	if _, err := (Locator{}).Locate(0); !errors.Is(err, ErrNotDecoded) {
		t.Fatal(err)
	}
}

func TestByRank(t *testing.T) {
	l := testLocator()
	w := pages.Workload{Ranges: []pages.Range{{Base: 0, Length: 8 * pages.PageSize}, {Base: gib, Length: 2 * pages.PageSize}, {Base: 4 * gib, Length: pages.PageSize}}}
	got, err := l.ByRank(w.PFNs())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[RankKey{"A1", 0}], []uint64{0, 2, 4, 6}) || !slices.Equal(got[RankKey{"B1", 0}], []uint64{1, 3, 5, 7}) ||
		len(got[RankKey{"A1", 1}]) != 1 || len(got[RankKey{"B1", 1}]) != 1 || len(got[RankKey{"C1", 0}]) != 1 {
		t.Fatalf("%v", got)
	}
	// A 2 KiB interleave splits pages across modules: refused.
	l.TAD.Rules[0].Granularity = 2048
	if _, err := l.ByRank(w.PFNs()); err == nil {
		t.Fatal("straddling page accepted")
	}
}

func FuzzLocate(f *testing.F) {
	f.Add(uint64(0))
	f.Add(uint64(4*gib + 77))
	l := testLocator()
	f.Fuzz(func(t *testing.T, addr uint64) {
		loc, err := l.Locate(addr)
		if err != nil {
			return
		}
		g := l.Modules[loc.Module]
		if loc.Addr >= g.Capacity || loc.Rank < 0 || loc.Rank >= g.Ranks {
			t.Fatalf("Locate(%#x) = %+v", addr, loc)
		}
		// And it agrees with the firmware's own decode.
		slot, off, ok := l.TAD.Decode(addr)
		if !ok || slot != loc.Module || off != loc.Addr {
			t.Fatal("disagrees with the TAD")
		}
	})
}
