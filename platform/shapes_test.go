package platform

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// The rows of the issue "Every board a profile can describe must boot and
// hot-add": profiles that differ from the built-in ones only in their
// shape, one DDR5 RDIMM of two ranks in slot 1 of every channel, slot 2
// empty; boot, then a module the size of those fitted into CPU0_DIMM_A2.

// shapeYAML is a profile of the given shape (sockets x controllers x
// channels, slots per channel), slot 1 of every channel holding a gib
// GiB module of ranks ranks, in RAS mode (empty: AdvancedECC).
func shapeYAML(sockets, ctls, chans, slots, gib, ranks int, mode string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: shape-%dx%dx%dx%d-%dg\n", sockets, ctls, chans, slots, gib)
	b.WriteString("system: {manufacturer: bmcemu, model: Shape, serial_number: SHAPE0001}\n")
	fmt.Fprintf(&b, "memory: {type: DDR5, speed_mts: 4800, sockets: %d, controllers_per_socket: %d, channels_per_controller: %d, slots_per_channel: %d}\n",
		sockets, ctls, chans, slots)
	fmt.Fprintf(&b, "modules:\n  - {slots: [\"*1\"], capacity_gib: %d, ranks: %d, base_module: RDIMM, manufacturer: Samsung}\n", gib, ranks)
	if mode != "" {
		fmt.Fprintf(&b, "ras: {mode: %s}\n", mode)
	}
	return b.String()
}

func parseShape(t testing.TB, src string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse("shape.yaml", []byte(src))
	if err != nil {
		t.Fatalf("profile check refused:\n%s\n%v", src, err)
	}
	return p
}

// bootShape boots src or fails the test with the profile that did not.
func bootShape(t *testing.T, src string) *rig {
	t.Helper()
	prof := parseShape(t, src)
	r := &rig{t: t, clk: clock.NewManual(epoch)}
	p, err := New(prof, Options{Clock: r.clk, FaultSeed: 7})
	if err != nil {
		t.Fatalf("boot of a valid profile failed:\n%s\n%v", src, err)
	}
	r.p = p
	r.sub = p.Subscribe("rig", 1<<16)
	t.Cleanup(r.sub.Close)
	r.invariants()
	return r
}

// imageOf is a module of gib GiB and ranks ranks for slot.
func (r *rig) imageOf(slot string, gib, ranks int) []byte {
	r.t.Helper()
	img, err := spd.Encode(r.p.NewModuleSpec(slot, spd.Spec{CapacityGiB: gib, Ranks: ranks, PartNumber: "HOTADD"}))
	r.must(err)
	return img
}

// insertWait is `ctl attention SLOT` then `ctl insert SLOT --wait`.
func (r *rig) insertWait(slot string, gib, ranks int) {
	r.t.Helper()
	r.must(r.p.PressAttention(slot))
	r.clk.RunUntilIdle(time.Minute)
	_, err := r.p.Insert(slot, r.imageOf(slot, gib, ranks))
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
}

// mustHotAdd inserts a module into slot and requires the OS to have it.
func (r *rig) mustHotAdd(src, slot string, gib, ranks int) {
	r.t.Helper()
	total := r.p.Snapshot().Kernel.OnlineBytes
	r.drain()
	r.insertWait(slot, gib, ranks)
	s := r.slot(slot)
	if s.State != StateEnabled {
		r.t.Fatalf("hot-add of %d GiB into %s: state %s, reason %q\n%s\nevents: %v", gib, slot, s.State, s.Reason, src, kindsOf(r.drain(), slot))
	}
	if got := r.p.Snapshot().Kernel.OnlineBytes; got != total+uint64(gib)<<30 {
		r.t.Fatalf("hot-add of %d GiB into %s: online %d -> %d\n%s", gib, slot, total, got, src)
	}
	r.invariants()
}

func TestShapeRowsBootAndHotAdd(t *testing.T) {
	t.Parallel()
	type shape struct{ s, c, ch, sl int }
	for _, tc := range []struct {
		name   string
		shapes []shape
		sizes  []int
	}{
		// serve exited at boot: "boot extent too small to re-lay 5 ways".
		{"odd ways at boot", []shape{{1, 5, 1, 2}, {1, 5, 2, 2}, {1, 5, 3, 2}, {1, 5, 4, 2}, {1, 7, 1, 2}, {1, 7, 2, 2},
			{1, 7, 3, 2}, {1, 7, 4, 2}, {1, 3, 3, 2}, {1, 6, 3, 2}}, []int{32}},
		// every hot-add failed: "boot extent too small to re-lay 1 ways".
		{"re-lay at hot-add", []shape{{1, 6, 1, 2}, {1, 6, 2, 2}, {1, 6, 4, 2}, {2, 6, 2, 2}, {4, 6, 2, 2}, {8, 6, 2, 2},
			{1, 8, 1, 2}, {1, 8, 2, 2}, {1, 8, 3, 2}, {1, 8, 4, 2}}, []int{16, 256}},
		// all good on main: must stay so.
		{"good", []shape{{1, 2, 3, 2}, {1, 3, 2, 2}, {1, 3, 4, 2}, {2, 4, 2, 2}, {1, 4, 2, 3}}, []int{32, 64}},
	} {
		for _, sh := range tc.shapes {
			for _, gib := range tc.sizes {
				name := fmt.Sprintf("%s/%dx%dx%dx%d/%dG", tc.name, sh.s, sh.c, sh.ch, sh.sl, gib)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					src := shapeYAML(sh.s, sh.c, sh.ch, sh.sl, gib, 2, "")
					r := bootShape(t, src)
					r.mustHotAdd(src, "CPU0_DIMM_A2", gib, 2)
				})
			}
		}
	}
}

// TestShapeRowSparingHotAddsEverySlot: 1x6x2 in RankSparing refused every
// empty slot.
func TestShapeRowSparingHotAddsEverySlot(t *testing.T) {
	t.Parallel()
	src := shapeYAML(1, 6, 2, 2, 32, 2, "RankSparing")
	r := bootShape(t, src)
	if m := r.p.Snapshot().RAS.Mode; m != "RankSparing" {
		t.Fatalf("mode %s: %s", m, r.p.Snapshot().RAS.ConfigError)
	}
	for ch := range 12 {
		r.mustHotAdd(src, profile.SlotName(0, ch, 2), 32, 2)
	}
}

// TestShapeRowMirroredPairs: 1x6x2 and 1x8x1 in Mirroring hot-add a matched
// pair beside a populated pair.
func TestShapeRowMirroredPairs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ c, ch, gib int }{{6, 2, 32}, {6, 2, 64}, {8, 1, 32}, {8, 1, 64}} {
		t.Run(fmt.Sprintf("1x%dx%d/%dG", tc.c, tc.ch, tc.gib), func(t *testing.T) {
			t.Parallel()
			src := shapeYAML(1, tc.c, tc.ch, 2, tc.gib, 2, "Mirroring")
			r := bootShape(t, src)
			if m := r.p.Snapshot().RAS.Mode; m != "Mirroring" {
				t.Fatalf("mode %s: %s", m, r.p.Snapshot().RAS.ConfigError)
			}
			online := r.p.Snapshot().Kernel.OnlineBytes
			r.insertWait("CPU0_DIMM_A2", tc.gib, 2)
			if s := r.slot("CPU0_DIMM_A2"); s.Stage != "awaiting-partner" {
				t.Fatalf("first half: %+v", s)
			}
			r.insertWait("CPU0_DIMM_B2", tc.gib, 2)
			recs := r.drain()
			if h, ok := find[events.MemoryHotAdded](recs); !ok || h.Length != uint64(tc.gib)<<30 {
				t.Fatalf("pair not hot-added: %v\n%s", kindsOf(recs, ""), src)
			}
			if got := r.p.Snapshot().Kernel.OnlineBytes; got != online+uint64(tc.gib)<<30 {
				t.Fatalf("online %d -> %d", online, got)
			}
			r.invariants()
		})
	}
}

// TestShapeRowNoJEDECOrganisation: 512 GiB of two ranks is no module
// JEDEC describes; profile check refuses it, naming the module.
func TestShapeRowNoJEDECOrganisation(t *testing.T) {
	t.Parallel()
	_, err := profile.Parse("shape.yaml", []byte(shapeYAML(2, 4, 2, 2, 512, 2, "")))
	if err == nil || !strings.Contains(err.Error(), "modules[0]") || !strings.Contains(err.Error(), "no JEDEC organisation") {
		t.Fatalf("512 GiB x 2 ranks: %v", err)
	}
}

// TestShapeRowReservationFitsTheFittedModules: a module the size of those
// already fitted was refused for want of reservation (64 GiB per empty
// slot); every empty slot must take one.
func TestShapeRowReservationFitsTheFittedModules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s, c, ch, gib int
	}{{1, 1, 1, 128}, {8, 1, 1, 128}, {2, 4, 2, 256}} {
		t.Run(fmt.Sprintf("%dx%dx%d/%dG", tc.s, tc.c, tc.ch, tc.gib), func(t *testing.T) {
			t.Parallel()
			src := shapeYAML(tc.s, tc.c, tc.ch, 2, tc.gib, 2, "")
			r := bootShape(t, src)
			for _, s := range r.p.Snapshot().Slots {
				if s.Module == nil {
					r.mustHotAdd(src, s.Name, tc.gib, 2)
				}
			}
		})
	}
}
