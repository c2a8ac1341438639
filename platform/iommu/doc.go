// Package iommu models an Intel VT-d DMA remapping unit and the Linux DMA-API
// isolation the kernel applies to untrusted PCI devices, so that a device
// emulated by bmcemu (the CXL memory expander, external and untrusted unless
// the operator says otherwise) can only reach what its driver mapped.
//
// Hardware (Intel VT-d Architecture Specification, chapters 3, 6 and 7):
// a requester ID selects a context entry, which points at the device's
// domain; the domain's second-level page table maps 4 KiB IOVA pages to
// host page frames with separate read and write bits (flattened here to its
// leaf entries). Translations are cached in an IOTLB tagged by domain id;
// only present entries are cached. A request to a page that is not present
// or lacks the permission is blocked and recorded as a fault (reason 0x05
// "PTE Write access is not set", 0x06 "PTE Read access is not set", 0x02 for a
// device with no context entry, 0x04 beyond the 48-bit guest address width)
// and reported as dmar_fault()/dmar_fault_do_one() in
// drivers/iommu/intel/dmar.c log it. Every page of a request is translated
// before any byte moves, so a blocked request changes nothing.
//
// Kernel:
//   - AttachDevice is iommu_probe_device() with a default DMA domain per
//     group (drivers/iommu/iommu.c); the domain is lazy ("DMA-FQ") unless
//     iommu.strict=1 or pci_dev->untrusted, which set_pcie_untrusted() in
//     drivers/pci/probe.c sets below an external-facing port.
//   - MapSingle is iommu_dma_map_page() (drivers/iommu/dma-iommu.c): when
//     dev_use_swiotlb() holds (untrusted) and the buffer does not fill whole
//     IOVA granules, the data goes through swiotlb_tbl_map_single()
//     (kernel/dma/swiotlb.c) into granule-aligned IO_TLB_SIZE slots whose
//     padding is zeroed, so the device cannot see the kernel data sharing
//     the buffer's pages. Following the seed text, the bounce copy is read
//     back and compared before the slot is mapped; Linux does not verify.
//     IOVAs come from an iova.c-like allocator: top-down, size-aligned,
//     below 4 GiB first.
//   - UnmapSingle is iommu_dma_unmap_page(): PTEs are cleared, then the IOTLB
//     is invalidated at once with one page-selective invalidation (strict),
//     or the IOVA goes to the domain's flush queue (IOVA_FQ_SIZE entries,
//     drivers/iommu/dma-iommu.c queue_iova()) and is neither invalidated nor
//     reused until the queue fills or Flush (fq_flush_timeout()) runs; a
//     cached translation keeps working in that window, which is what strict
//     mode closes. Only after the invalidation is a bounced buffer copied
//     back to the driver and its slot zeroed and freed.
//   - DetachDevice reports leaked mappings as kernel/dma/debug.c does on
//     driver unbind, unmaps them and invalidates the domain.
//
// State is kept per page (page tables, IOTLB, SparseMemory) and per 2 KiB
// slot (swiotlb), never per byte beyond what is written. The Unit takes one
// mutex per call and runs no goroutines or timers: the caller decides when
// the flush-queue timer fires.
package iommu
