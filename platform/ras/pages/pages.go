// Package pages keeps the real bytes of the pages a simulated workload
// writes, sparsely (only pages written hold memory), with a deterministic
// workload generator and a byte-exact verifier.
package pages

import (
	"fmt"
	"maps"
	"slices"
)

// PageSize is the size of a page frame.
const PageSize = 4096

// PageShift is log2(PageSize).
const PageShift = 12

// Page is the contents of one page frame.
type Page [PageSize]byte

// PageReader reads whole pages by page frame number.
type PageReader interface {
	ReadPage(pfn uint64, dst *Page) error
}

// PageWriter writes whole pages by page frame number.
type PageWriter interface {
	WritePage(pfn uint64, src *Page) error
}

// Store is a sparse page store: a map of page frame number to contents.
// Pages never written read as zeros and cost no memory. The zero value is
// not usable; call New. A Store is not safe for concurrent use.
type Store struct {
	pages map[uint64]*Page
	slab  []Page  // unused pages of the current allocation slab
	free  []*Page // deleted pages, for reuse
}

// slabPages is how many pages are allocated at a time (256 KiB): bulk
// allocation keeps a re-silver or rebuild from paying one allocation per
// page, and bounds the unused tail to less than a slab.
const slabPages = 64

// New returns an empty store.
func New() *Store { return &Store{pages: map[uint64]*Page{}} }

// NewSized returns an empty store ready for n pages without growing.
func NewSized(n int) *Store {
	return &Store{pages: make(map[uint64]*Page, n), slab: make([]Page, max(n, 0))}
}

// alloc takes a page from the free list or the slab; zero clears a
// recycled page (slab pages are zero already).
func (s *Store) alloc(zero bool) *Page {
	if n := len(s.free); n > 0 {
		p := s.free[n-1]
		s.free = s.free[:n-1]
		if zero {
			*p = Page{}
		}
		return p
	}
	if len(s.slab) == 0 {
		s.slab = make([]Page, slabPages)
	}
	p := &s.slab[0]
	s.slab = s.slab[1:]
	return p
}

// Len is the number of pages held.
func (s *Store) Len() int { return len(s.pages) }

// Bytes is the number of content bytes held (Len * PageSize).
func (s *Store) Bytes() uint64 { return uint64(len(s.pages)) * PageSize }

// Has reports whether pfn was written.
func (s *Store) Has(pfn uint64) bool { _, ok := s.pages[pfn]; return ok }

// Page returns the stored page (shared, not a copy) or nil when pfn was
// never written.
func (s *Store) Page(pfn uint64) *Page { return s.pages[pfn] }

// PFNs lists the written page frames in ascending order.
func (s *Store) PFNs() []uint64 { return slices.Sorted(maps.Keys(s.pages)) }

// Slot returns pfn's page, allocating a zeroed one when absent, for callers
// that fill a page in place.
func (s *Store) Slot(pfn uint64) *Page { return s.slot(pfn, true) }

func (s *Store) slot(pfn uint64, zero bool) *Page {
	p := s.pages[pfn]
	if p == nil {
		p = s.alloc(zero)
		s.pages[pfn] = p
	}
	return p
}

// WritePage stores a copy of src at pfn.
func (s *Store) WritePage(pfn uint64, src *Page) error {
	*s.slot(pfn, false) = *src
	return nil
}

// Reset forgets every page (all read as zeros again) but keeps their
// memory for reuse, as when a replacement module takes a failed one's
// place: a re-silver or rebuild then writes into memory already mapped.
func (s *Store) Reset() {
	// Recycle in descending page-frame order so allocation (which pops
	// from the end) hands pages out in the order they were laid out in
	// memory: a sequential re-silver then writes sequentially.
	pfns := s.PFNs()
	for i := len(pfns) - 1; i >= 0; i-- {
		s.free = append(s.free, s.pages[pfns[i]])
	}
	clear(s.pages)
}

// ReadPage copies pfn's contents into dst (zeros when never written).
func (s *Store) ReadPage(pfn uint64, dst *Page) error {
	if p := s.pages[pfn]; p != nil {
		*dst = *p
	} else {
		*dst = Page{}
	}
	return nil
}

// Delete forgets pfn (it reads as zeros again).
func (s *Store) Delete(pfn uint64) {
	if p := s.pages[pfn]; p != nil {
		delete(s.pages, pfn)
		s.free = append(s.free, p)
	}
}

// Write copies b to the byte address addr, across pages as needed.
func (s *Store) Write(addr uint64, b []byte) {
	for len(b) > 0 {
		off := addr % PageSize
		n := copy(s.Slot(addr >> PageShift)[off:], b)
		b, addr = b[n:], addr+uint64(n)
	}
}

// Read copies the bytes at addr into b (zeros where never written).
func (s *Store) Read(addr uint64, b []byte) {
	for len(b) > 0 {
		off := addr % PageSize
		n := min(uint64(len(b)), PageSize-off)
		if p := s.pages[addr>>PageShift]; p != nil {
			copy(b[:n], p[off:])
		} else {
			clear(b[:n])
		}
		b, addr = b[n:], addr+n
	}
}

// Clone is a deep copy.
func (s *Store) Clone() *Store {
	c := NewSized(len(s.pages))
	for pfn, p := range s.pages {
		*c.slot(pfn, false) = *p
	}
	return c
}

// String summarizes the store.
func (s *Store) String() string {
	return fmt.Sprintf("pages.Store{%d pages, %d KiB}", len(s.pages), s.Bytes()>>10)
}
