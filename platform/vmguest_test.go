package platform

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/vm"
)

// builtin loads a built-in profile and lets mut edit it.
func builtin(t *testing.T, name string, mut func(*profile.Profile)) *profile.Profile {
	t.Helper()
	prof, err := profile.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		mut(prof)
	}
	return prof
}

func guestRig(t *testing.T, name string, mut func(*profile.Profile)) *rig {
	t.Helper()
	r := bootRig(t, builtin(t, name, mut), nil)
	r.invariants()
	return r
}

func iomemFind(rs []kernel.Resource, name string) []kernel.Resource {
	var out []kernel.Resource
	for _, r := range rs {
		if r.Name == name {
			out = append(out, r)
		}
		out = append(out, iomemFind(r.Children, name)...)
	}
	return out
}

func inFirmwareMap(p *Platform, addr uint64) bool {
	for _, e := range p.FirmwareMemmap() {
		if e.Start <= addr && addr <= e.End && e.Type == "System RAM" {
			return true
		}
	}
	return false
}

func TestGuestVirtioMemProfile(t *testing.T) {
	r := guestRig(t, "virtio-mem", nil)
	p := r.p
	k := p.l().kern
	if k.BlockSizeBytes() != 128<<20 {
		t.Fatalf("guest memory block %d, want 128 MiB", k.BlockSizeBytes())
	}
	total0 := p.Snapshot().Kernel.TotalRAMBytes
	res, err := p.VMSetRequestedSize(2 << 30)
	r.must(err)
	r.invariants()
	snap := p.Snapshot()
	if res.PluggedSize != 2<<30 || snap.Guest.VirtioMem.PluggedSize != 2<<30 || snap.Kernel.TotalRAMBytes != total0+2<<30 {
		t.Fatalf("plug 2G: %+v; MemTotal %d -> %d", res, total0, snap.Kernel.TotalRAMBytes)
	}
	if ev, ok := find[events.GuestMemoryChanged](r.drain()); !ok || ev.Bytes != 2<<30 || ev.Device != "virtio-mem" {
		t.Fatalf("event %+v", ev)
	}
	ram := iomemFind(p.Iomem(), "System RAM (virtio_mem)")
	if len(ram) != 1 || !ram[0].DriverManaged || ram[0].End-ram[0].Start+1 != 2<<30 {
		t.Fatalf("iomem: %+v\n%s", ram, p.IomemText())
	}
	if inFirmwareMap(p, ram[0].Start) {
		t.Fatal("virtio_mem memory in /sys/firmware/memmap")
	}
	for _, b := range p.Blocks() {
		if b.Start >= ram[0].Start && b.Start <= ram[0].End && b.OnlineType != kernel.OnlineMovable {
			t.Fatalf("memory%d onlined %s, the profile says online_movable", b.ID, b.OnlineType)
		}
	}
	if !strings.Contains(dmesgText(p), "virtio_mem virtio0: device block size: 0x400000") {
		t.Fatal("dmesg lacks the driver's configuration")
	}
	// Refused: beyond the region, not a block multiple; nothing changes.
	for size, want := range map[uint64]string{129 << 30: "exceeds the region size", 2<<30 + 1<<20: "multiples of 'block-size'"} {
		if _, err := p.VMSetRequestedSize(size); !errors.Is(err, vm.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("requested %d: %v", size, err)
		}
	}
	if got := p.Snapshot().Guest.VirtioMem; got.RequestedSize != 2<<30 || got.PluggedSize != 2<<30 {
		t.Fatalf("refused request changed the device: %+v", got)
	}
	res, err = p.VMSetRequestedSize(0)
	r.must(err)
	r.invariants()
	if res.PluggedSize != 0 || p.Snapshot().Kernel.TotalRAMBytes != total0 || len(iomemFind(p.Iomem(), "System RAM (virtio_mem)")) != 0 {
		t.Fatalf("unplug all: %+v", res)
	}
	// Free page reporting through the profile's balloon moves the host's counter.
	st, err := p.VMReportFreePages()
	r.must(err)
	if st.ReportedTotal == 0 || st.HostResident >= p.Snapshot().Guest.RAMSize {
		t.Fatalf("page reporting %+v", st)
	}
}

// With kernel-zone onlining, the memmap of a later block lands in an
// earlier one and pins it: unplug stops there, says why, and plugged-size
// stays above requested-size.
func TestGuestVirtioMemUnplugRefused(t *testing.T) {
	r := guestRig(t, "virtio-mem", func(p *profile.Profile) { p.Guest.Kernel.AutoOnlineBlocks = "online_kernel" })
	p := r.p
	_, err := p.VMSetRequestedSize(1 << 30)
	r.must(err)
	k := p.l().kern
	var pinned bool
	for range 1 << 14 {
		h, err := k.Alloc(0, 9, false)
		if err != nil {
			break
		}
		if pfn, _, _, _ := k.PFN(h); pfn*kernel.PageSize >= p.Snapshot().Guest.VirtioMem.Addr {
			pinned = true
			break
		}
	}
	if !pinned {
		t.Fatal("no kernel page reached the virtio-mem memory")
	}
	res, err := p.VMSetRequestedSize(0)
	r.must(err)
	r.invariants()
	if res.PluggedSize == 0 || len(res.Refused) == 0 || !strings.Contains(res.Reason, "unmovable page") {
		t.Fatalf("%+v", res)
	}
	if got := p.Snapshot().Guest.VirtioMem; got.PluggedSize <= got.RequestedSize {
		t.Fatalf("plugged-size %d not above requested %d", got.PluggedSize, got.RequestedSize)
	}
}

func TestGuestPCDimmProfile(t *testing.T) {
	r := guestRig(t, "pc-dimm", nil)
	p := r.p
	total0 := p.Snapshot().Kernel.TotalRAMBytes
	blocks0 := len(p.Blocks())
	d, err := p.VMPlugDimm(8 << 30)
	r.must(err)
	r.invariants()
	if !d.Added || d.Blocks != 64 || len(p.Blocks()) != blocks0+64 {
		t.Fatalf("plug: %+v, %d blocks", d, len(p.Blocks()))
	}
	if got := p.Snapshot().Kernel.TotalRAMBytes - total0; got != 8<<30 {
		t.Fatalf("MemTotal +%d", got)
	}
	if !inFirmwareMap(p, d.Addr) {
		t.Fatal("the pc-dimm's System RAM is not in /sys/firmware/memmap")
	}
	var plain bool
	for _, x := range iomemFind(p.Iomem(), "System RAM") {
		if x.Start == d.Addr && !x.DriverManaged {
			plain = true
		}
	}
	if !plain {
		t.Fatalf("no plain System RAM at %#x:\n%s", d.Addr, p.IomemText())
	}
	if !strings.Contains(dmesgText(p), "memory_hotplug: added") {
		t.Fatal("dmesg lacks the add")
	}
	for _, size := range []uint64{0, 100 << 20, 129 << 30} {
		if _, err := p.VMPlugDimm(size); !errors.Is(err, vm.ErrInvalid) {
			t.Errorf("plug %d: %v", size, err)
		}
	}
	if len(p.Snapshot().Guest.PCDimms.Dimms) != 1 {
		t.Fatal("a refused plug left a DIMM")
	}
	// A second DIMM onlined to a kernel zone, with a kernel page in it:
	// the eject is refused with the kernel's reason and the DIMM stays.
	r.must(p.l().kern.SetAutoOnline(kernel.OnlineKernel))
	d2, err := p.VMPlugDimm(1 << 30)
	r.must(err)
	k := p.l().kern
	var pinned bool
	for range 1 << 14 {
		h, err := k.Alloc(0, 9, false)
		if err != nil {
			break
		}
		if pfn, _, _, _ := k.PFN(h); pfn*kernel.PageSize >= d2.Addr && pfn*kernel.PageSize < d2.Addr+d2.Size {
			pinned = true
			break
		}
	}
	if !pinned {
		t.Fatal("no kernel page reached the second DIMM")
	}
	before := p.Snapshot().Kernel.TotalRAMBytes
	if _, err := p.VMUnplugDimm(d2.ID); !errors.Is(err, vm.ErrBusy) || !strings.Contains(err.Error(), "unmovable page") ||
		!strings.Contains(err.Error(), "_OST(0x103, 0x81)") {
		t.Fatalf("unplug of a pinned DIMM: %v", err)
	}
	r.invariants()
	if p.Snapshot().Kernel.TotalRAMBytes != before || len(p.Snapshot().Guest.PCDimms.Dimms) != 2 {
		t.Fatal("a refused eject changed the guest")
	}
	if _, err := p.VMUnplugDimm("dimm9"); !errors.Is(err, ErrNotGuest) {
		t.Fatalf("unknown DIMM: %v", err)
	}
	// The first DIMM (movable) ejects.
	_, err = p.VMUnplugDimm(d.ID)
	r.must(err)
	r.invariants()
	if inFirmwareMap(p, d.Addr) || len(p.Snapshot().Guest.PCDimms.Dimms) != 1 {
		t.Fatal("ejected DIMM still there")
	}
}

func TestGuestBalloonProfile(t *testing.T) {
	r := guestRig(t, "balloon", nil)
	p := r.p
	snap := p.Snapshot()
	total0, iomem, blocks := snap.Kernel.TotalRAMBytes, p.IomemText(), len(p.Blocks())
	res, err := p.VMSetBalloonTarget(8 << 30)
	r.must(err)
	r.invariants()
	if res.ActualPages != 8<<30/kernel.PageSize {
		t.Fatalf("%+v", res)
	}
	if got := total0 - p.Snapshot().Kernel.TotalRAMBytes; got != 8<<30 {
		t.Fatalf("MemTotal fell by %d, want 8 GiB (no DEFLATE_ON_OOM)", got)
	}
	if p.IomemText() != iomem || len(p.Blocks()) != blocks {
		t.Fatal("the balloon changed the guest's present memory")
	}
	if _, err := p.VMSetBalloonTarget(0); !errors.Is(err, vm.ErrInvalid) {
		t.Fatalf("target 0: %v", err)
	}
	if _, err := p.VMSetRequestedSize(1 << 30); !errors.Is(err, ErrNotGuest) {
		t.Fatalf("virtio-mem on a balloon-only guest: %v", err)
	}
	_, err = p.VMSetBalloonTarget(16 << 30)
	r.must(err)
	if p.Snapshot().Kernel.TotalRAMBytes != total0 {
		t.Fatal("deflate did not restore MemTotal")
	}
}

func TestNotAGuest(t *testing.T) {
	r := newRig(t, nil)
	if _, err := r.p.VMSetRequestedSize(1 << 30); !errors.Is(err, ErrNotGuest) {
		t.Fatal(err)
	}
	if _, ok := r.p.VM(); ok {
		t.Fatal("the default server reports VM devices")
	}
}

// The hypervisor outlives a guest reboot: the rebooted guest's driver
// plugs requested-size again and the DIMMs come back.
func TestGuestRebootKeepsHypervisorState(t *testing.T) {
	r := guestRig(t, "virtio-mem", nil)
	_, err := r.p.VMSetRequestedSize(1 << 30)
	r.must(err)
	r.must(r.p.Reset(ResetForceRestart))
	r.until("booted", 5*time.Minute, running)
	r.invariants()
	if got := r.p.Snapshot().Guest.VirtioMem; got.PluggedSize != 1<<30 || got.RequestedSize != 1<<30 {
		t.Fatalf("after reboot: %+v", got)
	}
	if len(iomemFind(r.p.Iomem(), "System RAM (virtio_mem)")) != 1 {
		t.Fatal("virtio_mem memory not re-added after reboot")
	}
}

// Free page reporting runs by itself: deflating the balloon frees 2 MiB
// blocks, the guest's kernel schedules a reporting pass
// PAGE_REPORTING_DELAY later, and the host's counters move without
// anyone asking (mm/page_reporting.c).
func TestGuestFreePageReportingRunsOnItsOwn(t *testing.T) {
	r := guestRig(t, "balloon", nil)
	p := r.p
	r.clk.RunUntilIdle(time.Minute)
	_, err := p.VMSetBalloonTarget(8 << 30)
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	before := p.Snapshot().Guest.Balloon
	_, err = p.VMSetBalloonTarget(16 << 30) // deflate: 8 GiB back to the buddy
	r.must(err)
	if now := p.Snapshot().Guest.Balloon; now.ReportPasses != before.ReportPasses {
		t.Fatalf("a pass ran before PAGE_REPORTING_DELAY: %d -> %d", before.ReportPasses, now.ReportPasses)
	}
	r.clk.Advance(vm.PageReportingDelay)
	after := p.Snapshot().Guest.Balloon
	if after.ReportPasses != before.ReportPasses+1 || after.ReportedTotal < before.ReportedTotal+(8<<30) {
		t.Fatalf("after the delay: passes %d -> %d, reported total %d -> %d", before.ReportPasses, after.ReportPasses, before.ReportedTotal, after.ReportedTotal)
	}
	if after.HostResident >= before.HostResident+(8<<30) {
		t.Fatalf("host resident %d -> %d: the freed memory was not reported", before.HostResident, after.HostResident)
	}
	r.invariants()
}

// The hypervisor's settings are saved with the inventory, as libvirt
// keeps a domain's live memory settings: a restarted BMC boots the guest
// with the requested-size, balloon target and DIMMs the operator set,
// and a setting the edited profile can no longer take falls back to the
// profile's instead of failing the start.
func TestGuestHypervisorStateSurvivesBMCRestart(t *testing.T) {
	restart := func(t *testing.T, name, path string, mut func(*profile.Profile)) *Platform {
		t.Helper()
		p, err := New(builtin(t, name, mut), Options{Store: NewFileInventory(path)})
		if err != nil {
			t.Fatalf("restart: %v", err)
		}
		return p
	}
	t.Run("virtio-mem", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "inventory.json")
		p := restart(t, "virtio-mem", path, nil)
		if _, err := p.VMSetRequestedSize(3 << 30); err != nil {
			t.Fatal(err)
		}
		q := restart(t, "virtio-mem", path, nil)
		if got := q.Snapshot().Guest.VirtioMem; got.RequestedSize != 3<<30 || got.PluggedSize != 3<<30 {
			t.Fatalf("after a BMC restart: requested %d, plugged %d; want 3 GiB", got.RequestedSize, got.PluggedSize)
		}
		// The profile now has a 2 GiB region: the saved 3 GiB cannot be
		// its requested-size, so the profile's applies.
		z := restart(t, "virtio-mem", path, func(pr *profile.Profile) { pr.Guest.VirtioMem.RegionSizeGiB = 2 })
		want := uint64(z.prof.Guest.VirtioMem.RequestedSizeMiB) << 20
		if got := z.Snapshot().Guest.VirtioMem.RequestedSize; got != want {
			t.Fatalf("a requested-size over the new region: got %d, want the profile's %d", got, want)
		}
	})
	t.Run("pc-dimm", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "inventory.json")
		p := restart(t, "pc-dimm", path, nil)
		for _, size := range []uint64{8 << 30, 4 << 30, 2 << 30} {
			if _, err := p.VMPlugDimm(size); err != nil {
				t.Fatal(err)
			}
		}
		d, err := p.VMUnplugDimm("dimm1")
		if err != nil {
			t.Fatalf("unplug dimm1: %v (%+v)", err, d)
		}
		before := p.Snapshot().Guest.PCDimms.Dimms
		// The DIMMs come back as they were: ids, slots and addresses.
		q := restart(t, "pc-dimm", path, nil)
		after := q.Snapshot().Guest.PCDimms.Dimms
		if len(after) != 2 || len(before) != 2 {
			t.Fatalf("after a BMC restart the DIMMs are %+v, want %+v", after, before)
		}
		for i := range after {
			a, b := after[i], before[i]
			if a.ID != b.ID || a.Slot != b.Slot || a.Addr != b.Addr || a.Size != b.Size || !a.Added {
				t.Fatalf("DIMM %d after a BMC restart: %+v, before: %+v", i, a, b)
			}
		}
		// A new DIMM takes the next id and the first free slot.
		if d, err := q.VMPlugDimm(1 << 30); err != nil || d.ID != "dimm3" || d.Slot != 1 {
			t.Fatalf("a DIMM plugged after the restart: %+v, %v; want dimm3 in slot 1", d, err)
		}
		// An edited profile with one slot holds dimm0 only: dimm2 is
		// dropped from the configuration, and once dimm0 is unplugged
		// nothing comes back, even with the slots restored.
		z := restart(t, "pc-dimm", path, func(pr *profile.Profile) { pr.Guest.PCDimm.Slots = 1 })
		if got := z.Snapshot().Guest.PCDimms.Dimms; len(got) != 1 || got[0].ID != "dimm0" {
			t.Fatalf("with one slot: %+v", got)
		}
		if !strings.Contains(dmesgText(z), "pc-dimm dimm2 of 2048 MiB plugged before: dropped") {
			t.Error("dmesg does not say dimm2 was dropped")
		}
		if _, err := z.VMUnplugDimm("dimm0"); err != nil {
			t.Fatal(err)
		}
		if got := restart(t, "pc-dimm", path, nil).Snapshot().Guest.PCDimms.Dimms; len(got) != 0 {
			t.Fatalf("a dropped DIMM came back: %+v", got)
		}
		// An empty VM numbers its DIMMs from dimm0 again.
		w := restart(t, "pc-dimm", path, nil)
		if d, err := w.VMPlugDimm(1 << 30); err != nil || d.ID != "dimm0" {
			t.Fatalf("a DIMM plugged into an empty VM: %+v, %v", d, err)
		}
	})
	t.Run("balloon", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "inventory.json")
		p := restart(t, "balloon", path, nil)
		if _, err := p.VMSetBalloonTarget(8 << 30); err != nil {
			t.Fatal(err)
		}
		q := restart(t, "balloon", path, nil)
		b := q.Snapshot().Guest.Balloon
		if b.NumPages*kernel.PageSize != q.Snapshot().Guest.RAMSize-8<<30 || b.ActualPages != b.NumPages {
			t.Fatalf("after a BMC restart the balloon holds %d of %d pages, want RAM-8 GiB", b.ActualPages, b.NumPages)
		}
	})
}

// A device block larger than the guest's 128 MiB memory block puts the
// driver in big block mode: each 1 GiB device block is plugged and added
// as one unit of eight memory blocks, and unplugged only whole, offline
// and removed first (offline_and_remove_memory). A big block whose last
// memory block holds a kernel page is skipped and reported, and the seven
// blocks offlined before the refusal are onlined again where they were;
// the other big blocks still go.
func TestGuestVirtioMemBigBlockMode(t *testing.T) {
	r := guestRig(t, "virtio-mem", func(p *profile.Profile) {
		p.Guest.VirtioMem.BlockSizeMiB = 1024
		p.Guest.Kernel.AutoOnlineBlocks = "offline"
	})
	p := r.p
	k := p.l().kern
	blocks0 := len(p.Blocks())
	res, err := p.VMSetRequestedSize(3 << 30)
	r.must(err)
	r.invariants()
	st := p.Snapshot().Guest.VirtioMem
	if res.PluggedSize != 3<<30 || res.AddedBlocks != 24 || st.Mode != "bbm" || st.BigBlockSize != 1<<30 || st.SubblockSize != 0 ||
		len(st.AddedBlocks) != 24 || len(p.Blocks()) != blocks0+24 {
		t.Fatalf("plug 3G in big blocks: %+v, status %+v, %d blocks", res, st, len(p.Blocks())-blocks0)
	}
	if st.Addr%(1<<30) != 0 {
		t.Fatalf("device at %#x, not a multiple of its 1 GiB block size", st.Addr)
	}
	if !strings.Contains(dmesgText(p), "virtio_mem virtio0: big block size: 0x40000000") {
		t.Fatal("dmesg lacks the big block size")
	}
	if _, err := p.VMSetRequestedSize(3<<30 + 512<<20); !errors.Is(err, vm.ErrInvalid) {
		t.Fatalf("half a big block: %v", err)
	}

	// The operator onlines the first two big blocks movable, and the
	// third's first seven memory blocks movable and its last one kernel;
	// kernel pages then reach that last block.
	mb := uint64(128 << 20)
	bb := st.Addr + 2<<30
	for a := st.Addr; a < st.Addr+3<<30; a += mb {
		as := kernel.OnlineMovable
		if a == bb+7*mb {
			as = kernel.OnlineKernel
		}
		r.must(k.OnlineBlock(k.BlockForAddr(a), as))
	}
	var pinned bool
	for range 1 << 15 {
		h, err := k.Alloc(0, 9, false)
		if err != nil {
			break
		}
		if pfn, _, _, _ := k.PFN(h); pfn*kernel.PageSize >= bb+7*mb {
			pinned = true
			break
		}
	}
	if !pinned {
		t.Fatal("no kernel page reached the last memory block of the third big block")
	}
	// The kernel's own MemTotal: the operator's onlining went to the
	// kernel directly, past the platform's snapshot.
	before := k.Meminfo().MemTotal << 10
	since := len(k.Dmesg(0))
	res, err = p.VMSetRequestedSize(0)
	r.must(err)
	r.invariants()
	st = p.Snapshot().Guest.VirtioMem
	if st.PluggedSize != 1<<30 || res.RemovedBlocks != 16 || len(res.Refused) != 1 || res.Refused[0].Start != bb ||
		res.Refused[0].Block != k.BlockForAddr(bb+7*mb) || !strings.Contains(res.Reason, "unmovable page") {
		t.Fatalf("unplug with the third big block pinned: %+v, status %+v", res, st)
	}
	// The refused big block is whole again: its first seven memory blocks
	// were offlined before the eighth refused, and are back online in
	// ZONE_MOVABLE.
	var offlined, onlined int
	for _, l := range k.Dmesg(0)[since:] {
		for i := uint64(0); i < 7; i++ {
			name := fmt.Sprintf("memory%d ", k.BlockForAddr(bb+i*mb))
			switch {
			case strings.Contains(l.Text, name) && strings.Contains(l.Text, " offlined"):
				offlined++
			case strings.Contains(l.Text, name) && strings.Contains(l.Text, " onlined"):
				onlined++
			}
		}
	}
	if offlined != 7 || onlined != 7 {
		t.Fatalf("the refused big block: %d of its first 7 blocks offlined and %d onlined again, want 7 and 7", offlined, onlined)
	}
	for i := uint64(0); i < 8; i++ {
		b, ok := k.Block(k.BlockForAddr(bb + i*mb))
		want := kernel.OnlineMovable
		if i == 7 {
			want = kernel.OnlineKernel
		}
		if !ok || b.State != "online" || b.OnlineType != want {
			t.Fatalf("memory block %d of the refused big block: %+v, want online %s", i, b, want)
		}
	}
	if got := before - k.Meminfo().MemTotal<<10; got != 2<<30 {
		t.Fatalf("MemTotal fell by %d, want the two removed big blocks", got)
	}
}
