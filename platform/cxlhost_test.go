package platform

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile"
)

func cxlRig(t *testing.T) *rig {
	t.Helper()
	prof, err := profile.Builtin("cxl")
	if err != nil {
		t.Fatal(err)
	}
	r := bootRig(t, prof, nil)
	r.invariants()
	return r
}

func (r *rig) cxlSlot(name string) cxl.SlotStatus {
	r.t.Helper()
	st, ok := r.p.CXL()
	if !ok {
		r.t.Fatal("no CXL status")
	}
	for _, s := range st.Slots {
		if s.Slot == name {
			return s
		}
	}
	r.t.Fatalf("no CXL slot %s", name)
	return cxl.SlotStatus{}
}

func (r *rig) dmesgHas(substr string) bool {
	for _, l := range r.p.l().kern.Dmesg(0) {
		if strings.Contains(l.Text, substr) {
			return true
		}
	}
	return false
}

func (r *rig) cxlEvent(op string) events.CXLDeviceChanged {
	r.t.Helper()
	for _, rec := range r.drain() {
		if e, ok := rec.Event.(events.CXLDeviceChanged); ok && e.Op == op {
			return e
		}
	}
	r.t.Fatalf("no CXLDeviceChanged %q event", op)
	return events.CXLDeviceChanged{}
}

func TestCXLFirmwareDescribesWindows(t *testing.T) {
	r := cxlRig(t)
	fw := r.p.l().fw
	b, err := fw.CEDT().Encode()
	r.must(err)
	cedt, err := firmware.DecodeCEDT(b)
	r.must(err)
	if len(cedt.HostBridges) != 3 || len(cedt.Windows) != 2 {
		t.Fatalf("CEDT has %d CHBS and %d CFMWS, want 3 and 2 (CXL2 has no window)", len(cedt.HostBridges), len(cedt.Windows))
	}
	if w := cedt.Windows[0]; w.WindowSize != 2<<40 || w.Targets[0] != 0 || w.Restrictions&firmware.CFMWSVolatile == 0 {
		t.Fatalf("window 0 = %+v, want 2 TiB volatile targeting host bridge 0", w)
	}
	srat := fw.SRAT()
	if len(srat.GenericPorts) != 3 || srat.GenericPorts[0].HID != "ACPI0016" {
		t.Fatalf("SRAT generic ports %+v", srat.GenericPorts)
	}
	// Windows sit above everything else and are kernel resources the
	// regions nest in.
	var top uint64
	for _, rg := range fw.Layout().Regions() {
		top = max(top, rg.End())
	}
	if cedt.Windows[0].BaseHPA < top {
		t.Fatalf("window at %#x below the top of the address map %#x", cedt.Windows[0].BaseHPA, top)
	}
	if got := iomemFind(r.p.l().kern.Iomem(), "CXL Window 0"); len(got) != 1 || got[0].Busy {
		t.Fatalf("CXL Window 0 in /proc/iomem: %+v", got)
	}
	if !strings.Contains(fw.CEDTText(), "CXL Fixed Memory Window") {
		t.Fatalf("CEDT text:\n%s", fw.CEDTText())
	}
}

func TestCXLHotAddAndOrderlyRemoval(t *testing.T) {
	r := cxlRig(t)
	p := r.p
	k := p.l().kern
	total0 := k.TotalRAMPages()
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 256 << 30, Serial: 0xC0FFEE}))
	if s := r.cxlSlot("CXL1"); s.State != cxl.StatePresent || s.Power {
		t.Fatalf("after insert: %+v, want present and unpowered", s)
	}
	if k.TotalRAMPages() != total0 {
		t.Fatal("seating a card changed the kernel's memory")
	}
	r.cxlEvent("inserted")
	res, err := p.CXLAttention("CXL1")
	r.must(err)
	r.invariants()
	const node = 2 // after the two sockets' nodes
	if res.Region != "region0" || res.Node != node || res.Online != 256<<30 {
		t.Fatalf("attention: %+v", res)
	}
	if got := k.TotalRAMPages() - total0; got != (256<<30)/kernel.PageSize {
		t.Fatalf("totalram_pages grew by %d pages, want 256 GiB", got)
	}
	ev := r.cxlEvent("enabled")
	if ev.Region != "region0" || ev.Bytes != 256<<30 {
		t.Fatalf("event %+v", ev)
	}
	s := r.cxlSlot("CXL1")
	d := s.Device
	if s.State != cxl.StateEnabled || d.Memdev != "mem0" || d.CDAT == nil || d.DOEExchanges == 0 || !d.Decoders[0].Committed {
		t.Fatalf("slot after enable: %+v / %+v", s, d)
	}
	// CPU-less node with the performance the driver computed: host
	// bridge 40 ns + link + CDAT 150 ns; bandwidth capped by the device.
	var n *kernel.Node
	for _, x := range k.Nodes() {
		if x.ID == node {
			n = &x
		}
	}
	if n == nil || n.CPUList != "" || n.Access0 == nil {
		t.Fatalf("node %d: %+v", node, n)
	}
	if n.Access0.ReadLatency < 190 || n.Access0.ReadLatency > 200 || n.Access0.ReadBandwidth != 32000 {
		t.Fatalf("node %d access0 %+v", node, *n.Access0)
	}
	// /proc/iomem: window > region > dax > System RAM (kmem), driver
	// managed and absent from /sys/firmware/memmap.
	win := iomemFind(k.Iomem(), "CXL Window 0")[0]
	if len(win.Children) != 1 || win.Children[0].Name != "region0" || win.Children[0].Children[0].Name != "dax0.0" {
		t.Fatalf("window resource %+v", win)
	}
	ram := win.Children[0].Children[0].Children
	if len(ram) != 1 || ram[0].Name != "System RAM (kmem)" || !ram[0].DriverManaged {
		t.Fatalf("kmem resource %+v", ram)
	}
	if inFirmwareMap(p, ram[0].Start) {
		t.Fatal("kmem memory is in /sys/firmware/memmap")
	}
	if blk, _ := k.Block(k.BlockForAddr(ram[0].Start)); blk.OnlineType != kernel.OnlineMovable || blk.Node != node {
		t.Fatalf("first kmem block %+v, want online_movable on node %d", blk, node)
	}

	// The button again: orderly removal.
	res, err = p.CXLAttention("CXL1")
	r.must(err)
	r.invariants()
	if !res.Removed || k.TotalRAMPages() != total0 {
		t.Fatalf("removal %+v, totalram %d want %d", res, k.TotalRAMPages(), total0)
	}
	r.cxlEvent("disabled")
	s = r.cxlSlot("CXL1")
	if s.State != cxl.StatePresent || s.Power || s.Device.Region != nil || s.Device.Decoders[0].Committed {
		t.Fatalf("slot after removal: %+v", s)
	}
	if len(iomemFind(k.Iomem(), "region0")) != 0 {
		t.Fatal("region0 still in /proc/iomem")
	}
	st, _ := p.CXL()
	if st.Windows[0].Free != st.Windows[0].Size {
		t.Fatalf("window not free again: %+v", st.Windows[0])
	}
	for _, x := range k.Nodes() {
		if x.ID == node {
			t.Fatalf("node %d still online without memory", node)
		}
	}
	_, err = p.CXLPull("CXL1")
	r.must(err)
	r.cxlEvent("pulled")
}

func TestCXLRefusalsChangeNothing(t *testing.T) {
	r := cxlRig(t)
	p := r.p
	k := p.l().kern
	total0 := k.TotalRAMPages()
	// No CFMWS for CXL2's host bridge: the memory device appears, the
	// memory cannot be mapped.
	r.must(p.CXLInsert("CXL2", cxl.DeviceSpec{Capacity: 64 << 30}))
	_, err := p.CXLAttention("CXL2")
	if !errors.Is(err, cxl.ErrNoWindow) || !strings.Contains(err.Error(), "pre-allocated no host physical address space") {
		t.Fatalf("CXL2: %v", err)
	}
	if s := r.cxlSlot("CXL2"); s.State != cxl.StateEnabled || s.Device.Memdev == "" || s.Device.Region != nil || s.Reason == "" {
		t.Fatalf("CXL2 slot %+v", s)
	}
	if ev := r.cxlEvent("refused"); ev.Reason == "" {
		t.Fatalf("refused event without a reason: %+v", ev)
	}
	// No bridge window for CXL3's BAR: not recognized.
	r.must(p.CXLInsert("CXL3", cxl.DeviceSpec{Capacity: 64 << 30}))
	_, err = p.CXLAttention("CXL3")
	if !errors.Is(err, cxl.ErrNotRecognized) || !r.dmesgHas("can't assign; no space") {
		t.Fatalf("CXL3: %v", err)
	}
	if s := r.cxlSlot("CXL3"); s.State != cxl.StateFailed || s.Device.Memdev != "" {
		t.Fatalf("CXL3 slot %+v", s)
	}
	// A card larger than the window.
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 4 << 40}))
	_, err = p.CXLAttention("CXL1")
	if !errors.Is(err, cxl.ErrNoWindow) || !r.dmesgHas("HPA allocation error (-28)") {
		t.Fatalf("CXL1 4 TiB: %v", err)
	}
	if k.TotalRAMPages() != total0 {
		t.Fatal("a refused device changed the kernel's memory")
	}
	r.invariants()
	// Malformed cards never reach a slot.
	if err := p.CXLInsert("CXL9", cxl.DeviceSpec{Capacity: 1 << 30}); !errors.Is(err, cxl.ErrNoSlot) {
		t.Fatalf("unknown slot: %v", err)
	}
	_, _ = p.CXLPull("CXL1")
	_, _ = p.CXLPull("CXL2")
	if s := r.cxlSlot("CXL2"); s.State != cxl.StateEmpty || s.Reason != "" {
		t.Fatalf("an emptied slot keeps its card's refusal: %+v", s)
	}
	if err := p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 300 << 20}); !errors.Is(err, cxl.ErrInvalid) {
		t.Fatalf("300 MiB card: %v", err)
	}
	if s := r.cxlSlot("CXL1"); s.State != cxl.StateEmpty {
		t.Fatalf("a refused insert left %+v", s)
	}
}

func TestCXLUnmovableMemoryRefusesRemoval(t *testing.T) {
	r := cxlRig(t)
	p := r.p
	k := p.l().kern
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30, Online: "online_kernel"}))
	_, err := p.CXLAttention("CXL1")
	r.must(err)
	h, err := k.Alloc(2, 0, false) // a kernel page on the CXL node
	r.must(err)
	total := k.TotalRAMPages()
	_, err = p.CXLAttention("CXL1")
	if !errors.Is(err, cxl.ErrBusy) {
		t.Fatalf("removal with a kernel page online: %v", err)
	}
	r.cxlEvent("removal-refused")
	if s := r.cxlSlot("CXL1"); s.State != cxl.StateEnabled || !s.Power || s.Device.Region == nil || s.Device.Region.OnlineBytes != 16<<30 {
		t.Fatalf("a refused removal changed the slot: %+v", s)
	}
	if k.TotalRAMPages() != total {
		t.Fatal("a refused removal changed totalram_pages")
	}
	r.invariants()
	r.must(k.Free(h))
	_, err = p.CXLAttention("CXL1")
	r.must(err)
	r.invariants()
}

func TestCXLSurpriseRemoval(t *testing.T) {
	r := cxlRig(t)
	p := r.p
	k := p.l().kern
	total0 := k.TotalRAMPages()
	// Movable memory in use: the pages are lost, the memory comes back.
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30}))
	_, err := p.CXLAttention("CXL1")
	r.must(err)
	_, err = k.Alloc(2, 0, true)
	r.must(err)
	res, err := p.CXLPull("CXL1")
	r.must(err)
	if res.Poison != 1 || !res.Removed || res.Leaked != 0 {
		t.Fatalf("surprise with a user page: %+v", res)
	}
	if !r.dmesgHas("surprise removal with 1 allocations online") || !r.dmesgHas("Memory failure") {
		t.Fatal("the kernel log does not show the lost page")
	}
	r.cxlEvent("surprise")
	if k.TotalRAMPages() != total0 {
		t.Fatalf("totalram %d, want %d after the surprise removal", k.TotalRAMPages(), total0)
	}
	r.invariants()
	// Kernel memory in use: leaked until the next boot, and the window
	// keeps the range; a new card maps elsewhere in the window.
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30, Online: "online_kernel"}))
	first, err := p.CXLAttention("CXL1")
	r.must(err)
	_, err = k.Alloc(2, 0, false)
	r.must(err)
	res, err = p.CXLPull("CXL1")
	r.must(err)
	if res.Leaked != 16<<30 || !r.dmesgHas("cannot be hotremoved until the next reboot") {
		t.Fatalf("surprise with a kernel page: %+v", res)
	}
	if s := r.cxlSlot("CXL1"); s.State != cxl.StateEmpty || len(s.Leaked) != 1 {
		t.Fatalf("slot after a leaking surprise removal: %+v", s)
	}
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30}))
	second, err := p.CXLAttention("CXL1")
	r.must(err)
	if second.Base == first.Base {
		t.Fatalf("new card mapped over the leaked range %#x", first.Base)
	}
	r.invariants()
}

func TestCXLCorruptCDAT(t *testing.T) {
	r := cxlRig(t)
	r.must(r.p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 8 << 30, CorruptCDAT: true}))
	res, err := r.p.CXLAttention("CXL1")
	r.must(err)
	d := r.cxlSlot("CXL1").Device
	if d.CDAT != nil || !strings.Contains(d.CDATError, "checksum") || res.Region == "" {
		t.Fatalf("corrupt CDAT: %+v", d)
	}
	// Without the device's figures the node has the path's only.
	if p := d.Region.Perf; p.ReadLatency > 60 {
		t.Fatalf("perf without CDAT: %+v", p)
	}
}

func TestCXLNotACXLServer(t *testing.T) {
	r := newRig(t, nil)
	if _, ok := r.p.CXL(); ok {
		t.Fatal("default profile reports CXL")
	}
	if err := r.p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 1 << 30}); !errors.Is(err, ErrNotCXL) {
		t.Fatalf("insert on a server without CXL: %v", err)
	}
}

func TestCXLDMAIsolation(t *testing.T) {
	r := cxlRig(t)
	p := r.p
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 8 << 30}))
	_, err := p.CXLAttention("CXL1")
	r.must(err)
	// Untrusted (the default behind a hot-plug slot): bounced, the device
	// sees only its buffer and zero padding, invalidated at once.
	rep, err := p.CXLDMATransfer("CXL1", cxl.Transfer{Offset: 1024, Size: 512, Dir: "bidirectional"})
	r.must(err)
	if !rep.Untrusted || !rep.Bounced || rep.Exposed != 0 || !rep.Verified || rep.Invalidations == 0 || rep.Queued != 0 {
		t.Fatalf("untrusted transfer: %+v", rep)
	}
	// The device reaching outside what it was given: blocked, logged,
	// published.
	err = p.CXLDMAAccess("CXL1", 0x1000, 64, true)
	var f *iommu.Fault
	if !errors.As(err, &f) || !r.dmesgHas("DMAR: [DMA Write NO_PASID] Request device [31:00.0]") {
		t.Fatalf("rogue DMA: %v", err)
	}
	found := false
	for _, rec := range r.drain() {
		if e, ok := rec.Event.(events.IOMMUFault); ok && e.Slot == "CXL1" && e.Write {
			found = true
		}
	}
	if !found {
		t.Fatal("no IOMMUFault event")
	}
	st, _ := p.CXL()
	if st.IOMMU.Faults != 1 || len(st.Faults) != 1 {
		t.Fatalf("IOMMU status %+v", st.IOMMU)
	}
	// Trusted: mapped in place, so the device can read the rest of the
	// page — the exposure bouncing prevents.
	_, err = p.CXLAttention("CXL1")
	r.must(err)
	_, err = p.CXLPull("CXL1")
	r.must(err)
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 8 << 30, Trusted: true}))
	_, err = p.CXLAttention("CXL1")
	r.must(err)
	rep, err = p.CXLDMATransfer("CXL1", cxl.Transfer{Offset: 1024, Size: 512, Dir: "to-device"})
	r.must(err)
	if rep.Untrusted || rep.Bounced || rep.Exposed != 4096-512 || !rep.Verified {
		t.Fatalf("trusted transfer: %+v", rep)
	}
	if _, err := p.CXLDMATransfer("CXL1", cxl.Transfer{Offset: 4000, Size: 512}); !errors.Is(err, cxl.ErrInvalid) {
		t.Fatalf("transfer crossing the page: %v", err)
	}
}

func TestCXLCardsSurviveBMCRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	prof, err := profile.Builtin("cxl")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(prof, Options{Store: NewFileInventory(path)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 32 << 30, Serial: 7, Trusted: true}); err != nil {
		t.Fatal(err)
	}
	q, err := New(prof, Options{Store: NewFileInventory(path)})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := q.CXL()
	s := st.Slots[0]
	// Seated at power-on: firmware powers the slot and the drivers map it.
	if s.Slot != "CXL1" || s.State != cxl.StateEnabled || s.Device.Spec.Serial != 7 || !s.Device.Spec.Trusted || s.Device.Region == nil {
		t.Fatalf("restored slot %+v", s)
	}
	if _, err := q.CXLPull("CXL1"); err != nil {
		t.Fatal(err)
	}
	z, err := New(prof, Options{Store: NewFileInventory(path)})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := z.CXL(); st.Slots[0].State != cxl.StateEmpty {
		t.Fatalf("a pulled card came back: %+v", st.Slots[0])
	}
}

// The seed's item 19 on a CXL node: the new node joins the root cpuset's
// effective mems, but a cpuset made before it keeps its mems, so only
// cpusets that name the node allocate from it.
func TestCXLNodeServesOnlyCpusetsThatAllowIt(t *testing.T) {
	r := cxlRig(t)
	p := r.p
	k := p.l().kern
	r.must(k.CreateCpuset("legacy", "0-3", "0-1", false))
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 64 << 30}))
	_, err := p.CXLAttention("CXL1")
	r.must(err)
	var root kernel.Cpuset
	for _, c := range k.Cpusets() {
		if c.Name == "/" || c.Name == "" || c.Name == "root" {
			root = c
		}
	}
	if root.EffectiveMems != "0-2" {
		t.Fatalf("root cpuset effective mems %q, want 0-2 with the CXL node", root.EffectiveMems)
	}
	r.must(k.CreateCpuset("tiered", "4-7", "2", false))
	legacy, err := k.Spawn("db", "legacy")
	r.must(err)
	tiered, err := k.Spawn("cache", "tiered")
	r.must(err)
	r.must(k.TaskAllocMiB(legacy, 512, true))
	r.must(k.TaskAllocMiB(tiered, 512, true))
	for _, task := range k.Tasks() {
		switch task.PID {
		case legacy:
			if task.PagesByNode[2] != 0 {
				t.Fatalf("a cpuset made before the node allocated from it: %+v", task)
			}
		case tiered:
			if task.PagesByNode[2] != (512<<20)/kernel.PageSize {
				t.Fatalf("the CXL cpuset's task did not allocate from node 2: %+v", task)
			}
		}
	}
	r.invariants()
}

// While the host is off its CXL slots are unpowered, whatever is seated;
// the next POST powers them and the drivers bring the cards up.
func TestCXLSlotsFollowHostPower(t *testing.T) {
	r := cxlRig(t)
	p := r.p
	r.must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 8 << 30}))
	_, err := p.CXLAttention("CXL1")
	r.must(err)
	r.must(p.SetPower(false))
	r.clk.RunUntilIdle(time.Minute)
	if s := r.cxlSlot("CXL1"); s.Power || s.State != cxl.StatePresent || s.Device == nil {
		t.Fatalf("host off: %+v", s)
	}
	r.must(p.SetPower(true))
	r.clk.RunUntilIdle(10 * time.Minute)
	if s := r.cxlSlot("CXL1"); !s.Power || s.State != cxl.StateEnabled || s.Device.Region == nil {
		t.Fatalf("after power-on: %+v", s)
	}
}
