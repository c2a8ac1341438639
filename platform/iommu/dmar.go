package iommu

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Fault reasons of the VT-d fault recording registers (VT-d spec 7.1.3,
// table "Unrecoverable Fault Conditions"), as dma_remap_fault_reasons[] in
// drivers/iommu/intel/dmar.c names them.
const (
	FaultContextNotPresent uint8 = 0x02 // no context entry for the requester
	FaultBeyondMGAW        uint8 = 0x04
	FaultWriteNotSet       uint8 = 0x05 // also a write to a not-present PTE
	FaultReadNotSet        uint8 = 0x06 // also a read of a not-present PTE
)

var faultText = map[uint8]string{
	FaultContextNotPresent: "Present bit in context entry is clear",
	FaultBeyondMGAW:        "Access beyond MGAW",
	FaultWriteNotSet:       "PTE Write access is not set",
	FaultReadNotSet:        "PTE Read access is not set",
}

// fstsPPF is the Primary Pending Fault bit of the Fault Status Register,
// which dmar_fault() prints as "fault status reg 2".
const fstsPPF = 1 << 1

// Fault is one recorded DMA remapping fault (a fault recording register).
// DeviceAccess returns it as a *Fault.
type Fault struct {
	BDF    string `json:"bdf"`
	Addr   uint64 `json:"addr"` // page address of the faulting request, as FRCD.FI holds it
	Write  bool   `json:"write"`
	Reason uint8  `json:"reason"`
	Text   string `json:"text"`
}

// Error is the line dmar_fault_do_one() logs for the fault.
func (f Fault) Error() string {
	kind := "DMA Read"
	if f.Write {
		kind = "DMA Write"
	}
	src := f.BDF
	if id, err := parseBDF(f.BDF); err == nil {
		src = id.source()
	}
	return fmt.Sprintf("DMAR: [%s NO_PASID] Request device [%s] fault addr 0x%x [fault reason 0x%02x] %s",
		kind, src, f.Addr, f.Reason, f.Text)
}

// DeviceAccess is a DMA request issued by the device itself for len(b)
// bytes at iova: every page is translated through the IOTLB (filled from
// the page table on a miss) and checked before any byte moves, so a
// request that faults on any page reads and writes nothing. A fault is
// recorded, logged as dmar_fault() does and returned as a *Fault.
func (u *Unit) DeviceAccess(bdfStr string, iova uint64, b []byte, write bool) error {
	id, err := parseBDF(bdfStr)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	d := u.devices[id]
	if d == nil {
		return u.faultLocked(id, iova, write, FaultContextNotPresent)
	}
	dom := d.dom
	first := iova >> pageShift
	last := (iova + uint64(len(b)) - 1) >> pageShift
	if iova+uint64(len(b))-1 < iova {
		last = 1<<(64-pageShift) - 1
	}
	tr := make([]pte, 0, len(b)/PageSize+2)
	stale := false
	for pfn := first; ; pfn++ {
		if pfn >= 1<<(mgawBits-pageShift) {
			return u.faultLocked(id, pfn<<pageShift, write, FaultBeyondMGAW)
		}
		cur, present := dom.pt[pfn]
		e, hit := u.iotlb[iotlbKey{dom.did, pfn}]
		switch {
		case hit:
			u.c.IOTLBHits++
			if !present || cur != e {
				stale = true
			}
		case present:
			// VT-d caches only present translations, so a miss on a
			// not-present PTE faults without filling the IOTLB.
			u.c.IOTLBMisses++
			e = cur
			u.iotlb[iotlbKey{dom.did, pfn}] = e
		default:
			u.c.IOTLBMisses++
		}
		if write && !e.w {
			return u.faultLocked(id, pfn<<pageShift, write, FaultWriteNotSet)
		}
		if !write && !e.r {
			return u.faultLocked(id, pfn<<pageShift, write, FaultReadNotSet)
		}
		tr = append(tr, e)
		if pfn == last {
			break
		}
	}
	if stale {
		u.c.StaleTranslations++
	}
	addr := iova
	for _, e := range tr {
		off := addr & (PageSize - 1)
		n := min(uint64(len(b)), PageSize-off)
		pa := e.pfn<<pageShift | off
		if write {
			u.mem.WritePhys(pa, b[:n])
		} else {
			u.mem.ReadPhys(pa, b[:n])
		}
		b = b[n:]
		addr += n
	}
	return nil
}

// faultLocked records a fault and logs it the way dmar_fault() and
// dmar_fault_do_one() do; the handler drains the recording register at once,
// so every fault is reported (Linux rate-limits these lines; the ring buffer
// bounds them here).
func (u *Unit) faultLocked(id bdf, addr uint64, write bool, reason uint8) *Fault {
	f := Fault{BDF: id.String(), Addr: addr &^ (PageSize - 1), Write: write, Reason: reason, Text: faultText[reason]}
	u.c.Faults++
	if len(u.faults) == faultLogLen {
		copy(u.faults, u.faults[1:])
		u.faults = u.faults[:faultLogLen-1]
	}
	u.faults = append(u.faults, f)
	u.log.Printk(kernel.KernErr, "DMAR: DRHD: handling fault status reg %x", fstsPPF)
	u.log.Printk(kernel.KernErr, "%s", f.Error())
	return &f
}
