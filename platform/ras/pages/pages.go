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

// Store is a sparse page store: pages never written read as zeros and
// cost no memory. The zero value is not usable; call New. A Store is not
// safe for concurrent use.
//
// Page frames are grouped in aligned extents of extentPages frames; an
// extent records where each of its written pages lives in the store's
// arena. The arena hands memory out in slabs, in order, so pages written
// in ascending frame order (a workload, a re-silver, a rebuild) lie
// contiguous in memory, and Span and Claim give them out as runs that one
// copy or one XOR pass moves: a run of a megabyte or more is what lets
// copy use its streaming (non-temporal) path; one call per 4 KiB page
// runs far below the memory bandwidth.
type Store struct {
	ext   map[uint64]*extent // by pfn / extentPages
	n     int                // pages held
	slabs [][]Page           // the arena, in hand-out order
	cur   loc                // next never-handed-out page (slab, offset)
	free  []loc              // deleted pages, for reuse
	// last is the extent found by the previous lookup: sequential access
	// then pays one map lookup per extent, not per page.
	last    *extent
	lastKey uint64
	spare   []*extent // emptied by Reset, for reuse
}

const (
	// extentPages frames per extent (a power of two): its table costs 4
	// bytes per frame, 6% of a page when only one frame of an extent is
	// written, a tenth of a percent when all are.
	extentPages = 64
	extentShift = 6

	// Slabs grow from minSlab pages, doubling, to maxSlab (4 MiB): a
	// small store holds little unused memory, a large one gets runs well
	// past copy's 1 MiB streaming threshold. The unused tail is less than
	// one slab, so less than the store's own size and at most 4 MiB.
	minSlab  = 16
	maxSlab  = 1 << slabBits
	slabBits = 10
)

// loc is a page's place in the arena: slab<<slabBits | offset. Locations
// handed out one after the other in a slab are consecutive integers.
type loc uint32

func at(slab, off int) loc        { return loc(slab<<slabBits | off) }
func (l loc) slab() int           { return int(l >> slabBits) }
func (l loc) off() int            { return int(l & (maxSlab - 1)) }
func slabSize(i int) int          { return min(minSlab<<min(i, slabBits), maxSlab) }
func (s *Store) page(l loc) *Page { return &s.slabs[l.slab()][l.off()] }

// extent maps its frames to arena locations; ref holds loc+1, 0 for a
// frame never written.
type extent struct {
	ref [extentPages]uint32
	n   int
}

// New returns an empty store.
func New() *Store { return &Store{ext: map[uint64]*extent{}} }

// NewSized returns an empty store expecting about n pages.
func NewSized(n int) *Store {
	return &Store{ext: make(map[uint64]*extent, max(n, 0)/extentPages+1)}
}

// find returns pfn's extent (created when create is set; nil when absent
// otherwise) and pfn's index in it.
func (s *Store) find(pfn uint64, create bool) (*extent, int) {
	key, i := pfn>>extentShift, int(pfn&(extentPages-1))
	if s.last != nil && s.lastKey == key {
		return s.last, i
	}
	e := s.ext[key]
	if e == nil {
		if !create {
			return nil, i
		}
		if n := len(s.spare); n > 0 {
			e, s.spare = s.spare[n-1], s.spare[:n-1]
		} else {
			e = &extent{}
		}
		s.ext[key] = e
	}
	s.last, s.lastKey = e, key
	return e, i
}

// lookup returns pfn's location, ok=false when never written.
func (s *Store) lookup(pfn uint64) (loc, bool) {
	e, i := s.find(pfn, false)
	if e == nil || e.ref[i] == 0 {
		return 0, false
	}
	return loc(e.ref[i] - 1), true
}

// take allocates location want if it is the one the next allocation
// would hand out (so that it continues a run), and reports whether it did.
func (s *Store) take(want loc) bool {
	if n := len(s.free); n > 0 {
		if s.free[n-1] != want {
			return false
		}
		s.free = s.free[:n-1]
		return true
	}
	if s.cur != want || want.slab() >= len(s.slabs) {
		return false
	}
	s.advance()
	return true
}

// alloc takes a page from the free list or the arena, growing the arena
// by one slab when it is used up. Its contents are whatever the memory
// last held: callers overwrite or clear it.
func (s *Store) alloc() loc {
	if n := len(s.free); n > 0 {
		l := s.free[n-1]
		s.free = s.free[:n-1]
		return l
	}
	if c := s.cur.slab(); c == len(s.slabs) {
		// Locations hold slab<<slabBits in 32 bits: 2^22 slabs of 4 MiB,
		// 16 TiB per store, far past any memory this process can have.
		slab := make([]Page, slabSize(c))
		// Fault the whole slab in now. Left to the first write of each
		// page, stores written in step (a mirror's two sides, a RAID5
		// array's cartridges) take physical pages alternately, and a
		// later pass over one store's run reads every other physical
		// page: measured 4-5% slower re-silvers.
		clear(slab)
		s.slabs = append(s.slabs, slab)
	}
	l := s.cur
	s.advance()
	return l
}

// advance moves the arena cursor past the page it points at.
func (s *Store) advance() {
	if c := s.cur.slab(); s.cur.off()+1 == len(s.slabs[c]) {
		s.cur = at(c+1, 0)
	} else {
		s.cur++
	}
}

// place allocates pfn's page (pfn must be absent) and returns it.
func (s *Store) place(e *extent, i int) loc {
	l := s.alloc()
	e.ref[i] = uint32(l) + 1
	e.n++
	s.n++
	return l
}

// Len is the number of pages held.
func (s *Store) Len() int { return s.n }

// Bytes is the number of content bytes held (Len * PageSize).
func (s *Store) Bytes() uint64 { return uint64(s.n) * PageSize }

// Has reports whether pfn was written.
func (s *Store) Has(pfn uint64) bool { _, ok := s.lookup(pfn); return ok }

// Page returns the stored page (shared, not a copy) or nil when pfn was
// never written.
func (s *Store) Page(pfn uint64) *Page {
	if l, ok := s.lookup(pfn); ok {
		return s.page(l)
	}
	return nil
}

// PFNs lists the written page frames in ascending order.
func (s *Store) PFNs() []uint64 {
	out := make([]uint64, 0, s.n)
	for _, key := range slices.Sorted(maps.Keys(s.ext)) {
		e := s.ext[key]
		for i, r := range e.ref {
			if r != 0 {
				out = append(out, key<<extentShift|uint64(i))
			}
		}
	}
	return out
}

// Slot returns pfn's page, allocating a zeroed one when absent, for callers
// that fill a page in place.
func (s *Store) Slot(pfn uint64) *Page {
	e, i := s.find(pfn, true)
	if e.ref[i] != 0 {
		return s.page(loc(e.ref[i] - 1))
	}
	p := s.page(s.place(e, i))
	*p = Page{}
	return p
}

// WritePage stores a copy of src at pfn.
func (s *Store) WritePage(pfn uint64, src *Page) error {
	e, i := s.find(pfn, true)
	l := loc(e.ref[i] - 1)
	if e.ref[i] == 0 {
		l = s.place(e, i)
	}
	*s.page(l) = *src
	return nil
}

// Span returns the written pages pfn, pfn+1, ... that lie one after the
// other in memory, at most limit of them, as one slice sharing the
// store's memory (writes through it change the store). It is empty when
// pfn was never written; a run ends at a frame never written or stored
// elsewhere.
func (s *Store) Span(pfn uint64, limit int) []Page {
	l, ok := s.lookup(pfn)
	if !ok || limit <= 0 {
		return nil
	}
	lim := s.room(pfn, l, limit)
	n := 1
	for n < lim {
		e, i := s.find(pfn+uint64(n), false)
		if e == nil {
			break
		}
		// The rest of this extent in one loop: a lookup per extent.
		for ; i < extentPages && n < lim && e.ref[i] == uint32(l)+uint32(n)+1; i++ {
			n++
		}
		if i < extentPages && n < lim {
			break
		}
	}
	return s.slabs[l.slab()][l.off() : l.off()+n]
}

// room is how long a run starting at pfn, stored at l, can be: at most
// limit pages, the rest of l's slab, and no frame past the last one.
func (s *Store) room(pfn uint64, l loc, limit int) int {
	n := min(limit, len(s.slabs[l.slab()])-l.off())
	if after := ^pfn; after < uint64(n-1) {
		n = int(after) + 1
	}
	return n
}

// Claim is Span for a writer that overwrites every byte of the run: frames
// of the run never written are allocated (and count as written from now
// on), extending the run as long as the next allocation continues it in
// memory. Their prior contents are unspecified (recycled memory is not
// cleared, which would cost a second pass over it), so the caller must
// overwrite the whole run. It returns at least pfn's page when limit > 0.
func (s *Store) Claim(pfn uint64, limit int) []Page {
	if limit <= 0 {
		return nil
	}
	e, i := s.find(pfn, true)
	l := loc(e.ref[i] - 1)
	if e.ref[i] == 0 {
		l = s.place(e, i)
	}
	lim := s.room(pfn, l, limit)
	n := 1
	for n < lim {
		e, i := s.find(pfn+uint64(n), true)
		for ; i < extentPages && n < lim; i, n = i+1, n+1 {
			want := l + loc(n)
			if r := e.ref[i]; r != 0 {
				if loc(r-1) != want {
					return s.slabs[l.slab()][l.off() : l.off()+n]
				}
				continue
			}
			if !s.take(want) {
				if e.n == 0 {
					s.drop(pfn + uint64(n))
				}
				return s.slabs[l.slab()][l.off() : l.off()+n]
			}
			e.ref[i] = uint32(want) + 1
			e.n++
			s.n++
		}
	}
	return s.slabs[l.slab()][l.off() : l.off()+n]
}

// drop forgets pfn's extent when it holds no page.
func (s *Store) drop(pfn uint64) {
	key := pfn >> extentShift
	if e := s.ext[key]; e != nil && e.n == 0 {
		delete(s.ext, key)
		if s.last == e {
			s.last = nil
		}
	}
}

// Reset forgets every page (all read as zeros again) but keeps their
// memory for reuse, as when a replacement module takes a failed one's
// place: a re-silver or rebuild then writes into memory already mapped,
// handed out again in arena order so that it writes sequentially.
func (s *Store) Reset() {
	for _, e := range s.ext {
		*e = extent{}
		s.spare = append(s.spare, e)
	}
	clear(s.ext)
	s.n, s.cur, s.free, s.last = 0, 0, s.free[:0], nil
}

// ReadPage copies pfn's contents into dst (zeros when never written).
func (s *Store) ReadPage(pfn uint64, dst *Page) error {
	if p := s.Page(pfn); p != nil {
		*dst = *p
	} else {
		*dst = Page{}
	}
	return nil
}

// Delete forgets pfn (it reads as zeros again).
func (s *Store) Delete(pfn uint64) {
	e, i := s.find(pfn, false)
	if e == nil || e.ref[i] == 0 {
		return
	}
	s.free = append(s.free, loc(e.ref[i]-1))
	e.ref[i] = 0
	e.n--
	s.n--
	s.drop(pfn)
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
		if p := s.Page(addr >> PageShift); p != nil {
			copy(b[:n], p[off:])
		} else {
			clear(b[:n])
		}
		b, addr = b[n:], addr+n
	}
}

// CopyRuns copies the written pages pfns (ascending) of src into s, in
// runs as long as both stores keep them contiguous. A frame src never
// wrote is skipped. It is the re-silver and spare-copy data path.
func (s *Store) CopyRuns(src *Store, pfns []uint64) {
	for len(pfns) > 0 {
		k := Consecutive(pfns)
		from := src.Span(pfns[0], k)
		if len(from) == 0 {
			pfns = pfns[1:]
			continue
		}
		n := copy(s.Claim(pfns[0], len(from)), from)
		pfns = pfns[n:]
	}
}

// MaxRun is the longest run Span or Claim returns (one slab).
const MaxRun = maxSlab

// Frames is a run of consecutive page frames: First, First+1, ...,
// First+N-1.
type Frames struct {
	First, N uint64
}

// Runs lists the written page frames in ascending order as maximal runs
// of consecutive frames: what PFNs lists, in one entry per run instead of
// one per page (a densely written GiB is one entry, not 262,144).
func (s *Store) Runs() []Frames {
	var out []Frames
	for _, key := range slices.Sorted(maps.Keys(s.ext)) {
		for i, r := range s.ext[key].ref {
			if r == 0 {
				continue
			}
			pfn := key<<extentShift | uint64(i)
			if n := len(out); n > 0 && out[n-1].First+out[n-1].N == pfn {
				out[n-1].N++
			} else {
				out = append(out, Frames{First: pfn, N: 1})
			}
		}
	}
	return out
}

// CopyFrames copies the written frames of f from src into s, in runs as
// long as both stores keep them contiguous; frames src never wrote are
// skipped.
func (s *Store) CopyFrames(src *Store, f Frames) {
	for f.N > 0 {
		from := src.Span(f.First, int(min(f.N, MaxRun)))
		k := uint64(1)
		if len(from) > 0 {
			k = uint64(copy(s.Claim(f.First, len(from)), from))
		}
		f.First += k
		f.N -= k
	}
}

// Consecutive is how many leading frames of pfns follow one another
// (pfns[i] == pfns[0]+i), counting no further than MaxRun: callers take
// one run at a time, and counting a long stretch anew for each run would
// make the walk quadratic.
func Consecutive(pfns []uint64) int {
	n, limit := 0, min(len(pfns), MaxRun)
	for n < limit && pfns[n] == pfns[0]+uint64(n) {
		n++
	}
	return n
}

// Diff returns the first page frame that one of s and o holds and the
// other does not, or that both hold with different bytes; differ is false
// when the two hold the same frames with the same contents.
func (s *Store) Diff(o *Store) (pfn uint64, differ bool) {
	a, b := s.PFNs(), o.PFNs()
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return min(a[i], b[i]), true
		}
		if *s.Page(a[i]) != *o.Page(a[i]) {
			return a[i], true
		}
	}
	switch {
	case len(a) > len(b):
		return a[len(b)], true
	case len(b) > len(a):
		return b[len(a)], true
	}
	return 0, false
}

// Scramble flips one byte of every page held, in place: tests and
// benchmarks use it on a failed board before its memory is reused, so
// that a copy which skips a page leaves wrong bytes, not the old ones.
func Scramble(s *Store) {
	for _, pfn := range s.PFNs() {
		s.Page(pfn)[pfn%PageSize] ^= 0xA5
	}
}

// Clone is a deep copy.
func (s *Store) Clone() *Store {
	c := NewSized(s.n)
	c.CopyRuns(s, s.PFNs())
	return c
}

// String summarizes the store.
func (s *Store) String() string {
	return fmt.Sprintf("pages.Store{%d pages, %d KiB}", s.n, s.Bytes()>>10)
}
