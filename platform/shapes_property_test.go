package platform

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile/shapegen"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// The property test over generated profiles. The short run (CI) draws a
// few hundred seeded cases of up to 48 slots and 64 GiB modules; the long
// run (-shapes.long) every shape up to the validator's limits:
//
//	go test ./platform -run TestShapesProperty -shapes.long -shapes.cases 2000 -timeout 2h
//	go test ./platform -run TestShapesProperty -shapes.seed 4711 -shapes.cases 1 -v   # one case again
var (
	shapesLong  = flag.Bool("shapes.long", false, "property test: every shape up to the validator's limits (slow)")
	shapesCases = flag.Int("shapes.cases", 0, "property test: how many cases (default 200, or 2000 with -shapes.long)")
	shapesSeed  = flag.Uint64("shapes.seed", 1, "property test: seed of the first case")
)

func TestShapesProperty(t *testing.T) {
	n, lim := 200, shapegen.Limits{MaxSlots: 48, MaxModuleGiB: 64}
	if *shapesLong {
		n, lim = 2000, shapegen.Limits{}
	}
	if testing.Short() {
		n = 24
	}
	if *shapesCases > 0 {
		n = *shapesCases
	}
	for i := range n {
		seed := *shapesSeed + uint64(i)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			runShapeCase(t, shapegen.Generate(seed, lim))
		})
	}
}

// FuzzShapes is the generator as a fuzz target: any seed, small shapes.
func FuzzShapes(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		runShapeCase(t, shapegen.Generate(seed, shapegen.Limits{MaxSlots: 24, MaxModuleGiB: 32}))
	})
}

// shapeRun drives one case and checks the server after every step.
type shapeRun struct {
	t     testing.TB
	c     shapegen.Case
	p     *Platform
	clk   *clock.Manual
	trace []string
	// in service: hot-added modules the OS has, by slot (for a mirrored
	// pair, the primary with the pair's capacity).
	mapped map[string]uint64
	seated map[string]bool // hot-added slots holding a module
	boot   bootViews
}

// bootViews are what the OS and firmware show; removing everything
// hot-added must give them back byte for byte.
type bootViews struct {
	iomem, blocks, srat, hmat, efi []byte
	memTotal                       uint64
	online                         uint64
}

func (r *shapeRun) views() bootViews {
	blocks, err := json.Marshal(r.p.Blocks())
	if err != nil {
		r.fail("blocks: %v", err)
	}
	efi, _ := json.Marshal(r.p.EFIMemoryMap())
	return bootViews{iomem: []byte(r.p.IomemText()), blocks: blocks, srat: r.p.SRAT().Encode(), hmat: r.p.l().fw.HMAT().Encode(),
		efi: efi, memTotal: r.p.Meminfo().MemTotal << 10, online: r.p.Snapshot().Kernel.OnlineBytes}
}

func (r *shapeRun) fail(format string, a ...any) {
	r.t.Helper()
	r.t.Fatalf("%s\n%s--- steps:\n%s", fmt.Sprintf(format, a...), r.c.String(), strings.Join(r.trace, "\n"))
}

func runShapeCase(t testing.TB, c shapegen.Case) {
	r := &shapeRun{t: t, c: c, clk: clock.NewManual(epoch), mapped: map[string]uint64{}, seated: map[string]bool{}}
	// Hot-added memory is onlined movable (memhp_default_state=
	// online_movable), as on a server meant to hot-remove it: the kernel
	// keeps its own allocations (the next add's memmap) out of it, so the
	// OS can always give it back. Onlined to Normal, a later add's memmap
	// may pin it and the eject is refused with EBUSY (TestHotRemove).
	p, err := New(c.Profile, Options{Clock: r.clk, FaultSeed: c.Seed, Kernel: kernel.Config{AutoOnline: kernel.OnlineMovable}})
	if err != nil {
		r.fail("boot: %v", err)
	}
	r.p = p
	if c.Mode != "RAID5" || len(c.Boot) > 0 {
		if got := p.Snapshot().RAS; got.Mode != c.Mode || got.ConfigError != "" {
			r.fail("RAS mode %s not applied: %+v", c.Mode, got)
		}
	}
	r.boot = r.views()
	r.check("boot")

	for _, st := range c.Steps() {
		if st.Add {
			r.add(st.Module)
		} else {
			r.remove(st.Module)
		}
	}
	now := r.views()
	for _, v := range []struct {
		name     string
		got, was []byte
	}{{"/proc/iomem", now.iomem, r.boot.iomem}, {"memory blocks", now.blocks, r.boot.blocks}, {"SRAT", now.srat, r.boot.srat},
		{"HMAT", now.hmat, r.boot.hmat}, {"EFI memory map", now.efi, r.boot.efi}} {
		if !bytes.Equal(v.got, v.was) {
			r.fail("%s after removing every hot-added module differs from boot:\n%s\nboot:\n%s", v.name, v.got, v.was)
		}
	}
	if now.memTotal != r.boot.memTotal || now.online != r.boot.online {
		r.fail("MemTotal %d online %d after removing everything, %d and %d at boot", now.memTotal, now.online, r.boot.memTotal, r.boot.online)
	}
}

func (r *shapeRun) partnerOf(a shapegen.Module) shapegen.Module {
	for _, b := range r.c.Adds {
		if b.Socket == a.Socket && b.Position == a.Position && b.Channel == a.Channel^1 {
			return b
		}
	}
	r.fail("%s has no partner in the plan", a.Slot)
	return shapegen.Module{}
}

// add is `ctl attention SLOT; ctl insert SLOT --wait` and its expected
// outcome in the case's mode.
func (r *shapeRun) add(a shapegen.Module) {
	r.t.Helper()
	r.trace = append(r.trace, fmt.Sprintf("add %s %d GiB x%d", a.Slot, a.CapacityGiB, a.Ranks))
	if err := r.p.PressAttention(a.Slot); err != nil {
		r.fail("attention %s: %v", a.Slot, err)
	}
	r.clk.RunUntilIdle(time.Minute)
	img := r.image(a)
	if _, err := r.p.Insert(a.Slot, img); err != nil {
		r.fail("insert %s: %v", a.Slot, err)
	}
	r.clk.RunUntilIdle(time.Hour)
	s, _ := r.p.Snapshot().Slot(a.Slot)
	switch {
	case r.c.Refused:
		// RAID5 grows by upgrading whole cartridges: the RAS engine
		// refuses a module in an empty slot; it is pulled again.
		if s.State != StateFailed || !strings.Contains(s.Reason, "RAID memory") {
			r.fail("RAID5 add into %s: %s %q, want a refusal", a.Slot, s.State, s.Reason)
		}
		if _, err := r.p.Remove(a.Slot); err != nil {
			r.fail("pull refused %s: %v", a.Slot, err)
		}
		r.clk.RunUntilIdle(time.Minute)
	case r.c.Mode == "Mirroring":
		r.seated[a.Slot] = true
		partner := r.partnerOf(a)
		if !r.seated[partner.Slot] {
			if s.Stage != "awaiting-partner" {
				r.fail("first half %s: %+v", a.Slot, s)
			}
			break
		}
		primary := a
		if a.Channel%2 == 1 {
			primary = partner
		}
		for _, sl := range []string{a.Slot, partner.Slot} {
			if st, _ := r.p.Snapshot().Slot(sl); st.State != StateEnabled {
				r.fail("pair %s: %s is %s (%q)", primary.Slot, sl, st.State, st.Reason)
			}
		}
		r.mapped[primary.Slot] = uint64(primary.CapacityGiB) << 30
	default:
		if s.State != StateEnabled {
			r.fail("add %s: %s (%q)", a.Slot, s.State, s.Reason)
		}
		r.seated[a.Slot] = true
		r.mapped[a.Slot] = uint64(a.CapacityGiB) << 30
	}
	r.check("add " + a.Slot)
}

// remove is `ctl attention SLOT; ctl remove SLOT --wait`.
func (r *shapeRun) remove(a shapegen.Module) {
	r.t.Helper()
	if !r.seated[a.Slot] {
		return
	}
	r.trace = append(r.trace, "remove "+a.Slot)
	if err := r.p.PressAttention(a.Slot); err != nil {
		r.fail("attention %s: %v", a.Slot, err)
	}
	r.clk.RunUntilIdle(time.Hour)
	if s, _ := r.p.Snapshot().Slot(a.Slot); s.Power != "Isolated" && s.Power != "Off" {
		r.fail("%s not ejected: %s power %s stage %q reason %q", a.Slot, s.State, s.Power, s.Stage, s.Reason)
	}
	if _, err := r.p.Remove(a.Slot); err != nil {
		r.fail("remove %s: %v", a.Slot, err)
	}
	r.clk.RunUntilIdle(time.Minute)
	delete(r.seated, a.Slot)
	delete(r.mapped, a.Slot)
	r.check("remove " + a.Slot)
}

func (r *shapeRun) image(a shapegen.Module) []byte {
	spec := r.p.NewModuleSpec(a.Slot, specOf(a))
	img, err := encodeSpec(spec)
	if err != nil {
		r.fail("module for %s: %v", a.Slot, err)
	}
	return img
}

// check is the property after every step.
func (r *shapeRun) check(step string) {
	r.t.Helper()
	p := r.p
	if err := p.CheckInvariants(); err != nil {
		r.fail("%s: %v", step, err)
	}
	snap := p.Snapshot()
	layout := p.Layout()

	// Slot ranges: every module in service has its own range, disjoint.
	var want uint64
	ranges := map[string]firmware.Range{}
	for slot, n := range r.mapped {
		s, _ := snap.Slot(slot)
		if s.State != StateEnabled || s.Memory == nil || s.Memory.Length != n {
			r.fail("%s: %s should serve %d bytes: %+v", step, slot, n, s)
		}
		ranges[slot] = firmware.Range{Base: s.Memory.Base, Length: s.Memory.Length}
		want += n
	}
	var hot []firmware.Range
	for _, rg := range ranges {
		hot = append(hot, rg)
	}
	sort.Slice(hot, func(i, j int) bool { return hot[i].Base < hot[j].Base })
	for i := 1; i < len(hot); i++ {
		if hot[i-1].Overlaps(hot[i]) {
			r.fail("%s: hot-added ranges %v and %v overlap", step, hot[i-1], hot[i])
		}
	}

	// SRAT covers exactly the boot and reserved ranges, per node.
	for s := range layout.Boot {
		var srat, fw []firmware.Range
		for _, m := range p.SRAT().Memory {
			if int(m.ProximityDomain) == s {
				srat = append(srat, firmware.Range{Base: m.Base, Length: m.Length})
			}
		}
		fw = append(append(fw, layout.Boot[s]...), layout.Reserve[s]...)
		if a, b := union(srat), union(fw); !slices.Equal(a, b) {
			r.fail("%s: SRAT node %d covers %v, the firmware's ranges are %v", step, s, a, b)
		}
	}

	// /proc/iomem: System RAM outside boot memory is exactly the
	// hot-added ranges, each inside its socket's reservation.
	var extra []firmware.Range
	var walk func(rs []kernel.Resource)
	walk = func(rs []kernel.Resource) {
		for _, res := range rs {
			if res.Name == "System RAM" {
				rg := firmware.Range{Base: res.Start, Length: res.End - res.Start + 1}
				inBoot := false
				for _, b := range layout.Boot {
					for _, br := range b {
						inBoot = inBoot || br.Contains(rg)
					}
				}
				if !inBoot {
					extra = append(extra, rg)
				}
			}
			walk(res.Children)
		}
	}
	walk(p.Iomem())
	if a, b := union(extra), union(hot); !slices.Equal(a, b) {
		r.fail("%s: /proc/iomem hot-added System RAM %v, modules in service %v", step, a, b)
	}

	// Memory blocks: the hot-added ones are exactly the ranges in service,
	// online, on their socket's node.
	var blocks []firmware.Range
	var online uint64
	for _, b := range p.Blocks() {
		if b.State == "online" {
			online += b.PresentPages * kernel.PageSize
		}
		if b.Boot {
			continue
		}
		blocks = append(blocks, firmware.Range{Base: b.Start, Length: b.Size})
		if b.State != "online" {
			r.fail("%s: hot-added block %d is %s", step, b.ID, b.State)
		}
	}
	if a, b := union(blocks), union(hot); !slices.Equal(a, b) {
		r.fail("%s: hot-added memory blocks cover %v, modules in service %v", step, a, b)
	}

	// Totals: online memory, MemTotal and the snapshot agree.
	k := snap.Kernel
	if k.OnlineBytes != online || k.OnlineBytes != r.boot.online+want {
		r.fail("%s: online %d bytes, blocks %d, boot %d + hot-added %d", step, k.OnlineBytes, online, r.boot.online, want)
	}
	memTotal := p.Meminfo().MemTotal << 10 // /proc/meminfo counts kB
	if memTotal != k.TotalRAMBytes {
		r.fail("%s: MemTotal %d, snapshot %d", step, memTotal, k.TotalRAMBytes)
	}
	// MemTotal grows by what is added, less nothing more than its memmap.
	if grew := memTotal - r.boot.memTotal; memTotal < r.boot.memTotal || grew > want || grew < want-want/64 {
		r.fail("%s: MemTotal %d, %d at boot, %d hot-added", step, memTotal, r.boot.memTotal, want)
	}
	for _, s := range snap.Slots {
		if _, boot := r.bootSlot(s.Name); boot {
			continue
		}
		if !r.seated[s.Name] && s.State != StateAbsent {
			r.fail("%s: %s should be empty: %s %q", step, s.Name, s.State, s.Reason)
		}
	}
}

func (r *shapeRun) bootSlot(name string) (shapegen.Module, bool) {
	for _, m := range r.c.Boot {
		if m.Slot == name {
			return m, true
		}
	}
	return shapegen.Module{}, false
}

// union merges ranges into sorted, disjoint, non-adjacent ones.
func union(rs []firmware.Range) []firmware.Range {
	rs = slices.Clone(rs)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Base < rs[j].Base })
	var out []firmware.Range
	for _, rg := range rs {
		if rg.Length == 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End() >= rg.Base {
			out[n-1].Length = max(out[n-1].End(), rg.End()) - out[n-1].Base
			continue
		}
		out = append(out, rg)
	}
	return out
}

func specOf(a shapegen.Module) spd.Spec {
	return spd.Spec{CapacityGiB: a.CapacityGiB, Ranks: a.Ranks, PartNumber: "SHAPEGEN"}
}

func encodeSpec(s spd.Spec) ([]byte, error) { return spd.Encode(s) }
