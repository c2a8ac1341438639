package iommu

import (
	"math/bits"
	"sort"
)

// iovaStartPFN is IOVA_START_PFN in drivers/iommu/iova.c: pfn 0 is never
// handed out, so a DMA address of 0 is never valid.
const iovaStartPFN = 1

// iovaRange is one allocated run of IOVA page frames, inclusive.
type iovaRange struct{ lo, hi uint64 }

// iovaDomain is the per-domain IOVA allocator (struct iova_domain). Like
// __alloc_and_insert_iova_range() it searches top-down from the limit and
// aligns every allocation to its size rounded up to a power of two
// (size_aligned), so a run never straddles a larger natural boundary.
type iovaDomain struct {
	ranges []iovaRange // sorted by lo, disjoint
}

// alloc returns the first pfn of npages free frames below or at limitPFN.
func (d *iovaDomain) alloc(npages, limitPFN uint64) (uint64, bool) {
	if npages == 0 || npages > limitPFN {
		return 0, false
	}
	align := uint64(1) << bits.Len64(npages-1)
	hi := limitPFN
	for i := len(d.ranges); i >= 0; i-- {
		lo := uint64(iovaStartPFN)
		if i > 0 {
			lo = d.ranges[i-1].hi + 1
		}
		if hi >= lo && hi-lo+1 >= npages {
			cand := (hi - npages + 1) &^ (align - 1)
			if cand >= lo {
				d.ranges = append(d.ranges, iovaRange{})
				copy(d.ranges[i+1:], d.ranges[i:])
				d.ranges[i] = iovaRange{cand, cand + npages - 1}
				return cand, true
			}
		}
		if i > 0 {
			if d.ranges[i-1].lo <= iovaStartPFN {
				return 0, false
			}
			hi = min(hi, d.ranges[i-1].lo-1)
		}
	}
	return 0, false
}

// free releases the run starting at pfn (free_iova); false if none does.
func (d *iovaDomain) free(pfn uint64) bool {
	i := sort.Search(len(d.ranges), func(i int) bool { return d.ranges[i].lo >= pfn })
	if i == len(d.ranges) || d.ranges[i].lo != pfn {
		return false
	}
	d.ranges = append(d.ranges[:i], d.ranges[i+1:]...)
	return true
}
