package cxl

import (
	"fmt"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

const gib = uint64(1) << 30

// fuzzBus boots a small host (16 GiB in two ranges, 128 MiB memory blocks)
// with two host bridges: hb0 with a 16 GiB window and a bridge window, hb1
// with a bridge window and no CFMWS, and a third slot without a bridge
// window on hb0 — the three outcomes the cxl profile has.
func fuzzBus(t testing.TB) (*kernel.Kernel, *Bus) {
	t.Helper()
	const winBase = 64 * gib
	k, err := kernel.Boot(kernel.Config{
		Clock: clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		IOMem: []kernel.Resource{
			{Start: 0x80000000, End: 0xfebfffff, Name: "PCI Bus 0000:00"},
			{Start: winBase, End: winBase + 16*gib - 1, Name: "CXL Window 0"},
		},
	}, []kernel.Range{{Start: 0, Size: 2 * gib}, {Start: 4 * gib, Size: 14 * gib}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(k, Config{
		HostBridges: []HostBridge{{UID: 0, Latency: 40 * time.Nanosecond, MBs: 64000}, {UID: 1, Latency: 40 * time.Nanosecond, MBs: 64000}},
		Windows:     []Window{{Index: 0, Base: winBase, Size: 16 * gib, HostBridge: 0, Node: 1}},
		Ports: []PortConfig{
			{Slot: "A", Number: 1, HostBridge: 0, Bus: 0x30, MMIO: 64 << 20},
			{Slot: "B", Number: 2, HostBridge: 1, Bus: 0x40, MMIO: 64 << 20},
			{Slot: "C", Number: 3, HostBridge: 0, Bus: 0x50},
		},
		IOMMU: ioCfg(k),
	})
	if err != nil {
		t.Fatal(err)
	}
	return k, b
}

// FuzzBusOps drives a sequence of operator and device actions decoded
// from the input through the bus and checks after each that the kernel's
// books balance, the windows account for what is mapped in them, and a
// slot's view agrees with itself: whatever the order, nothing panics and
// no refusal leaves half a change behind.
func FuzzBusOps(f *testing.F) {
	f.Add([]byte{0, 0, 4, 1, 0, 2, 0, 1, 0, 3, 0})
	f.Add([]byte{0, 0, 2, 1, 0, 5, 0, 9, 2, 0, 3, 0})
	f.Add([]byte{0, 1, 2, 1, 1, 0, 2, 2, 1, 2, 3, 1, 3, 2})
	f.Add([]byte{0, 0, 66, 1, 0, 5, 0, 1, 0, 6, 0, 3, 0, 0, 0, 1, 1, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		k, b := fuzzBus(t)
		var held []kernel.Handle
		slots := []string{"A", "B", "C"}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%8, ops[i+1]
			slot := slots[int(arg)%len(slots)]
			switch op {
			case 0: // seat a card: 256 MiB .. 8 GiB, trust and online type from arg
				spec := DeviceSpec{Capacity: uint64(arg%32+1) * hdmGranule, Trusted: arg&0x20 != 0}
				if arg&0x40 != 0 {
					spec.Online = "online_kernel"
				}
				_ = b.Insert(slot, spec)
			case 1:
				_, _ = b.Attention(slot)
			case 2:
				_, _ = b.Pull(slot)
			case 3:
				_, _ = b.DMATransfer(slot, Transfer{Offset: uint64(arg) * 16, Size: uint64(arg%8+1) * 64, Dir: []string{"to-device", "from-device", "bidirectional"}[int(arg)%3]})
			case 4:
				_ = b.DMAAccess(slot, uint64(arg)<<12, 64, arg&1 == 1)
			case 5: // a workload page on the CXL node, movable or not
				if h, err := k.Alloc(1, 0, arg&1 == 0); err == nil {
					held = append(held, h)
				}
			case 6:
				if len(held) > 0 {
					j := int(arg) % len(held)
					_ = k.Free(held[j])
					held = append(held[:j], held[j+1:]...)
				}
			case 7:
				b.IOMMU().Flush()
			}
			if err := k.CheckInvariants(); err != nil {
				t.Fatalf("after op %d (%d %d): kernel: %v", i/2, op, arg, err)
			}
			if err := checkBus(b.Status()); err != nil {
				t.Fatalf("after op %d (%d %d): %v", i/2, op, arg, err)
			}
		}
	})
}

// checkBus checks what the status says against itself.
func checkBus(st Status) error {
	for _, w := range st.Windows {
		var used uint64
		end := w.Base
		for _, u := range w.Used {
			if u.Start < end || u.Start+u.Size > w.Base+w.Size {
				return fmt.Errorf("window %d: range %#x+%#x overlaps or leaves the window", w.Index, u.Start, u.Size)
			}
			end = u.Start + u.Size
			used += u.Size
		}
		if used+w.Free != w.Size {
			return fmt.Errorf("window %d: used %d + free %d != size %d", w.Index, used, w.Free, w.Size)
		}
	}
	for _, s := range st.Slots {
		d := s.Device
		switch {
		case s.State == StateEmpty && (d != nil || s.Power):
			return fmt.Errorf("slot %s: empty but %+v powered=%v", s.Slot, d, s.Power)
		case s.State == StatePresent && s.Power:
			return fmt.Errorf("slot %s: present but powered", s.Slot)
		case s.State == StateEnabled && (!s.Power || d == nil || d.Memdev == ""):
			return fmt.Errorf("slot %s: enabled without power or memdev: %+v", s.Slot, s)
		}
		if d == nil || d.Region == nil {
			continue
		}
		r := d.Region
		if !d.Decoders[0].Committed || d.Decoders[0].Base != r.Base || d.Decoders[0].Size != r.Size {
			return fmt.Errorf("slot %s: region %s without its committed decoder: %+v", s.Slot, r.Name, d.Decoders[0])
		}
		if r.OnlineBytes > r.KmemSize {
			return fmt.Errorf("slot %s: %d bytes online of a %d byte kmem range", s.Slot, r.OnlineBytes, r.KmemSize)
		}
	}
	return nil
}

// ioCfg is the IOMMU of the fuzz host: strict off, a 4 MiB bounce pool in
// a real kernel block, as the platform sets it up.
func ioCfg(k *kernel.Kernel) (c iommu.Config) {
	h, err := k.Alloc(0, kernel.MaxOrder-1, false)
	if err != nil {
		return c
	}
	pfn, _, _, _ := k.PFN(h)
	c.SwiotlbBase, c.SwiotlbBytes = pfn*kernel.PageSize, 4<<20
	return c
}
