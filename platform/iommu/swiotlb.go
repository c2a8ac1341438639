package iommu

// Constants of kernel/dma/swiotlb.c and include/linux/swiotlb.h.
const (
	// IOTLBSize is IO_TLB_SIZE: one swiotlb slot (1 << IO_TLB_SHIFT).
	IOTLBSize = 2048
	// ioTLBSegSize is IO_TLB_SEGSIZE: the longest run of contiguous slots one
	// mapping may use, which makes swiotlb_max_mapping_size() 256 KiB.
	ioTLBSegSize = 128
	// DefaultSwiotlbBytes is IO_TLB_DEFAULT_SIZE, 64 MiB.
	DefaultSwiotlbBytes = 64 << 20
)

// swiotlbPool is the default io_tlb_mem pool: a used flag per slot and a
// rotating search index like an io_tlb_area's.
type swiotlbPool struct {
	base  uint64
	used  []bool
	nused uint64
	index int
}

func newSwiotlbPool(base, bytes uint64) swiotlbPool {
	return swiotlbPool{base: base, used: make([]bool, bytes/IOTLBSize)}
}

func (p *swiotlbPool) total() uint64 { return uint64(len(p.used)) }

// alloc finds nslots free slots starting on a page boundary (the
// alloc_align_mask iommu_dma_map_page() passes is the IOVA granule) and not
// crossing an IO_TLB_SEGSIZE segment, searching from the rotating index as
// swiotlb_search_pool_area() does. It returns the slot index.
func (p *swiotlbPool) alloc(nslots int) (int, bool) {
	n := len(p.used)
	if nslots <= 0 || nslots > ioTLBSegSize || nslots > n {
		return 0, false
	}
	const stride = PageSize / IOTLBSize
	start := p.index &^ (stride - 1)
	for tried := 0; tried < n; tried += stride {
		i := (start + tried) % n
		if i+nslots > n || i/ioTLBSegSize != (i+nslots-1)/ioTLBSegSize {
			continue
		}
		free := true
		for j := i; j < i+nslots; j++ {
			if p.used[j] {
				free = false
				break
			}
		}
		if !free {
			continue
		}
		for j := i; j < i+nslots; j++ {
			p.used[j] = true
		}
		p.nused += uint64(nslots)
		p.index = (i + nslots) % n
		return i, true
	}
	return 0, false
}

func (p *swiotlbPool) release(idx, nslots int) {
	for j := idx; j < idx+nslots; j++ {
		if p.used[j] {
			p.used[j] = false
			p.nused--
		}
	}
}

func (p *swiotlbPool) addr(idx int) uint64 { return p.base + uint64(idx)*IOTLBSize }
