package vm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

const (
	MiB = uint64(1) << 20
	GiB = uint64(1) << 30
)

// bootGuest boots a 16 GiB VM guest (128 MiB memory blocks, as x86_64
// Linux probes in a VM whose boot memory ends below 64 GiB).
func bootGuest(t testing.TB, cfg kernel.Config) *kernel.Kernel {
	t.Helper()
	cfg.Clock = clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.IOMem = append(cfg.IOMem, kernel.Resource{Start: 0x80000000, End: 0xfebfffff, Name: "PCI Bus 0000:00"},
		kernel.Resource{Start: 64 * GiB, End: 64*GiB + 256*GiB - 1, Name: "virtio0", Driver: true})
	k, err := kernel.Boot(cfg, []kernel.Range{{Start: 0, Size: 2 * GiB}, {Start: 4 * GiB, Size: 14 * GiB}})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func check(t testing.TB, k *kernel.Kernel) {
	t.Helper()
	if err := k.CheckInvariants(); err != nil {
		t.Fatalf("kernel invariants: %v", err)
	}
}

func dmesg(k *kernel.Kernel) string {
	var b strings.Builder
	for _, l := range k.Dmesg(0) {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func newVmem(t testing.TB, k *kernel.Kernel) *Guest {
	t.Helper()
	g, err := New(k, Config{VirtioMem: &VirtioMemConfig{Addr: 64 * GiB, RegionSize: 256 * GiB, BlockSize: 4 * MiB}}, 16*GiB, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestVirtioMemGrowAndShrink(t *testing.T) {
	k := bootGuest(t, kernel.Config{})
	g := newVmem(t, k)
	total0 := k.Meminfo().MemTotal
	memmap0 := k.Meminfo().Memmap
	// 1 GiB + 4 MiB: eight full memory blocks and one sub-block of a ninth.
	r, err := g.SetRequestedSize(GiB + 4*MiB)
	if err != nil {
		t.Fatal(err)
	}
	check(t, k)
	if r.PluggedSize != GiB+4*MiB || r.AddedBlocks != 9 || r.Reason != "" {
		t.Fatalf("plug result %+v", r)
	}
	mi := k.Meminfo()
	if got := (mi.MemTotal - total0) << 10; got != GiB+4*MiB {
		t.Fatalf("MemTotal grew by %d bytes, want plugged size %d", got, GiB+4*MiB)
	}
	if got := (mi.Memmap - memmap0) << 10; got != 9*128*MiB/kernel.PageSize*kernel.StructPageSize {
		t.Fatalf("memmap grew by %d bytes, want 9 memory blocks' worth", got)
	}
	// One merged, driver-managed resource inside the device's region.
	var found bool
	for _, r := range k.Iomem() {
		if r.Name != "virtio0" {
			continue
		}
		if len(r.Children) != 1 || r.Children[0].Name != "System RAM (virtio_mem)" || !r.Children[0].DriverManaged ||
			r.Children[0].Start != 64*GiB || r.Children[0].End != 64*GiB+9*128*MiB-1 {
			t.Fatalf("virtio0 children: %+v", r.Children)
		}
		found = true
	}
	if !found {
		t.Fatal("no virtio0 resource in /proc/iomem")
	}
	for _, want := range []string{"virtio_mem virtio0: device block size: 0x400000", "virtio_mem virtio0: subblock size: 0x400000",
		"virtio_mem virtio0: memory block size: 0x8000000", "(System RAM (virtio_mem)) to node 0"} {
		if !strings.Contains(dmesg(k), want) {
			t.Errorf("dmesg lacks %q", want)
		}
	}
	// Shrink to 512 MiB: sub-blocks leave from the top, emptied blocks go.
	r, err = g.SetRequestedSize(512 * MiB)
	if err != nil {
		t.Fatal(err)
	}
	check(t, k)
	if r.PluggedSize != 512*MiB || r.RemovedBlocks != 5 || r.Reason != "" {
		t.Fatalf("unplug result %+v", r)
	}
	if got := (k.Meminfo().MemTotal - total0) << 10; got != 512*MiB {
		t.Fatalf("MemTotal above boot %d, want 512 MiB", got)
	}
	st := g.Status().VirtioMem
	if st.PluggedSize != 512*MiB || len(st.AddedBlocks) != 4 || st.Requests["PLUG ACK"] == 0 || st.Requests["UNPLUG ACK"] != 129 {
		t.Fatalf("status %+v", st)
	}
	// Back to zero: nothing of the device is left in the guest.
	if _, err := g.SetRequestedSize(0); err != nil {
		t.Fatal(err)
	}
	check(t, k)
	if k.Meminfo().MemTotal != total0 || len(g.Status().VirtioMem.AddedBlocks) != 0 {
		t.Fatal("unplugging everything left memory behind")
	}
}

func TestVirtioMemRefusals(t *testing.T) {
	k := bootGuest(t, kernel.Config{})
	g := newVmem(t, k)
	if _, err := g.SetRequestedSize(GiB); err != nil {
		t.Fatal(err)
	}
	before := g.Status().VirtioMem
	iomem := k.IomemText()
	for size, want := range map[uint64]string{
		257 * GiB:   "exceeds the region size (256 GiB)",
		GiB + 1*MiB: "has to be multiples of 'block-size' (0x400000)",
	} {
		_, err := g.SetRequestedSize(size)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("SetRequestedSize(%d) = %v, want %q", size, err, want)
		}
	}
	if after := g.Status().VirtioMem; after.RequestedSize != before.RequestedSize || after.PluggedSize != before.PluggedSize || k.IomemText() != iomem {
		t.Fatal("a refused request changed the device or the guest")
	}
	// Pin a page in the plugged range: a kernel allocation lands in the
	// highest plugged block once the boot memory's free pages are gone.
	var pinned uint64
	for range 1 << 16 {
		h, err := k.Alloc(0, 9, false)
		if err != nil {
			t.Fatal(err)
		}
		if pfn, _, _, _ := k.PFN(h); pfn*kernel.PageSize >= 64*GiB {
			pinned = pfn * kernel.PageSize
			break
		}
	}
	if pinned == 0 {
		t.Fatal("no kernel allocation reached the virtio-mem memory")
	}
	total := k.Meminfo().MemTotal
	r, err := g.SetRequestedSize(0)
	if err != nil {
		t.Fatal(err)
	}
	check(t, k)
	if r.PluggedSize == 0 || r.PluggedSize <= r.RequestedSize || len(r.Refused) == 0 ||
		!strings.Contains(r.Reason, "could not be unplugged") || !strings.Contains(r.Reason, "unmovable page") {
		t.Fatalf("unplug over a pinned page: %+v", r)
	}
	if rf := r.Refused[0]; pinned < rf.Start || pinned >= rf.Start+rf.Size+2*MiB {
		t.Errorf("refusal %+v does not name the pinned page at %#x", rf, pinned)
	}
	if got := (total - k.Meminfo().MemTotal) << 10; got != r.Unplugged {
		t.Errorf("MemTotal fell by %d, unplugged %d", got, r.Unplugged)
	}
	if !strings.Contains(dmesg(k), "PFNs busy") || !strings.Contains(dmesg(k), "could not reach the requested size") {
		t.Error("dmesg lacks the refusal")
	}
}

// With auto_online_blocks=offline the blocks stay offline yet count as
// plugged, as in Linux; onlining one later gives only its plugged
// sub-blocks to the buddy.
func TestVirtioMemOnlinePolicy(t *testing.T) {
	k := bootGuest(t, kernel.Config{AutoOnline: kernel.Offline})
	g := newVmem(t, k)
	total0 := k.Meminfo().MemTotal
	if _, err := g.SetRequestedSize(64 * MiB); err != nil {
		t.Fatal(err)
	}
	check(t, k)
	if k.Meminfo().MemTotal != total0 {
		t.Fatal("offline policy: MemTotal changed before onlining")
	}
	id := k.BlockForAddr(64 * GiB)
	if err := k.OnlineBlock(id, kernel.OnlineMovable); err != nil {
		t.Fatal(err)
	}
	check(t, k)
	if got := (k.Meminfo().MemTotal - total0) << 10; got != 64*MiB {
		t.Fatalf("onlined half-plugged block: MemTotal +%d, want 64 MiB", got)
	}
	if b, _ := k.Block(id); b.OnlineType != kernel.OnlineMovable {
		t.Fatalf("block %+v", b)
	}
}

func TestBalloonInflateDeflate(t *testing.T) {
	for _, oom := range []bool{false, true} {
		k := bootGuest(t, kernel.Config{})
		g, err := New(k, Config{Balloon: &BalloonConfig{DeflateOnOOM: oom, FreePageReporting: true}}, 16*GiB, nil)
		if err != nil {
			t.Fatal(err)
		}
		mi0, iomem, blocks := k.Meminfo(), k.IomemText(), len(k.Blocks())
		r, err := g.SetBalloonTarget(12 * GiB)
		if err != nil {
			t.Fatal(err)
		}
		check(t, k)
		if r.ActualPages != 4*GiB/kernel.PageSize || r.Reason != "" {
			t.Fatalf("inflate %+v", r)
		}
		mi := k.Meminfo()
		wantTotal := mi0.MemTotal - 4*GiB>>10
		if oom {
			wantTotal = mi0.MemTotal
		}
		if mi.MemTotal != wantTotal {
			t.Errorf("deflate_on_oom=%v: MemTotal %d, want %d", oom, mi.MemTotal, wantTotal)
		}
		if mi0.MemFree-mi.MemFree != 4*GiB>>10 {
			t.Errorf("MemFree fell by %d kB, want 4 GiB", mi0.MemFree-mi.MemFree)
		}
		if k.IomemText() != iomem || len(k.Blocks()) != blocks {
			t.Error("the balloon changed /proc/iomem or the memory blocks")
		}
		st, err := g.ReportFreePages()
		if err != nil {
			t.Fatal(err)
		}
		if st.ReportedBytes == 0 || st.ReportedTotal != st.ReportedBytes || st.HostResident != 16*GiB-4*GiB-st.ReportedBytes {
			t.Errorf("page reporting %+v", st)
		}
		if _, err := g.SetBalloonTarget(16 * GiB); err != nil {
			t.Fatal(err)
		}
		check(t, k)
		if k.Meminfo().MemTotal != mi0.MemTotal {
			t.Error("deflate did not restore MemTotal")
		}
		if _, err := g.SetBalloonTarget(0); !errors.Is(err, ErrInvalid) {
			t.Errorf("target 0: %v", err)
		}
	}
}

// The balloon that asks for more than the guest can give stops with
// Linux's "Out of puff!".
func TestBalloonOutOfPuff(t *testing.T) {
	k := bootGuest(t, kernel.Config{})
	g, err := New(k, Config{Balloon: &BalloonConfig{}}, 16*GiB, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := g.SetBalloonTarget(kernel.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	check(t, k)
	if r.ActualPages >= r.NumPages || !strings.Contains(r.Reason, "no free page") || !strings.Contains(dmesg(k), "Out of puff!") {
		t.Fatalf("%+v", r)
	}
}

func TestCompareThreeGenerations(t *testing.T) {
	c, err := Compare(64*GiB, DefaultGeometry())
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ gran, steps, blocks, memmap, free uint64 }
	want := map[string]row{
		"virtio-balloon": {4096, 65536, 0, GiB, 0},
		"pc-dimm (ACPI)": {128 * MiB, 1, 512, GiB, GiB},
		"virtio-mem":     {4 * MiB, 16384, 512, GiB, 2 * MiB},
	}
	for _, g := range c.Generations {
		w, ok := want[g.Mechanism]
		if !ok {
			t.Fatalf("unexpected mechanism %q", g.Mechanism)
		}
		if got := (row{g.Granularity, g.Steps, g.MemoryBlocks, g.MemmapBytes, g.FreeAtAdd}); got != w {
			t.Errorf("%s: %+v, want %+v", g.Mechanism, got, w)
		}
	}
	geo := DefaultGeometry()
	geo.DimmSize = 8 * GiB
	c, _ = Compare(64*GiB, geo)
	if c.Generations[1].Steps != 8 || c.Generations[1].FreeAtAdd != 128*MiB {
		t.Errorf("8 GiB DIMMs: %+v", c.Generations[1])
	}
	for _, bad := range []uint64{0, 100 * MiB} {
		if _, err := Compare(bad, DefaultGeometry()); !errors.Is(err, ErrInvalid) {
			t.Errorf("Compare(%d): %v", bad, err)
		}
	}
	// 1 GiB device blocks: big block mode, whole 1 GiB units, the memmap
	// of eight memory blocks free at each add.
	geo = DefaultGeometry()
	geo.VirtioMemBlock = GiB
	c, err = Compare(64*GiB, geo)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Generations[2]; v.Steps != 64 || v.FreeAtAdd != 16*MiB || !strings.Contains(v.GiveBack, "a whole 1 GiB big block") {
		t.Errorf("big block mode: %+v", v)
	}
	if _, err := Compare(64*GiB+512*MiB, geo); !errors.Is(err, ErrInvalid) {
		t.Errorf("half a big block: %v", err)
	}
}
