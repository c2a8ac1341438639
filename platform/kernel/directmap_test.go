package kernel

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitMemRange(t *testing.T) {
	cases := []struct {
		s, e uint64
		want []dmRun
	}{
		{0, 2 * GiB, []dmRun{{0, 2 * GiB, level1G}}},
		{MiB, 3*GiB + 5*MiB, []dmRun{
			{MiB, 2 * MiB, level4K}, {2 * MiB, GiB, level2M}, {GiB, 3 * GiB, level1G},
			{3 * GiB, 3*GiB + 4*MiB, level2M}, {3*GiB + 4*MiB, 3*GiB + 5*MiB, level4K}}},
		{GiB + 128*MiB, GiB + 256*MiB, []dmRun{{GiB + 128*MiB, GiB + 256*MiB, level2M}}},
		{4096, 8192, []dmRun{{4096, 8192, level4K}}},
		// Within one 2 MiB region: all 4k.
		{3 * MiB, 3*MiB + 8192, []dmRun{{3 * MiB, 3*MiB + 8192, level4K}}},
		// Crossing a GiB boundary without a whole GiB: 2M both sides.
		{GiB - 4*MiB, GiB + 4*MiB, []dmRun{{GiB - 4*MiB, GiB + 4*MiB, level2M}}},
	}
	for _, c := range cases {
		got := splitMemRange(c.s, c.e)
		// Adjacent pieces of one size are one run in the map.
		var merged []dmRun
		for _, r := range got {
			if n := len(merged); n > 0 && merged[n-1].end == r.start && merged[n-1].level == r.level {
				merged[n-1].end = r.end
				continue
			}
			merged = append(merged, r)
		}
		if !slices.Equal(merged, c.want) {
			t.Errorf("splitMemRange(%#x, %#x) = %v, want %v", c.s, c.e, got, c.want)
		}
	}
}

func TestDirectMapBootUsesGbpages(t *testing.T) {
	k, _ := bootDefault(t, Config{})
	d := k.DirectMap()
	// 2 + 254 + 256 GiB, all GiB-aligned.
	if d.DirectMap1G != 512*GiB>>10 || d.DirectMap2M != 0 || d.DirectMap4k != 0 {
		t.Fatalf("boot direct map = %+v", d)
	}
	if d.Written.PUD != 512 || d.Written.PMD != 0 || d.Written.PTE != 0 || d.Written.PGD != 2 {
		t.Errorf("boot writes = %+v, want 512 PUD leaves in 2 PUD tables", d.Written)
	}
	m := k.Meminfo()
	if m.DirectMap1G != d.DirectMap1G || !strings.Contains(m.String(), "DirectMap1G:    536870912 kB") {
		t.Errorf("meminfo %q disagrees with the direct map %+v", m.String(), d)
	}
	if !strings.Contains(dmesgText(k), " [mem 0x100000000-0x407fffffff] page 1G") {
		t.Errorf("dmesg lacks init_memory_mapping's page lines:\n%s", dmesgText(k))
	}
}

func TestDirectMapHotAddRemove(t *testing.T) {
	k, _ := bootDefault(t, Config{BlockSize: 128 * MiB, NodeCPUs: map[int]int{0: 64, 1: 64}})
	base := 1024 * GiB // a new 512 GiB region: a new PUD table
	before := k.DirectMap()
	if err := k.AddMemory(2, base, 128*MiB, ""); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	d := k.DirectMap()
	if got := d.DirectMap2M - before.DirectMap2M; got != 128*MiB>>10 {
		t.Errorf("DirectMap2M grew by %d kB, want 131072", got)
	}
	w := PageTableCounts{PGD: d.Written.PGD - before.Written.PGD, PUD: d.Written.PUD - before.Written.PUD,
		PMD: d.Written.PMD - before.Written.PMD, PTE: d.Written.PTE - before.Written.PTE}
	if w != (PageTableCounts{PGD: 1, PUD: 1, PMD: 64}) {
		t.Errorf("first 128 MiB wrote %+v, want 64 PMD leaves, a PMD table linked by 1 PUD entry, a PUD table by 1 PGD entry", w)
	}
	if d.PageTablePages != before.PageTablePages+2 {
		t.Errorf("page-table pages %d -> %d, want +2", before.PageTablePages, d.PageTablePages)
	}
	if err := k.AddMemory(2, base+128*MiB, 128*MiB, ""); err != nil {
		t.Fatal(err)
	}
	d2 := k.DirectMap()
	if d2.Written.PMD-d.Written.PMD != 64 || d2.Written.PUD != d.Written.PUD || d2.PageTablePages != d.PageTablePages {
		t.Errorf("second block: writes %+v -> %+v, tables %d -> %d; want 64 PMD writes into the existing table",
			d.Written, d2.Written, d.PageTablePages, d2.PageTablePages)
	}

	// Remove the second block: its 64 entries go, the table stays, one
	// shootdown reaches all 128 CPUs.
	removeRange(t, k, base+128*MiB, 128*MiB)
	d3 := k.DirectMap()
	if d3.Cleared.PMD != 64 || d3.Cleared.PUD != 0 || d3.PageTablePages != d2.PageTablePages || d3.TLBShootdowns != 1 {
		t.Errorf("after removing one block: %+v", d3)
	}
	v := k.Vmstat()
	if v.NrTLBRemoteFlush != 1 || v.NrTLBRemoteFlushReceived != 127 || v.NrTLBLocalFlushAll != 1 {
		t.Errorf("vmstat after one shootdown: %+v", v)
	}
	if !strings.Contains(dmesgText(k), "cleared 0 PUD, 64 PMD, 0 PTE entries, freed 0 page-table pages; TLB shootdown flush_tlb_all on 128 CPUs") {
		t.Errorf("dmesg lacks the unmap line:\n%s", dmesgText(k))
	}
	// The last block in the GiB: the PMD table is freed too.
	removeRange(t, k, base, 128*MiB)
	d4 := k.DirectMap()
	if d4.Cleared.PMD != 128 || d4.Cleared.PUD != 1 || d4.PageTablePages != before.PageTablePages+1 || d4.TLBShootdowns != 2 {
		t.Errorf("after removing both: %+v (PUD table stays, PMD table freed)", d4)
	}
	if d4.DirectMap2M != before.DirectMap2M || d4.DirectMap1G != before.DirectMap1G {
		t.Errorf("direct map did not shrink back: %+v vs %+v", d4, before)
	}
	if k.Vmstat().NrTLBRemoteFlushReceived != 254 {
		t.Errorf("vmstat: %+v", k.Vmstat())
	}
}

// A 128 MiB block removed out of a GiB mapped with one 1 GiB page: the
// page stays (remove_pud_table clears only whole pages), nothing is
// flushed, and adding the block back writes nothing.
func TestDirectMapPartialGbpageStays(t *testing.T) {
	// ZONE_MOVABLE keeps the re-added block's memmap off the new node.
	k, _ := bootDefault(t, Config{BlockSize: 128 * MiB, AutoOnline: OnlineMovable})
	base := 1024 * GiB
	if err := k.AddMemory(2, base, GiB, ""); err != nil {
		t.Fatal(err)
	}
	d := k.DirectMap()
	removeRange(t, k, base+GiB-128*MiB, 128*MiB)
	d2 := k.DirectMap()
	if d2.DirectMap1G != d.DirectMap1G || d2.TLBShootdowns != 0 || d2.Cleared != (PageTableCounts{}) {
		t.Errorf("partial removal changed the direct map: %+v -> %+v", d, d2)
	}
	if !strings.Contains(dmesgText(k), "stays mapped: part of a 1G page") {
		t.Errorf("dmesg lacks the kept-page line")
	}
	if err := k.AddMemory(2, base+GiB-128*MiB, 128*MiB, ""); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if d3 := k.DirectMap(); d3.Written != d2.Written {
		t.Errorf("re-adding under a live 1G page wrote entries: %+v -> %+v", d2.Written, d3.Written)
	}
	// Removed piecewise, no removal covers the whole GiB: the page
	// outlives the memory, as in Linux.
	removeRange(t, k, base+GiB-128*MiB, 128*MiB)
	removeRange(t, k, base, GiB-128*MiB)
	if d4 := k.DirectMap(); d4.DirectMap1G != d.DirectMap1G || d4.TLBShootdowns != 0 {
		t.Errorf("after piecewise removal: %+v", d4)
	}
	// A GiB removed whole: its PUD entry is cleared and flushed.
	if err := k.AddMemory(3, base+GiB, GiB, ""); err != nil {
		t.Fatal(err)
	}
	removeRange(t, k, base+GiB, GiB)
	if d5 := k.DirectMap(); d5.Cleared.PUD != 1 || d5.TLBShootdowns != 1 || d5.DirectMap1G != d.DirectMap1G {
		t.Errorf("after removing a whole GiB: %+v", d5)
	}
}

// removeRange offlines every block of [start, start+size) and removes it.
func removeRange(t *testing.T, k *Kernel, start, size uint64) {
	t.Helper()
	for a := start; a < start+size; a += k.BlockSizeBytes() {
		if b, _ := k.Block(k.BlockForAddr(a)); b.State == "online" {
			if err := k.OfflineBlock(b.ID); err != nil {
				t.Fatalf("offline memory%d: %v", b.ID, err)
			}
		}
	}
	if err := k.RemoveMemory(start, size); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
}

func TestDirectMapString(t *testing.T) {
	k, _ := bootDefault(t, Config{})
	s := k.DirectMap().String()
	for _, want := range []string{"DirectMap1G:    536870912 kB", "---[ Low Kernel Mapping ]---",
		"0xffff888000000000-0xffff888080000000         2G     RW PSE GLB NX pud"} {
		if !strings.Contains(s, want) {
			t.Errorf("DirectMap text lacks %q:\n%s", want, s)
		}
	}
}

func TestFlushKernelRange(t *testing.T) {
	d := newDirectMap()
	if d.flushKernelRange(0, 33*PageSize, 4) {
		t.Error("33 pages took a full flush")
	}
	if !d.flushKernelRange(0, 34*PageSize, 4) {
		t.Error("34 pages did not take a full flush")
	}
	if d.tlbLocalFlushOne != 33 || d.tlbLocalFlushAll != 1 || d.tlbRemoteFlush != 2 || d.tlbRemoteFlushReceived != 6 || d.shootdowns != 2 {
		t.Errorf("counters %+v", d)
	}
	d.flushKernelRange(0, PageSize, 1) // one CPU: no IPI
	if d.tlbRemoteFlush != 2 {
		t.Errorf("a single CPU sent an IPI: %+v", d)
	}
}

// Driver-managed memory (virtio-mem, kmem) is mapped and unmapped like any
// other: the direct map does not care who added it.
func TestDirectMapDriverManaged(t *testing.T) {
	k, _ := bootDefault(t, Config{BlockSize: 128 * MiB, NodeCPUs: map[int]int{0: 2}})
	before := k.DirectMap()
	base := 1024 * GiB
	for i := range uint64(3) {
		if err := k.AddMemoryDriverManaged(0, base+i*128*MiB, 128*MiB, "System RAM (virtio_mem)", true); err != nil {
			t.Fatal(err)
		}
	}
	mustCheck(t, k)
	if d := k.DirectMap(); d.DirectMap2M-before.DirectMap2M != 384*MiB>>10 || d.Written.PMD-before.Written.PMD != 192 {
		t.Fatalf("after three virtio-mem blocks: %+v", d)
	}
	removeRange(t, k, base+256*MiB, 128*MiB)
	if v := k.Vmstat(); v.NrTLBRemoteFlush != 1 || v.NrTLBRemoteFlushReceived != 1 || v.NrTLBLocalFlushAll != 1 {
		t.Fatalf("vmstat after unplugging a block: %+v", v)
	}
}
