package kernel

import (
	"errors"
	"testing"
)

// A driver-managed block onlined with half its sub-blocks held back: the
// block is present whole, only the plugged half is managed; fake-offline
// and fake-online move 4 MiB between the two, and offlining skips the
// PG_offline pages.
func TestOnlinePageCallbackAndFakeOffline(t *testing.T) {
	k, _ := bootDefault(t, Config{})
	before := k.TotalRAMPages()
	start := 600 * GiB
	sb := 4 * MiB / PageSize
	held := func(s, n uint64) []PFNRange { return []PFNRange{{Start: s + n/2, Pages: n / 2}} }
	if err := k.SetOnlinePageCallback(held); err != nil {
		t.Fatal(err)
	}
	if err := k.SetOnlinePageCallback(held); !errors.Is(err, ErrBusy) {
		t.Fatalf("second callback: %v, want EBUSY", err)
	}
	if err := k.AddMemory(0, start, 2*GiB, "System RAM (virtio_mem)"); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	// Driver-managed: not in /sys/firmware/memmap, not RAM to kexec; a
	// plain add_memory is in both.
	if err := k.AddMemory(0, 700*GiB, 2*GiB, ""); err != nil {
		t.Fatal(err)
	}
	inMap := func(a uint64) bool {
		for _, e := range k.FirmwareMemmap() {
			if e.Start <= a && a <= e.End && e.Type == "System RAM" {
				return true
			}
		}
		return false
	}
	inKexec := func(a uint64) bool {
		for _, r := range k.KexecRAM() {
			if r.Start <= a && a < r.Start+r.Size {
				return true
			}
		}
		return false
	}
	if inMap(start) || inKexec(start) || !inMap(700*GiB) || !inKexec(700*GiB) || !inMap(0x100000) {
		t.Fatalf("firmware memmap / kexec RAM: virtio_mem %v/%v, plain %v/%v\n%s", inMap(start), inKexec(start), inMap(700*GiB), inKexec(700*GiB), k.FirmwareMemmapText())
	}
	for id := int(700 * GiB / k.BlockSizeBytes()); uint64(id)*k.BlockSizeBytes() < 702*GiB; id++ {
		if err := k.OfflineBlock(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.RemoveMemory(700*GiB, 2*GiB); err != nil {
		t.Fatal(err)
	}
	if inMap(700 * GiB) {
		t.Fatal("removed memory still in /sys/firmware/memmap")
	}
	blk := k.BlockSizeBytes()
	perBlock := blk / PageSize
	memmap := 2 * GiB / SectionSize * memmapPagesPerSection
	if got, want := k.TotalRAMPages(), before+2*GiB/PageSize/2; got != want {
		t.Fatalf("totalram after add = %d, want %d (plugged half only; memmap %d from elsewhere)", got, want, memmap)
	}
	// Unplug one more sub-block of the first block: 4 MiB leave MemTotal.
	if err := k.FakeOffline(start, 4*MiB); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if got, want := k.TotalRAMPages(), before+2*GiB/PageSize/2-sb; got != want {
		t.Fatalf("totalram after fake offline = %d, want %d", got, want)
	}
	if err := k.FakeOffline(start, 4*MiB); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second fake offline: %v, want EINVAL", err)
	}
	if err := k.FakeOnline(start, 4*MiB); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	// An unmovable page refuses the range and changes nothing.
	h, err := k.Alloc(0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	pfn, _, _, _ := k.PFN(h)
	if pfn*PageSize >= start && pfn*PageSize < start+2*GiB {
		sbStart := pfn * PageSize &^ (4*MiB - 1)
		total := k.TotalRAMPages()
		if err := k.FakeOffline(sbStart, 4*MiB); !errors.Is(err, ErrBusy) {
			t.Fatalf("fake offline over a kernel page: %v, want EBUSY", err)
		}
		if k.TotalRAMPages() != total {
			t.Fatal("refused fake offline changed totalram")
		}
		wantLog(t, k, "alloc_contig_range: [", "PFNs busy")
	}
	_ = k.Free(h)
	// Offline then remove every block: PG_offline pages leave with them.
	for id := int(start / blk); uint64(id)*blk < start+2*GiB; id++ {
		if err := k.OfflineBlock(id); err != nil {
			t.Fatalf("offline memory%d: %v", id, err)
		}
	}
	mustCheck(t, k)
	if err := k.RemoveMemory(start, 2*GiB); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if got := k.TotalRAMPages(); got != before {
		t.Fatalf("totalram after remove = %d, want %d", got, before)
	}
	_ = perBlock
	k.RestoreOnlinePageCallback()
}

// Balloon pages without DEFLATE_ON_OOM leave MemTotal; with it they stay.
// Either way present pages, blocks and /proc/iomem do not change, and an
// offline migrates balloon pages along with their managed adjustment.
func TestBalloonManagedAccounting(t *testing.T) {
	k, _ := bootDefault(t, Config{})
	total := k.TotalRAMPages()
	iomem := k.IomemText()
	nblocks := len(k.Blocks())
	h1, err := k.BalloonInflate(8, true)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := k.BalloonInflate(8, false)
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if got := k.TotalRAMPages(); got != total-256 {
		t.Fatalf("totalram = %d, want %d (one unmanaged 1 MiB balloon buffer)", got, total-256)
	}
	if k.IomemText() != iomem || len(k.Blocks()) != nblocks {
		t.Fatal("balloon changed iomem or memory blocks")
	}
	if err := k.Free(h1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Free of a balloon page: %v, want ENOENT", err)
	}
	if err := k.BalloonDeflate(h1); err != nil {
		t.Fatal(err)
	}
	if err := k.BalloonDeflate(h2); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if k.TotalRAMPages() != total {
		t.Fatal("deflate did not restore totalram")
	}
}

// A hot-added block holding an unmanaged balloon page offlines: the page
// migrates and its managed adjustment moves with it.
func TestBalloonPageMigratesOnOffline(t *testing.T) {
	k, _ := bootDefault(t, Config{AutoOnline: OnlineMovable})
	start := 600 * GiB
	if err := k.AddMemory(0, start, 2*GiB, ""); err != nil {
		t.Fatal(err)
	}
	var inBlock Handle
	for range 4096 {
		h, err := k.BalloonInflate(8, true)
		if err != nil {
			t.Fatal(err)
		}
		if pfn, _, _, _ := k.PFN(h); pfn*PageSize >= start {
			inBlock = h
			break
		}
	}
	if inBlock == 0 {
		t.Skip("the allocator never reached the hot-added range")
	}
	total := k.TotalRAMPages()
	pfn, _, _, _ := k.PFN(inBlock)
	if err := k.OfflineBlock(int(pfn * PageSize / k.BlockSizeBytes())); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if got := k.TotalRAMPages(); got != total-k.BlockSizeBytes()/PageSize {
		t.Fatalf("totalram = %d, want %d", got, total-k.BlockSizeBytes()/PageSize)
	}
}
