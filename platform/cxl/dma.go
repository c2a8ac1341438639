package cxl

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// DMA as the seed's security section describes it. A driver transfer maps
// a buffer the kernel allocated for the device; the page around it holds
// other kernel data. The device then does what it may: a well-behaved one
// touches only its buffer, a compromised one reads the whole page it was
// handed. Through the IOMMU an untrusted device's sub-page buffer is
// bounced (copied into an isolated swiotlb slot, verified, then mapped),
// so the rest of what it can reach is zero padding; a trusted device is
// mapped in place and sees the neighbours. Unmapping copies data back and
// invalidates the IOTLB (at once for an untrusted device).

// kernelData fills the buffer's page around the buffer: what a device
// must never see.
var kernelData = []byte("KERNEL-SECRET:")

// Transfer is one driver DMA: Size bytes at Offset inside a kernel page.
type Transfer struct {
	Offset uint64 `json:"offset"`
	Size   uint64 `json:"size"`
	// Dir is "to-device", "from-device" or "bidirectional".
	Dir string `json:"dir"`
}

// TransferReport is what the transfer showed.
type TransferReport struct {
	Slot    string        `json:"slot"`
	BDF     string        `json:"bdf"`
	Mapping iommu.Mapping `json:"mapping"`
	// Untrusted is the device's standing; Bounced whether the DMA API
	// used a swiotlb slot.
	Untrusted bool `json:"untrusted"`
	Bounced   bool `json:"bounced"`
	// Reachable is how many bytes the device could read through its
	// mapping (the whole IOVA page); Exposed how many of them were other
	// kernel data.
	Reachable int `json:"reachable_bytes"`
	Exposed   int `json:"exposed_bytes"`
	// Verified: the data the device wrote reached the driver's buffer
	// intact after unmap, and the neighbours were untouched.
	Verified bool `json:"verified"`
	// Invalidations is how many IOTLB invalidations the unmap cost now;
	// Queued how many it left in the flush queue.
	Invalidations uint64 `json:"iotlb_invalidations"`
	Queued        uint64 `json:"flush_queued"`
}

func parseDir(s string) (iommu.Dir, error) {
	switch s {
	case "to-device":
		return iommu.ToDevice, nil
	case "from-device", "":
		return iommu.FromDevice, nil
	case "bidirectional":
		return iommu.Bidirectional, nil
	}
	return 0, fmt.Errorf("%w: dir %q: want to-device, from-device or bidirectional", ErrInvalid, s)
}

// DMATransfer runs one driver transfer with the device in slot.
func (b *Bus) DMATransfer(slot string, t Transfer) (TransferReport, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.slot(slot)
	if err != nil {
		return TransferReport{}, err
	}
	if p.state != StateEnabled {
		return TransferReport{}, fmt.Errorf("cxl: slot %s: %w: %s (the device must be enabled)", slot, ErrState, p.state)
	}
	dir, err := parseDir(t.Dir)
	if err != nil {
		return TransferReport{}, err
	}
	if t.Size == 0 || t.Offset+t.Size > kernel.PageSize || t.Offset+t.Size < t.Offset {
		return TransferReport{}, fmt.Errorf("%w: %d bytes at offset %d do not fit in one %d-byte page", ErrInvalid, t.Size, t.Offset, kernel.PageSize)
	}
	// The driver's buffer: a real kernel page (kmalloc'd), freed after.
	h, err := b.k.Alloc(0, 0, false)
	if err != nil {
		return TransferReport{}, fmt.Errorf("cxl: DMA buffer: %w", err)
	}
	defer func() { _ = b.k.Free(h) }()
	pfn, _, _, _ := b.k.PFN(h)
	page := pfn * kernel.PageSize
	before := make([]byte, kernel.PageSize)
	for i := range before {
		before[i] = kernelData[i%len(kernelData)]
	}
	payload := bytes.Repeat([]byte{0xD5}, int(t.Size))
	copy(before[t.Offset:], bytes.Repeat([]byte{0xA5}, int(t.Size))) // what the driver sends
	b.mem.WritePhys(page, before)

	bdf := p.devBDF()
	c0 := b.mmu.Counters()
	m, err := b.mmu.MapSingle(bdf, page+t.Offset, t.Size, dir)
	if err != nil {
		return TransferReport{}, fmt.Errorf("cxl: slot %s: dma_map_single: %w", slot, err)
	}
	rep := TransferReport{Slot: slot, BDF: bdf, Mapping: m, Untrusted: p.dev.untrusted, Bounced: m.Bounced}
	// The device reads the whole IOVA page it was given.
	pageIOVA := m.IOVA &^ (kernel.PageSize - 1)
	seen := make([]byte, kernel.PageSize)
	readable := dir != iommu.FromDevice
	if readable {
		if err := b.mmu.DeviceAccess(bdf, pageIOVA, seen, false); err == nil {
			rep.Reachable = len(seen)
			inBuf := m.IOVA - pageIOVA
			for i, c := range seen {
				if uint64(i) >= inBuf && uint64(i) < inBuf+t.Size {
					continue
				}
				if c != 0 {
					rep.Exposed++
				}
			}
		}
	}
	if dir != iommu.ToDevice {
		if err := b.mmu.DeviceAccess(bdf, m.IOVA, payload, true); err != nil {
			_ = b.mmu.UnmapSingle(bdf, m.IOVA)
			return rep, fmt.Errorf("cxl: slot %s: device write: %w", slot, err)
		}
	}
	if err := b.mmu.UnmapSingle(bdf, m.IOVA); err != nil {
		return rep, fmt.Errorf("cxl: slot %s: dma_unmap_single: %w", slot, err)
	}
	c1 := b.mmu.Counters()
	rep.Invalidations = c1.IOTLBInvalidations - c0.IOTLBInvalidations
	rep.Queued = c1.FlushQueued - c0.FlushQueued
	after := make([]byte, kernel.PageSize)
	b.mem.ReadPhys(page, after)
	want := bytes.Clone(before)
	if dir != iommu.ToDevice {
		copy(want[t.Offset:], payload)
	}
	rep.Verified = bytes.Equal(after, want)
	return rep, nil
}

// DMAAccess is the device reaching for an address it was not given: a
// compromised device's DMA. The IOMMU blocks and logs it as a fault.
func (b *Bus) DMAAccess(slot string, iova, size uint64, write bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.slot(slot)
	if err != nil {
		return err
	}
	if p.state != StateEnabled {
		return fmt.Errorf("cxl: slot %s: %w: %s (the device must be enabled)", slot, ErrState, p.state)
	}
	if size == 0 || size > 1<<20 {
		return fmt.Errorf("%w: size %d: want 1 byte to 1 MiB", ErrInvalid, size)
	}
	buf := make([]byte, size)
	err = b.mmu.DeviceAccess(p.devBDF(), iova, buf, write)
	var f *iommu.Fault
	if errors.As(err, &f) {
		return fmt.Errorf("cxl: slot %s: DMA %s %#x blocked: %w", slot, map[bool]string{false: "read of", true: "write to"}[write], iova, err)
	}
	return err
}
