package kernel

import (
	"math/rand/v2"
	"testing"
)

// canonical is the fully coalesced buddy state of a page-level free map:
// an aligned block of order o sits on free_area[o] when all its pages are
// free and its parent block (order o+1) is not, or o is the top order.
func canonical(free []bool, base uint64) (nr [MaxOrder]uint64) {
	prefix := make([]int, len(free)+1)
	for i, f := range free {
		prefix[i+1] = prefix[i]
		if f {
			prefix[i+1]++
		}
	}
	full := func(i, size int) bool { return i+size <= len(free) && prefix[i+size]-prefix[i] == size }
	for o := 0; o < MaxOrder; o++ {
		size := 1 << o
		for i := 0; i+size <= len(free); i += size {
			if !full(i, size) {
				continue
			}
			if o < MaxOrder-1 {
				parent := int((base+uint64(i))&^uint64(2*size-1)) - int(base)
				if parent >= 0 && full(parent, 2*size) {
					continue
				}
			}
			nr[o]++
		}
	}
	return nr
}

func TestBuddyCountsMatchPageLevelCoalescing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const pages = 4096
	for iter := range 60 {
		base := uint64(r.IntN(4)) * 1024 // zones start aligned to order 10
		var fa freeArea
		free := make([]bool, pages)
		fa.free(base, base+pages)
		for i := range free {
			free[i] = true
		}
		var held []extent
		for range 200 {
			if r.IntN(3) > 0 || len(held) == 0 {
				o := r.IntN(MaxOrder)
				pfn, ok := fa.alloc(o)
				if !ok {
					continue
				}
				for p := pfn; p < pfn+1<<o; p++ {
					if !free[p-base] {
						t.Fatalf("iter %d: allocated busy page %d", iter, p)
					}
					free[p-base] = false
				}
				if pfn&(1<<o-1) != 0 {
					t.Fatalf("order-%d block at unaligned pfn %#x", o, pfn)
				}
				held = append(held, extent{pfn, pfn + 1<<o})
			} else {
				i := r.IntN(len(held))
				e := held[i]
				held = append(held[:i], held[i+1:]...)
				if !fa.free(e.start, e.end) {
					t.Fatalf("free of %v refused", e)
				}
				for p := e.start; p < e.end; p++ {
					free[p-base] = true
				}
			}
			if want := canonical(free, base); want != fa.nrFree {
				t.Fatalf("iter %d: nr_free %v, page-level buddy %v", iter, fa.nrFree, want)
			}
			if nr, n := fa.recount(); nr != fa.nrFree || n != fa.pages {
				t.Fatalf("incremental counts drifted")
			}
		}
	}
}

func TestBuddyWalkLargeRunIsCheap(t *testing.T) {
	steps := 0
	var pages uint64
	// 12 TiB starting at an odd page.
	buddyWalk(1, 1+(12<<40)/PageSize, func(o int, _, n uint64) bool {
		steps++
		pages += n << o
		return true
	})
	if pages != (12<<40)/PageSize || steps > 2*MaxOrder {
		t.Fatalf("%d pages in %d steps", pages, steps)
	}
	var fa freeArea
	if !fa.free(10, 20) || fa.free(15, 25) || fa.free(5, 5) {
		t.Fatal("double free accepted or free refused")
	}
	if got := fa.take(0, 100); len(got) != 1 || got[0] != (extent{10, 20}) || fa.pages != 0 {
		t.Fatalf("take: %v, %d left", got, fa.pages)
	}
}
