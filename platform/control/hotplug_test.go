package control

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHotPlugRoutes(t *testing.T) {
	_, clk, c := newAPI(t)
	ctx := context.Background()
	const slot = "CPU1_DIMM_C2"

	start, err := c.Events(ctx, 1<<62, 0)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := c.Attention(ctx, slot)
	if err != nil || sl.Status != "absent" || sl.Stage != "isolating" || sl.AttentionLED != "Blinking" {
		t.Fatalf("attention: %+v %v", sl, err)
	}
	clk.RunUntilIdle(time.Minute)
	if _, err := c.Insert(ctx, slot, ModuleRequest{CapacityGiB: 64}); err != nil {
		t.Fatal(err)
	}
	if sl, _ := c.Slot(ctx, slot); sl.Status != "starting" {
		t.Fatalf("after insert: %+v", sl)
	}
	// A long-poll parked before the hot-add finishes sees it finish.
	got := make(chan EventPage, 1)
	go func() {
		pg, _ := c.Events(ctx, start.LastSeq, 5*time.Second)
		got <- pg
	}()
	clk.RunUntilIdle(time.Minute)
	var kinds []string
	from := start.LastSeq
	for {
		pg, err := c.Events(ctx, from, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Records) == 0 {
			break
		}
		for _, r := range pg.Records {
			if r.Slot == slot {
				kinds = append(kinds, r.Kind)
			}
			from = r.Seq
		}
	}
	if pg := <-got; len(pg.Records) == 0 {
		t.Fatal("long-poll returned nothing")
	}
	joined := strings.Join(kinds, " ")
	for _, k := range []string{"AttentionPressed", "SlotReady", "SPDAccepted", "MemoryTrained", "KernelMemoryAdded", "MemoryHotAdded"} {
		if !strings.Contains(joined, k) {
			t.Errorf("events lack %s: %s", k, joined)
		}
	}
	sl, _ = c.Slot(ctx, slot)
	if sl.Status != "enabled" || sl.Memory == nil || sl.Memory.BlocksOnline != 32 {
		t.Fatalf("after hot-add: %+v %+v", sl, sl.Memory)
	}

	blocks, err := c.Blocks(ctx)
	if err != nil || blocks.BlockSizeBytes != 2<<30 {
		t.Fatalf("blocks: %+v %v", blocks.BlockSizeBytes, err)
	}
	id := int(sl.Memory.Base / blocks.BlockSizeBytes)
	// The direct map covers all System RAM, the hot-added module included.
	var dm DirectMap
	if err := c.Get(ctx, "/os/directmap", &dm); err != nil {
		t.Fatal(err)
	}
	var ramK uint64
	for _, b := range blocks.Blocks {
		ramK += b.PresentPages * 4
	}
	if got := dm.DirectMap4k + dm.DirectMap2M + dm.DirectMap1G; got != ramK || dm.Written.PUD == 0 ||
		!strings.Contains(dm.Text, "---[ Low Kernel Mapping ]---") {
		t.Fatalf("direct map %d kB for %d kB of RAM: %+v", got, ramK, dm.DirectMap)
	}
	var vs Vmstat
	if err := c.Get(ctx, "/os/vmstat", &vs); err != nil || !strings.Contains(vs.Text, "nr_tlb_remote_flush ") {
		t.Fatalf("vmstat: %v %q", err, vs.Text)
	}
	if _, err := c.SetBlockState(ctx, id, "offline"); err != nil {
		t.Fatal(err)
	}
	if sl, _ := c.Slot(ctx, slot); sl.Status != "offline" {
		t.Fatalf("after offlining a block: %s", sl.Status)
	}
	if _, err := c.SetBlockState(ctx, id, "online_movable"); err != nil {
		t.Fatal(err)
	}
	var ae *APIError
	if _, err := c.SetBlockState(ctx, id, "sideways"); !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("bad state: %v", err)
	}
	if _, err := c.SetBlockState(ctx, 1<<20, "offline"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("unknown block: %v", err)
	}

	kinds2, err := c.FaultKinds(ctx)
	if err != nil || len(kinds2) != 8 || kinds2[0].Description == "" {
		t.Fatalf("fault kinds: %+v %v", kinds2, err)
	}
	if sl, err := c.ArmFault(ctx, "CPU0_DIMM_B2", "training"); err != nil || len(sl.Faults) != 1 {
		t.Fatalf("arm: %+v %v", sl, err)
	}
	if _, err := c.ArmFault(ctx, "CPU0_DIMM_B2", "gremlins"); !errors.As(err, &ae) || ae.Code != "UnknownFault" {
		t.Fatalf("unknown fault: %v", err)
	}
	if sl, err := c.ClearFault(ctx, "CPU0_DIMM_B2", "all"); err != nil || len(sl.Faults) != 0 {
		t.Fatalf("clear: %+v %v", sl, err)
	}
	if _, err := c.Attention(ctx, "CPU0_DIMM_A1"); err != nil {
		t.Fatal(err) // boot memory: the eject is refused by the firmware, not the API
	}
	clk.RunUntilIdle(time.Minute)

	var tab ACPITable
	if err := c.Get(ctx, "/firmware/acpi/srat", &tab); err != nil || !strings.Contains(tab.Text, "Hot Pluggable") {
		t.Fatalf("srat: %v\n%.300s", err, tab.Text)
	}
	var mm Memmap
	if err := c.Get(ctx, "/firmware/memmap", &mm); err != nil || len(mm.MemmapParams) != 2 || !strings.Contains(mm.Text, "HP") {
		t.Fatalf("memmap: %+v %v", mm.MemmapParams, err)
	}
	if m := mm.Map; m.ReservePerSlotBytes != 64<<30 || len(m.Sockets) != 2 || m.Sockets[0].EmptySlots != 8 ||
		m.Sockets[0].Sets[0].Ways != 8 || !strings.Contains(mm.MapText, "hot-plug reservation 512 GiB for 8 empty slots") {
		t.Fatalf("memory map %+v\n%s", m, mm.MapText)
	}
	lines, err := c.Dmesg(ctx, 0)
	if err != nil || len(lines) == 0 || !strings.Contains(lines[0].Line, "Linux version") {
		t.Fatalf("dmesg: %v", err)
	}
	if _, err := c.Events(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Latch(ctx, "CPU9_DIMM_Z9", true); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("latch unknown slot: %v", err)
	}
}
