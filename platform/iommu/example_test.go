package iommu_test

import (
	"errors"
	"fmt"

	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

type printLog struct{}

func (printLog) Printk(_ kernel.Level, format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}

// An untrusted device gets its 512 bytes bounced into a zero-padded slot; a
// write into its read-only mapping is blocked and logged.
func Example() {
	mem := iommu.NewSparseMemory()
	mem.WritePhys(0x100000, []byte("kernel secrets around the buffer"))
	u, err := iommu.New(iommu.Config{SwiotlbBase: 0x8000000, SwiotlbBytes: 1 << 20}, mem, printLog{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := u.AttachDevice("0000:38:00.0", true); err != nil {
		fmt.Println(err)
		return
	}
	mem.WritePhys(0x100400, []byte("dma payload"))
	m, err := u.MapSingle("0000:38:00.0", 0x100400, 512, iommu.ToDevice)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("iova %#x bounced=%v slot %#x\n", m.IOVA, m.Bounced, m.Slot)
	page := make([]byte, iommu.PageSize)
	_ = u.DeviceAccess("0000:38:00.0", m.IOVA, page, false)
	fmt.Printf("device reads %q, then zeros: %v\n", page[:11], page[0x20] == 0 && page[0xfff] == 0)
	err = u.DeviceAccess("0000:38:00.0", m.IOVA, []byte{1}, true)
	var f *iommu.Fault
	fmt.Println(errors.As(err, &f), f.Reason)
	// Output:
	// software IO TLB: mapped [mem 0x0000000008000000-0x0000000008100000] (1MB)
	// iommu: Default domain type: Translated
	// iommu: DMA domain TLB invalidation policy: lazy mode
	// iommu: Adding device 0000:38:00.0 to group 0
	// pci 0000:38:00.0: DMAR: untrusted device: Use Intel IOMMU bounce page dma_ops, strict IOTLB invalidation
	// iova 0xfffff000 bounced=true slot 0x8000000
	// device reads "dma payload", then zeros: true
	// DMAR: DRHD: handling fault status reg 2
	// DMAR: [DMA Write NO_PASID] Request device [38:00.0] fault addr 0xfffff000 [fault reason 0x05] PTE Write access is not set
	// true 5
}
