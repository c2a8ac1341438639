package kernel

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
)

// PhysRange is a range of system physical addresses [Start, Start+Size).
type PhysRange struct {
	Start uint64 `json:"start"`
	Size  uint64 `json:"size"`
}

func (r PhysRange) pfns() (s, e uint64) { return r.Start / PageSize, (r.Start + r.Size) / PageSize }

// Rebalanced reports what Rebalance did. Page counts are 4 KiB pages.
type Rebalanced struct {
	Node int `json:"node"`
	// Movable, Unmovable and Reserved describe the source ranges before the
	// move: pages of movable allocations (the candidates), of kernel
	// allocations and memmap (pinned: they stay), and of boot reservations
	// (kernel image, memmap, pglist_data: they stay too).
	Movable   uint64 `json:"movable"`
	Unmovable uint64 `json:"unmovable"`
	Reserved  uint64 `json:"reserved"`
	// Target is how many pages the destination had to receive to hold its
	// proportional share of the movable load; Moved how many it received
	// (never more than Target), in Allocations allocations.
	Target      uint64 `json:"target"`
	Moved       uint64 `json:"moved"`
	Allocations int    `json:"allocations"`
	// Short is set when the destination ran out of free blocks above its
	// zone's min watermark before Target was reached.
	Short bool `json:"short,omitempty"`
}

// Rebalance migrates movable allocations of node nid out of the source
// ranges into the destination range to until the destination holds its
// proportional share of the movable pages the two hold together: with D
// pages online in to, S pages present in the sources and M movable pages
// in both, to ends up with M*D/(S+D) of them. It is what the OS does after
// the firmware took a memory controller out of the socket's interleave set
// (Map Out): the pages whose decode changed spread onto the new module's
// channel instead of crowding the old ones.
//
// Migration is do_migrate_range() without the isolation: each allocation
// keeps its Handle and changes page frame; kernel allocations, the memmap
// and boot reservations cannot move and are counted, not touched. Linux's
// migration target (alloc_migration_target) cannot aim at a physical range;
// the model's can, because the balancing is the point of the move. Only the
// online part of to on node nid receives pages, always above its zone's min
// watermark; an allocation that would overshoot the target is left where it
// is, so Moved <= Target. Nothing else stops: allocations, frees and
// hot-plug on other ranges go on before and after, as the seed asks
// ("without stopping the I/O subsystem").
//
// It fails with EINVAL when nid has no memory, a range is empty, unaligned
// or overlaps to, or to holds no online memory of node nid.
func (k *Kernel) Rebalance(nid int, to PhysRange, from []PhysRange) (Rebalanced, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	const op = "migrate_pages"
	res := Rebalanced{Node: nid}
	pg := k.nodes[nid]
	if pg == nil {
		return res, kerr(op, EINVAL, fmt.Sprintf("node %d is not online", nid))
	}
	valid := func(r PhysRange) bool {
		return r.Size != 0 && r.Start%PageSize == 0 && r.Size%PageSize == 0 && r.Start+r.Size > r.Start && r.Start+r.Size <= maxPhysAddr
	}
	if !valid(to) {
		return res, kerr(op, EINVAL, fmt.Sprintf("destination %#x+%#x is empty or not page aligned", to.Start, to.Size))
	}
	ts, te := to.pfns()
	src := make([]extent, 0, len(from))
	for _, r := range from {
		if !valid(r) {
			return res, kerr(op, EINVAL, fmt.Sprintf("source %#x+%#x is empty or not page aligned", r.Start, r.Size))
		}
		s, e := r.pfns()
		if s < te && ts < e {
			return res, kerr(op, EINVAL, fmt.Sprintf("source %s overlaps destination %s", memRange(s, e-s), memRange(ts, te-ts)))
		}
		src = append(src, extent{s, e})
	}
	// Sources may be given in any order and may overlap each other: merge
	// them so that no page is counted twice.
	var srcSet extentSet
	slices.SortFunc(src, func(a, b extent) int { return cmp.Compare(a.start, b.start) })
	for _, e := range src {
		if n := len(srcSet); n > 0 && srcSet[n-1].end >= e.start {
			srcSet[n-1].end = max(srcSet[n-1].end, e.end)
			continue
		}
		srcSet = append(srcSet, e)
	}
	inSrc := func(pfn uint64) int {
		i := srcSet.search(pfn)
		if i < len(srcSet) && srcSet[i].start <= pfn {
			return i
		}
		return -1
	}

	// Capacities: what node nid has online in the sources and in to.
	var capSrc, capDst uint64
	for i := range pg.zones {
		z := &pg.zones[i]
		for _, e := range srcSet {
			capSrc += z.present.overlap(e.start, e.end)
		}
		capDst += z.present.overlap(ts, te)
	}
	rng := memRange(ts, te-ts)
	if capDst == 0 {
		return res, kerr(op, EINVAL, fmt.Sprintf("no online memory of node %d in %s", nid, rng))
	}

	// The load: movable pages in the sources and already in to; what
	// cannot move is counted per source range for the log.
	type srcStat struct{ moved, unmovable, reserved uint64 }
	stats := make([]srcStat, len(srcSet))
	var movableDst uint64
	var cand []Handle
	for h, a := range k.allocs {
		switch i := inSrc(a.pfn); {
		case a.pfn >= ts && a.pfn < te:
			if a.kind == kindMovable && a.zone.nid == nid {
				movableDst += a.pages()
			}
		case i < 0:
		case a.kind == kindMovable && a.zone.nid == nid:
			res.Movable += a.pages()
			cand = append(cand, h)
		case a.kind != kindMovable:
			res.Unmovable += a.pages()
			stats[i].unmovable += a.pages()
		}
	}
	for i := range pg.zones {
		for j, e := range srcSet {
			n := pg.zones[i].reserved.overlap(e.start, e.end)
			res.Reserved += n
			stats[j].reserved += n
		}
	}
	// share = (M * D) / (S + D) without overflowing: M <= S + D because
	// movable pages are present pages, so the quotient fits and Div64's
	// high word is below the divisor.
	hi, lo := bits.Mul64(res.Movable+movableDst, capDst)
	share, _ := bits.Div64(hi, lo, capSrc+capDst)
	if share > movableDst {
		res.Target = share - movableDst
	}

	// Lowest page frames first, so the outcome is deterministic.
	slices.SortFunc(cand, func(x, y Handle) int { return cmp.Compare(k.allocs[x].pfn, k.allocs[y].pfn) })
	for _, h := range cand {
		a := k.allocs[h]
		n := a.pages()
		if res.Moved+n > res.Target {
			continue
		}
		nz, pfn, ok := k.rmqueueIn(nid, a.order, ts, te)
		if !ok {
			// A smaller allocation may still fit a fragment.
			res.Short = true
			continue
		}
		old, oz := a.pfn, a.zone
		k.unaccount(a)
		a.pfn, a.zone = pfn, nz
		k.account(a)
		oz.free.free(old, old+n)
		k.requarantine(oz, old, old+n)
		res.Moved += n
		res.Allocations++
		stats[inSrc(old)].moved += n
	}
	res.Short = res.Short && res.Moved < res.Target

	k.printk(KernInfo, "memory_hotplug: rebalance node %d: migrated %d of %d movable pages (%d allocations) to %s, target %d",
		nid, res.Moved, res.Movable, res.Allocations, rng, res.Target)
	for i, e := range srcSet {
		st := stats[i]
		k.printk(KernInfo, "memory_hotplug:   from %s: %d pages migrated, %d unmovable and %d reserved pages stay",
			memRange(e.start, e.pages()), st.moved, st.unmovable, st.reserved)
	}
	if res.Short {
		k.printk(KernWarning, "memory_hotplug: rebalance node %d: %s is full above the min watermark: %d of %d pages migrated",
			nid, rng, res.Moved, res.Target)
	}
	return res, nil
}

// rmqueueIn takes a free 1<<order block inside [s, e) from one of node
// nid's zones, highest zone first as rmqueue walks them, keeping each zone
// above its min watermark: the migration target for Rebalance.
func (k *Kernel) rmqueueIn(nid, order int, s, e uint64) (*zone, uint64, bool) {
	n := uint64(1) << order
	pg := k.nodes[nid]
	for zi := ZoneMovable; zi >= ZoneDMA; zi-- {
		z := &pg.zones[zi]
		if z.free.pages < n || z.free.pages-n < z.wmark[wmarkMin] {
			continue
		}
		if pfn, ok := z.free.allocIn(order, s, e); ok {
			return z, pfn, true
		}
	}
	return nil, 0, false
}

// allocIn takes the lowest naturally aligned free 1<<order block inside
// [s, e). Unlike alloc it does not prefer the smallest sufficient order:
// the range, not fragmentation, is what the caller cares about.
func (fa *freeArea) allocIn(order int, s, e uint64) (uint64, bool) {
	n := uint64(1) << order
	for i := fa.ext.search(s); i < len(fa.ext) && fa.ext[i].start < e; i++ {
		lo, hi := max(fa.ext[i].start, s), min(fa.ext[i].end, e)
		p := (lo + n - 1) &^ (n - 1)
		if p >= lo && p+n <= hi {
			fa.take(p, p+n)
			return p, true
		}
	}
	return 0, false
}

// overlap counts the pages of [a, b) the set holds.
func (s extentSet) overlap(a, b uint64) uint64 {
	var n uint64
	for i := s.search(a); i < len(s) && s[i].start < b; i++ {
		n += min(s[i].end, b) - max(s[i].start, a)
	}
	return n
}
