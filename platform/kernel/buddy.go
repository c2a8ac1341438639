package kernel

import "sort"

// The buddy allocator is modelled without a struct page per 4 KiB page: a
// zone keeps its free memory as sorted, merged extents of PFNs, and
// free_area[order].nr_free is derived from them. A fully coalesced buddy
// holds, for each maximal free run, exactly the greedy decomposition of the
// run into naturally aligned power-of-two blocks (capped at order
// MaxOrder-1), so the counts follow arithmetically from the extents and are
// kept up to date incrementally as extents split and merge. Allocation takes
// the lowest block of the smallest sufficient order and splits it like
// expand(); freeing merges with neighbouring free extents, which is exactly
// buddy coalescing.

// extent is a run of page frames [start, end).
type extent struct{ start, end uint64 }

func (e extent) pages() uint64 { return e.end - e.start }

// extentSet is sorted, disjoint and merged (no two extents touch).
type extentSet []extent

// search returns the index of the first extent whose end is > pfn.
func (s extentSet) search(pfn uint64) int {
	return sort.Search(len(s), func(i int) bool { return s[i].end > pfn })
}

// overlaps reports whether [a, b) intersects the set.
func (s extentSet) overlaps(a, b uint64) bool {
	i := s.search(a)
	return i < len(s) && s[i].start < b
}

// covers reports whether [a, b) lies inside one extent of the set.
func (s extentSet) covers(a, b uint64) bool {
	i := s.search(a)
	return i < len(s) && s[i].start <= a && b <= s[i].end
}

func (s extentSet) total() uint64 {
	var n uint64
	for _, e := range s {
		n += e.pages()
	}
	return n
}

// add inserts [a, b), which must not overlap the set, merging with
// neighbours. It reports the extents that disappeared into the merge and the
// resulting extent, so callers can keep derived counts current.
func (s *extentSet) add(a, b uint64) (gone [2]extent, nGone int, merged extent) {
	set := *s
	i := set.search(a)
	// Appending past the end is the common case (onlining blocks upwards).
	merged = extent{a, b}
	lo, hi := i, i
	if i > 0 && set[i-1].end == a {
		lo = i - 1
		merged.start = set[i-1].start
		gone[nGone] = set[i-1]
		nGone++
	}
	if i < len(set) && set[i].start == b {
		hi = i + 1
		merged.end = set[i].end
		gone[nGone] = set[i]
		nGone++
	}
	switch hi - lo {
	case 0:
		set = append(set, extent{})
		copy(set[i+1:], set[i:])
		set[i] = merged
	case 1:
		set[lo] = merged
	case 2:
		set[lo] = merged
		set = append(set[:lo+1], set[lo+2:]...)
	}
	*s = set
	return gone, nGone, merged
}

// remove takes [a, b) ∩ set out of the set and calls f for each extent
// touched, with the pieces that were removed from it.
func (s *extentSet) remove(a, b uint64, f func(old extent, left, right extent)) {
	set := *s
	i := set.search(a)
	j := i
	var out []extent
	for j < len(set) && set[j].start < b {
		old := set[j]
		left := extent{old.start, max(old.start, min(a, old.end))}
		right := extent{min(old.end, max(b, old.start)), old.end}
		if f != nil {
			f(old, left, right)
		}
		if left.pages() > 0 {
			out = append(out, left)
		}
		if right.pages() > 0 {
			out = append(out, right)
		}
		j++
	}
	if j == i {
		return
	}
	n := len(set) - (j - i) + len(out)
	if len(out) > j-i {
		set = append(set, make([]extent, len(out)-(j-i))...)
	}
	copy(set[i+len(out):], set[j:len(*s)])
	copy(set[i:], out)
	*s = set[:n]
}

// buddyWalk calls f(order, pfn, count) for the blocks a fully coalesced buddy
// holds for the free run [s, e): count blocks of 1<<order pages starting at
// pfn. Runs of MaxOrder-1 blocks are reported at once, so a multi-TiB run
// costs at most 2*MaxOrder steps. f returns false to stop.
func buddyWalk(s, e uint64, f func(order int, pfn, count uint64) bool) {
	p := s
	for p < e {
		o := MaxOrder - 1
		for o > 0 && (p&(1<<o-1) != 0 || p+1<<o > e) {
			o--
		}
		n := uint64(1)
		if o == MaxOrder-1 {
			n = (e - p) >> o
		}
		if !f(o, p, n) {
			return
		}
		p += n << o
	}
}

// freeArea holds a zone's free memory and the derived free_area counts.
type freeArea struct {
	ext    extentSet
	nrFree [MaxOrder]uint64
	pages  uint64
}

func (fa *freeArea) account(e extent, sign int) {
	if e.pages() == 0 {
		return
	}
	buddyWalk(e.start, e.end, func(o int, _, n uint64) bool {
		if sign > 0 {
			fa.nrFree[o] += n
		} else {
			fa.nrFree[o] -= n
		}
		return true
	})
	if sign > 0 {
		fa.pages += e.pages()
	} else {
		fa.pages -= e.pages()
	}
}

// free returns [a, b) to the buddy (__free_pages_core / __free_one_page),
// coalescing with free neighbours. It refuses (false) a range that is
// already partly free: a double free.
func (fa *freeArea) free(a, b uint64) bool {
	if a >= b || fa.ext.overlaps(a, b) {
		return false
	}
	gone, n, merged := fa.ext.add(a, b)
	for i := 0; i < n; i++ {
		fa.account(gone[i], -1)
	}
	fa.account(merged, +1)
	return true
}

// take removes [a, b) ∩ free from the buddy and returns what it removed
// (page isolation, or allocation of a known block).
func (fa *freeArea) take(a, b uint64) []extent {
	var got []extent
	fa.ext.remove(a, b, func(old, left, right extent) {
		fa.account(old, -1)
		fa.account(left, +1)
		fa.account(right, +1)
		got = append(got, extent{max(old.start, a), min(old.end, b)})
	})
	return got
}

// find returns the lowest free block of the smallest order >= order
// (__rmqueue_smallest).
func (fa *freeArea) find(order int) (uint64, bool) {
	for o := order; o < MaxOrder; o++ {
		if fa.nrFree[o] == 0 {
			continue
		}
		for _, e := range fa.ext {
			if e.pages() < 1<<o {
				continue
			}
			var pfn uint64
			found := false
			buddyWalk(e.start, e.end, func(bo int, p, _ uint64) bool {
				if bo == o {
					pfn, found = p, true
					return false
				}
				return true
			})
			if found {
				return pfn, true
			}
		}
	}
	return 0, false
}

// alloc takes a 1<<order block: the low part of the block find returns, the
// rest going back as the halves expand() would leave.
func (fa *freeArea) alloc(order int) (uint64, bool) {
	pfn, ok := fa.find(order)
	if !ok {
		return 0, false
	}
	fa.take(pfn, pfn+1<<order)
	return pfn, true
}

// recount derives nr_free from scratch (for invariant checks).
func (fa *freeArea) recount() (nr [MaxOrder]uint64, pages uint64) {
	for _, e := range fa.ext {
		buddyWalk(e.start, e.end, func(o int, _, n uint64) bool {
			nr[o] += n
			return true
		})
		pages += e.pages()
	}
	return nr, pages
}
