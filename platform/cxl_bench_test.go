//go:build unix

package platform

import (
	"fmt"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// BenchmarkOnline2TiB brings 2 TiB online on the cxl board two ways, the
// model's work only (boot outside the timer): a CXL type-3 expander
// (attention button, enumeration, CDAT over DOE, HPA allocation, decoder
// commit, dax/kmem add_memory_driver_managed of 1,024 2 GiB blocks onlined
// movable, node performance), and the physical DIMM hot-add of the same
// size, eight 256 GiB RDIMMs one after another (attention, SPD, power,
// training, TAD, SRAT, PNP0C80, add_memory), on a stepped clock so the
// hardware's simulated waits do not count. platform/bench/cxl.sh prints
// the ratios to the DIMM hot-add.
func BenchmarkOnline2TiB(b *testing.B) {
	const size = 2 << 40
	cxlBoard := func(b *testing.B, mut func(*profile.Profile)) *rig {
		prof, err := profile.Builtin("cxl")
		if err != nil {
			b.Fatal(err)
		}
		if mut != nil {
			mut(prof)
		}
		r := &rig{t: &testing.T{}, clk: clock.NewManual(epoch)}
		if r.p, err = New(prof, Options{Clock: r.clk}); err != nil {
			b.Fatal(err)
		}
		return r
	}
	runGrowth(b, []growthCase{
		{"dimm-hotadd-8x256GiB", func(b *testing.B) func() {
			reserve := 256
			r := cxlBoard(b, func(p *profile.Profile) { p.Hotplug.ReservePerSlotGiB = &reserve })
			var slots []string
			var imgs [][]byte
			for s := range 2 {
				for _, ch := range []string{"A", "B", "C", "D"} {
					slot := fmt.Sprintf("CPU%d_DIMM_%s2", s, ch)
					slots = append(slots, slot)
					imgs = append(imgs, r.imageOf(slot, 256, 2))
				}
			}
			return func() {
				for i, slot := range slots {
					if err := r.p.PressAttention(slot); err != nil {
						b.Fatal(err)
					}
					r.clk.RunUntilIdle(time.Minute)
					if _, err := r.p.Insert(slot, imgs[i]); err != nil {
						b.Fatal(err)
					}
					r.clk.RunUntilIdle(time.Minute)
					if s, _ := r.p.Snapshot().Slot(slot); s.State != StateEnabled {
						b.Fatalf("hot-add %s: %s %s", slot, s.State, s.Reason)
					}
				}
			}
		}},
		{"cxl-expander-2TiB", func(b *testing.B) func() {
			r := cxlBoard(b, nil)
			if err := r.p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: size}); err != nil {
				b.Fatal(err)
			}
			return func() {
				res, err := r.p.CXLAttention("CXL1")
				if err != nil || res.Online != size {
					b.Fatalf("%+v %v", res, err)
				}
			}
		}},
	})
}
