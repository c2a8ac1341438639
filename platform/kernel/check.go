package kernel

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// CheckInvariants verifies that the model's books balance. It costs time
// linear in blocks, extents and allocations; tests call it after every step.
//
//   - per zone: extents sorted, disjoint, merged; free ⊆ present,
//     reserved ⊆ present, allocations ⊆ present, pairwise disjoint;
//     free + allocated (movable + unmovable + memmap) = managed;
//     managed + reserved = present; free_area counts match the extents;
//   - zone and node present pages add up to their online blocks, and
//     offline blocks hold no zone pages;
//   - per-block movable/unmovable/reserved counts match the allocations;
//   - /proc/iomem siblings are disjoint and children lie in their parent;
//     every block lies inside a System RAM resource;
//   - totalram_pages = sum of managed pages;
//   - the direct map's runs are aligned and disjoint, its per-size totals
//     add up, and every hot-added block is mapped.
func (k *Kernel) CheckInvariants() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if k.byID != nil {
		if len(k.byID) != len(k.blocks) {
			bad("block index holds %d blocks, there are %d", len(k.byID), len(k.blocks))
		}
		for i, b := range k.byID {
			if k.blocks[b.id] != b || i > 0 && k.byID[i-1].id >= b.id {
				bad("block index out of order or stale at %d (memory%d)", i, b.id)
				break
			}
		}
	}
	byZone := map[*zone][]extent{}
	kinds := map[*zone]*[nrKinds]uint64{}
	for _, a := range k.allocs {
		byZone[a.zone] = append(byZone[a.zone], extent{a.pfn, a.pfn + a.pages()})
		c := kinds[a.zone]
		if c == nil {
			c = new([nrKinds]uint64)
			kinds[a.zone] = c
		}
		c[a.kind] += a.pages()
	}
	unm := map[*zone]uint64{}
	for _, a := range k.allocs {
		if a.unmanaged {
			unm[a.zone] += a.pages()
		}
	}
	zoneOf := map[*zone]bool{}
	nodePresent := map[int]uint64{}
	for _, nid := range k.nodeIDs() {
		pg := k.nodes[nid]
		for i := range pg.zones {
			z := &pg.zones[i]
			zoneOf[z] = true
			zn := fmt.Sprintf("node %d zone %s", nid, z.name())
			for _, set := range []struct {
				name string
				s    extentSet
			}{{"present", z.present}, {"free", z.free.ext}, {"reserved", z.reserved}, {"offline", z.offline}} {
				for j, e := range set.s {
					if e.start >= e.end {
						bad("%s: empty %s extent %v", zn, set.name, e)
					}
					if j > 0 && set.s[j-1].end >= e.start {
						bad("%s: %s extents unsorted or unmerged at %v", zn, set.name, e)
					}
				}
			}
			if got := z.present.total(); got != z.presentPages {
				bad("%s: present extents %d != present_pages %d", zn, got, z.presentPages)
			}
			nodePresent[nid] += z.presentPages
			nr, pages := z.free.recount()
			if nr != z.free.nrFree || pages != z.free.pages {
				bad("%s: free_area %v/%d, recount %v/%d", zn, z.free.nrFree, z.free.pages, nr, pages)
			}
			used := slices.Clone(byZone[z])
			var alloc [nrKinds]uint64
			if c := kinds[z]; c != nil {
				alloc = *c
			}
			if alloc != z.allocated {
				bad("%s: allocated %v, allocations say %v", zn, z.allocated, alloc)
			}
			sum := z.free.pages + alloc[kindMovable] + alloc[kindUnmovable] + alloc[kindMemmap] + alloc[kindHWPoison] + alloc[kindBalloon] - z.unmanaged
			if sum != z.managedPages {
				bad("%s: free %d + allocated %v - unmanaged balloon %d = %d != managed %d", zn, z.free.pages, alloc, z.unmanaged, sum, z.managedPages)
			}
			if unm[z] != z.unmanaged {
				bad("%s: unmanaged balloon pages %d, allocations say %d", zn, z.unmanaged, unm[z])
			}
			if z.managedPages+z.reserved.total()+z.offline.total()+z.unmanaged != z.presentPages {
				bad("%s: managed %d + reserved %d + PG_offline %d + unmanaged balloon %d != present %d", zn, z.managedPages, z.reserved.total(), z.offline.total(), z.unmanaged, z.presentPages)
			}
			if z.pgReserved != 0 {
				bad("%s: %d pages left PG_reserved", zn, z.pgReserved)
			}
			used = append(used, z.free.ext...)
			used = append(used, z.reserved...)
			used = append(used, z.offline...)
			slices.SortFunc(used, func(a, b extent) int { return cmp.Compare(a.start, b.start) })
			var covered uint64
			for j, e := range used {
				if j > 0 && used[j-1].end > e.start {
					bad("%s: %v overlaps %v", zn, used[j-1], e)
				}
				if !z.present.covers(e.start, e.end) {
					bad("%s: %v outside present memory", zn, e)
				}
				covered += e.pages()
			}
			if covered != z.presentPages {
				bad("%s: free+allocated+reserved cover %d of %d present pages", zn, covered, z.presentPages)
			}
		}
	}
	for _, a := range k.allocs {
		if !zoneOf[a.zone] {
			bad("allocation at pfn %#x belongs to a zone of a removed node", a.pfn)
		}
	}

	// Blocks against zones and allocations.
	type counts struct{ movable, unmovable, reserved uint64 }
	want := map[int]*counts{}
	get := func(id int) *counts {
		c := want[id]
		if c == nil {
			c = &counts{}
			want[id] = c
		}
		return c
	}
	for _, a := range k.allocs {
		if a.kind == kindHWPoison {
			if a.order != 0 || !k.hwpoison[a.pfn] {
				bad("quarantined page %#x (order %d) is not a poisoned page", a.pfn, a.order)
			}
			continue // pins no block
		}
		c := get(int(a.pfn / k.blockPages))
		if a.migratable() {
			c.movable += a.pages()
		} else {
			c.unmovable += a.pages()
		}
	}
	for _, pg := range k.nodes {
		for i := range pg.zones {
			for _, e := range pg.zones[i].reserved {
				for p := e.start; p < e.end; {
					id := p / k.blockPages
					end := min(e.end, (id+1)*k.blockPages)
					get(int(id)).reserved += end - p
					p = end
				}
			}
		}
	}
	blockPresent := map[int]uint64{}
	for id, b := range k.blocks {
		if b.id != id {
			bad("memory%d filed as %d", b.id, id)
		}
		if k.nodes[b.nid] == nil {
			bad("memory%d on missing node %d", id, b.nid)
		}
		c := get(id)
		if c.movable != b.movable || c.unmovable != b.unmovable || c.reserved != b.reserved {
			bad("memory%d: counts movable/unmovable/reserved %d/%d/%d, want %d/%d/%d", id, b.movable, b.unmovable, b.reserved, c.movable, c.unmovable, c.reserved)
		}
		s, n := k.blockRange(b)
		switch b.state {
		case memOnline:
			blockPresent[b.nid] += b.present
			if b.zone != nil && !b.zone.present.covers(s, s+n) && b.present == n {
				bad("memory%d online in zone %s that does not hold it", id, b.zone.name())
			}
		case memOffline:
			if b.movable+b.unmovable+b.reserved != 0 {
				bad("memory%d offline but holds pages", id)
			}
			if pg := k.nodes[b.nid]; pg != nil {
				for i := range pg.zones {
					if pg.zones[i].present.overlaps(s, s+n) {
						bad("memory%d offline but present in zone %s", id, pg.zones[i].name())
					}
				}
			}
		default:
			bad("memory%d left %s", id, stateNames[b.state])
		}
		if r := k.iomem.find(s * PageSize); !b.boot && (r == nil || r.flags&resSysRAM == 0 && (r.parent == nil || r.parent.flags&resSysRAM == 0)) {
			bad("memory%d is not inside a System RAM resource", id)
		}
	}
	for id, c := range want {
		if k.blocks[id] == nil && (c.movable+c.unmovable+c.reserved) > 0 {
			bad("pages held in missing memory block %d", id)
		}
	}
	for nid, n := range nodePresent {
		if blockPresent[nid] != n {
			bad("node %d: zones present %d != online blocks %d", nid, n, blockPresent[nid])
		}
	}

	var check func(r *resource)
	check = func(r *resource) {
		for i, c := range r.children {
			if c.start > c.end || c.start < r.start || c.end > r.end {
				bad("resource %s outside parent %s", c, r)
			}
			if i > 0 && r.children[i-1].end >= c.start {
				bad("resources %s and %s overlap", r.children[i-1], c)
			}
			if c.parent != r {
				bad("resource %s has the wrong parent", c)
			}
			check(c)
		}
	}
	check(k.iomem)
	k.checkDirectMap(bad)
	return errors.Join(errs...)
}
