package redfish

import (
	"fmt"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/profile/shapegen"
)

// TestShapesRedfish is the Redfish side of the platform's property test
// over generated profiles (platform.TestShapesProperty), on fewer and
// smaller cases: the same script of hot-adds and removals, and after
// every step MemorySummary.TotalSystemMemoryGiB is the boot usable memory
// plus what is hot-added and in service, and every Memory member's state
// and capacity follow the slot.
func TestShapesRedfish(t *testing.T) {
	for _, c := range shapegen.SurfaceCases(testing.Short()) {
		t.Run(fmt.Sprint(c.Seed), func(t *testing.T) {
			t.Parallel()
			runShapeRedfish(t, c)
		})
	}
}

func runShapeRedfish(t *testing.T, c shapegen.Case) {
	clk := clock.NewManual(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	p, err := platform.New(c.Profile, platform.Options{Clock: clk, Kernel: kernel.Config{AutoOnline: kernel.OnlineMovable}})
	if err != nil {
		t.Fatalf("boot: %v\n%s", err, c)
	}
	h := newHandler(t, p)
	boot := p.Snapshot().RAS.UsableBytes
	inService := map[string]uint64{} // hot-added slot -> bytes the OS has
	seated := map[string]bool{}
	hw := shapegen.HardwareOf[*platform.Module](p, func() { clk.RunUntilIdle(time.Hour) })
	var trace []string
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("%s\n%s--- steps: %v", fmt.Sprintf(format, a...), c, trace)
	}
	check := func() {
		t.Helper()
		var want uint64 = boot
		for _, b := range inService {
			want += b
		}
		sys := getJSON(t, h, "/redfish/v1/Systems/1")
		if got := path(t, sys, "MemorySummary", "TotalSystemMemoryGiB"); got != float64(want)/(1<<30) {
			fail("TotalSystemMemoryGiB %v, want %v", got, float64(want)/(1<<30))
		}
		coll := getJSON(t, h, memoryCollectionPath())
		snap := p.Snapshot()
		if coll["Members@odata.count"] != float64(len(snap.Slots)) {
			fail("Memory members %v, slots %d", coll["Members@odata.count"], len(snap.Slots))
		}
		for _, s := range snap.Slots {
			m := getJSON(t, h, memoryPath(s.Name))
			state := path(t, m, "Status", "State")
			switch {
			case s.Module == nil:
				if state != "Absent" {
					fail("%s empty, Memory state %v", s.Name, state)
				}
			case inService[s.Name] > 0:
				if state != "Enabled" || m["CapacityMiB"] != float64(s.Module.SPD.CapacityMiB) {
					fail("%s in service, Memory %v %v MiB", s.Name, state, m["CapacityMiB"])
				}
			}
			if seated[s.Name] && s.Module == nil {
				fail("%s should hold a module", s.Name)
			}
		}
	}
	check()
	for _, st := range c.Steps() {
		a := st.Module
		trace = append(trace, map[bool]string{true: "add ", false: "remove "}[st.Add]+a.Slot)
		if err := c.Apply(st, hw); err != nil {
			fail("%v", err)
		}
		switch {
		case !st.Add:
			delete(seated, a.Slot)
			delete(inService, a.Slot)
		case c.Refused:
		case c.Mode == "Mirroring":
			seated[a.Slot] = true
			primary := profile.SlotName(a.Socket, a.Channel&^1, a.Position)
			partner := profile.SlotName(a.Socket, a.Channel^1, a.Position)
			if seated[partner] {
				inService[primary] = uint64(a.CapacityGiB) << 30
			}
		default:
			seated[a.Slot] = true
			inService[a.Slot] = uint64(a.CapacityGiB) << 30
		}
		check()
	}
}
