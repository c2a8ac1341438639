package iommu

import "sync"

// PageSize is the 4 KiB VT-d page and IOVA granule (VTD_PAGE_SIZE; the
// dma-iommu cookie's iovad->granule on x86).
const PageSize = 4096

const pageShift = 12

// Memory is host physical memory as the DMA API reads and writes it.
type Memory interface {
	ReadPhys(addr uint64, b []byte)
	WritePhys(addr uint64, b []byte)
}

// SparseMemory is a Memory that stores only the 4 KiB pages ever written
// (zero elsewhere); safe for concurrent use. A page whose contents become all
// zero again is dropped, so zeroing a bounce slot gives its storage back.
type SparseMemory struct {
	mu    sync.RWMutex
	pages map[uint64]*[PageSize]byte
}

// NewSparseMemory returns an all-zero memory.
func NewSparseMemory() *SparseMemory {
	return &SparseMemory{pages: make(map[uint64]*[PageSize]byte)}
}

// ReadPhys copies len(b) bytes at addr into b; addresses wrap at 2^64.
func (m *SparseMemory) ReadPhys(addr uint64, b []byte) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for len(b) > 0 {
		off := addr & (PageSize - 1)
		n := min(uint64(len(b)), PageSize-off)
		if p := m.pages[addr>>pageShift]; p != nil {
			copy(b[:n], p[off:off+n])
		} else {
			clear(b[:n])
		}
		b = b[n:]
		addr += n
	}
}

// WritePhys copies b to addr; addresses wrap at 2^64.
func (m *SparseMemory) WritePhys(addr uint64, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(b) > 0 {
		off := addr & (PageSize - 1)
		n := min(uint64(len(b)), PageSize-off)
		pfn := addr >> pageShift
		p := m.pages[pfn]
		if p == nil {
			if allZero(b[:n]) {
				b = b[n:]
				addr += n
				continue
			}
			p = new([PageSize]byte)
			m.pages[pfn] = p
		}
		copy(p[off:off+n], b[:n])
		if allZero(p[:]) {
			delete(m.pages, pfn)
		}
		b = b[n:]
		addr += n
	}
}

// Pages reports how many 4 KiB pages hold non-zero data.
func (m *SparseMemory) Pages() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.pages)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
