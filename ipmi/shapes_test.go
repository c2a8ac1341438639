package ipmi

import (
	"fmt"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile/shapegen"
)

// TestShapesSEL is the SEL side of the platform's property test over
// generated profiles (platform.TestShapesProperty), on fewer and smaller
// cases: the same script of hot-adds and removals, the platform's events
// fed to the BMC's SEL as the pump does, and after every step the
// Presence Detected records (Memory sensor, offset 06h, event data 3 the
// slot ordinal) say which slots hold a module, a refused module left one
// Configuration Error (07h) and nothing else did.
func TestShapesSEL(t *testing.T) {
	for _, c := range shapegen.SurfaceCases(testing.Short()) {
		t.Run(fmt.Sprint(c.Seed), func(t *testing.T) {
			t.Parallel()
			runShapeSEL(t, c)
		})
	}
}

func runShapeSEL(t *testing.T, c shapegen.Case) {
	clk := clock.NewManual(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	p, err := platform.New(c.Profile, platform.Options{Clock: clk, Kernel: kernel.Config{AutoOnline: kernel.OnlineMovable}})
	if err != nil {
		t.Fatalf("boot: %v\n%s", err, c)
	}
	m := testMachine(t, p)
	sub := p.Subscribe("sel", 1<<16)
	t.Cleanup(sub.Close)
	ordinal := map[string]int{}
	present := map[int]bool{} // by ordinal, from the SEL's presence records
	for _, s := range p.Snapshot().Slots {
		ordinal[s.Name] = s.Ordinal
		present[s.Ordinal] = s.Module != nil
	}
	seen := 0
	hw := shapegen.HardwareOf[*platform.Module](p, func() { clk.RunUntilIdle(time.Hour) })
	var trace []string
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("%s\n%s--- steps: %v", fmt.Sprintf(format, a...), c, trace)
	}
	// sync feeds the step's events to the SEL and reads its new records.
	sync := func(slot string, refused bool) {
		t.Helper()
		for done := false; !done; {
			select {
			case rec := <-sub.C:
				m.platformEvent(rec)
			default:
				done = true
			}
		}
		es := m.sel.Entries()
		configErrors, presence := 0, 0
		for _, e := range es[seen:] {
			if e[10] != 0x0C { // Memory sensor type
				continue
			}
			deassert, offset, data3 := e[12]&0x80 != 0, e[13]&0x0F, int(e[15])
			switch offset {
			case 0x06:
				present[data3] = !deassert
				if data3 == ordinal[slot] {
					presence++
				}
			case 0x07:
				configErrors++
			}
		}
		seen = len(es)
		if presence == 0 {
			fail("no presence record for %s", slot)
		}
		if want := map[bool]int{false: 0, true: 1}[refused]; configErrors != want {
			fail("%d configuration errors logged, want %d", configErrors, want)
		}
		for _, s := range p.Snapshot().Slots {
			if present[s.Ordinal] != (s.Module != nil) {
				fail("SEL says %s (ordinal %d) present=%v; it holds %v", s.Name, s.Ordinal, present[s.Ordinal], s.Module != nil)
			}
		}
	}
	for _, st := range c.Steps() {
		a := st.Module
		trace = append(trace, map[bool]string{true: "add ", false: "remove "}[st.Add]+a.Slot)
		if err := c.Apply(st, hw); err != nil {
			fail("%v", err)
		}
		sync(a.Slot, st.Add && c.Refused)
	}
}
