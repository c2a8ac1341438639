package firmware

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/smc"
)

func TestHomeAgentRegistersHotAddAndCleanFills(t *testing.T) {
	mem := profile.Memory{Type: "DDR5", SpeedMTs: 4800, Sockets: 2, ControllersPerSocket: 4, ChannelsPerController: 2, SlotsPerChannel: 2}
	topo := smc.Topology(mem)
	boot := map[string]uint64{}
	var hot smc.Slot
	for _, s := range topo {
		if s.Position == 1 {
			boot[s.Name] = 32 * GiB
		} else if s.Socket == 1 && hot.Name == "" {
			hot = s
		}
	}
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m, err := newAddressMap(mapConfig{topo: topo, boot: boot, perSlot: 64 * GiB, clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ha := m.HomeAgents()
	boot0 := len(ha.Trace(0))
	if boot0 == 0 || ha.Agents()[1].Registrations == 0 {
		t.Fatalf("boot registered nothing: %+v", ha.Agents())
	}
	// Before the hot-add: socket 1's reservation is homed but not
	// registered, so a read there is a clean fill.
	res := m.layout.Reserve[1][0]
	addr := res.Base + 12345
	got, err := ha.Access(addr)
	if err != nil || got.Response != "clean-fill" || got.Socket != 1 || got.Address != addr&^63 || got.Slot != "" {
		t.Fatalf("access before hot-add: %+v %v", got, err)
	}
	if a := ha.Agents()[1]; a.CleanFills != 1 || a.MemoryReads != 0 || a.DirectoryLookups != 1 {
		t.Fatalf("counters %+v", a)
	}
	tr := ha.Trace(uint64(boot0))
	if len(tr) != 1 || tr[0].Event != "clean_fill" || tr[0].Range != (Range{addr &^ 63, 64}) {
		t.Fatalf("trace %+v", tr)
	}

	rng, _, err := m.Add(hot, 64*GiB)
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m, 1)
	tr = ha.Trace(tr[0].Seq)
	if len(tr) != 1 || tr[0].Event != "sf_register" || tr[0].Range != rng || tr[0].Socket != 1 || tr[0].Generation != m.TAD().Generation {
		t.Fatalf("hot-add trace %+v, range %v", tr, rng)
	}
	got, err = ha.Access(rng.Base + 64)
	if err != nil || got.Response != "memory-read" || got.Slot != hot.Name || got.Offset != 64 {
		t.Fatalf("access after hot-add: %+v %v", got, err)
	}
	// Removal unregisters: the range answers clean fills again.
	if _, err := m.Remove(hot.Name); err != nil {
		t.Fatal(err)
	}
	checkMap(t, m, 2)
	tr = ha.Trace(tr[0].Seq)
	if len(tr) != 1 || tr[0].Event != "sf_unregister" || tr[0].Range != rng {
		t.Fatalf("removal trace %+v", tr)
	}
	if got, _ := ha.Access(rng.Base); got.Response != "clean-fill" {
		t.Fatalf("access after removal: %+v", got)
	}
	// MMIO belongs to no home agent.
	if _, err := ha.Access(LowMMIOBase); !errors.Is(err, ErrNotHomed) {
		t.Fatalf("MMIO access: %v", err)
	}
	text := FormatHomeAgents(ha.Agents(), ha.Trace(0))
	for _, want := range []string{"clean fills 2", "snoop filter directory", "sf_unregister"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestHomeAgentTraceIsBounded(t *testing.T) {
	h := newHomeAgents(&Layout{Boot: [][]Range{{{0, GiB}}}, Reserve: [][]Range{{{GiB, GiB}}}}, 1, nil)
	h.sync(&TAD{Generation: 1})
	for i := range traceLen + 10 {
		if got, err := h.Access(GiB + uint64(i)*CacheLine); err != nil || got.Response != "clean-fill" {
			t.Fatal(got, err)
		}
	}
	tr := h.Trace(0)
	if len(tr) != traceLen || tr[0].Seq != 11 || tr[len(tr)-1].Seq != traceLen+10 {
		t.Fatalf("trace of %d, first %d", len(tr), tr[0].Seq)
	}
}
