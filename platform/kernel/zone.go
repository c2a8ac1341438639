package kernel

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Zone indices (enum zone_type on x86_64).
const (
	ZoneDMA = iota
	ZoneDMA32
	ZoneNormal
	ZoneMovable
	nrZones
)

var zoneNames = [nrZones]string{"DMA", "DMA32", "Normal", "Movable"}

const (
	maxDMAPFN   = (16 << 20) / PageSize // MAX_DMA_PFN
	maxDMA32PFN = (4 << 30) / PageSize  // MAX_DMA32_PFN
)

// Watermark indices.
const (
	wmarkMin = iota
	wmarkLow
	wmarkHigh
)

// pglistData is a NUMA node (pg_data_t).
type pglistData struct {
	id       int
	zones    [nrZones]zone
	hotAdded bool
	// kmemCacheNodes counts the slab's kmem_cache_node structures for this
	// node (one per cache once the node has normal memory).
	kmemCacheNodes int
	// access are the node's performance attributes per access class
	// (nodeperf.go); nil until someone sets them.
	access [2]*AccessCoordinate
}

func newPgdat(nid int) *pglistData {
	pg := &pglistData{id: nid}
	for i := range pg.zones {
		pg.zones[i].idx = i
		pg.zones[i].nid = nid
	}
	return pg
}

func (pg *pglistData) presentPages() uint64 {
	var n uint64
	for i := range pg.zones {
		n += pg.zones[i].presentPages
	}
	return n
}

// normalPresent counts present pages in kernel zones (N_NORMAL_MEMORY).
func (pg *pglistData) normalPresent() uint64 {
	var n uint64
	for i := ZoneDMA; i <= ZoneNormal; i++ {
		n += pg.zones[i].presentPages
	}
	return n
}

// allocKind says who holds allocated pages.
type allocKind uint8

const (
	kindMovable   allocKind = iota // user pages: migratable
	kindUnmovable                  // kernel allocations
	kindMemmap                     // vmemmap backing hot-added sections
	kindHWPoison                   // poisoned pages held off the buddy (hwpoison.go)
	// kindBalloon are pages a balloon driver took (virtio_balloon's
	// balloon_page_alloc): movable through balloon compaction, and out
	// of the managed count unless the device deflates on OOM
	// (allocation.unmanaged).
	kindBalloon
	nrKinds
)

// zone is struct zone.
type zone struct {
	idx, nid int
	// present holds the zone's present (online) page frames; its hull is
	// the zone's span (zone_start_pfn, spanned_pages).
	present extentSet
	// reserved holds memblock reservations made at boot (kernel image,
	// memmap, pglist_data): present but never managed.
	reserved     extentSet
	free         freeArea
	presentPages uint64
	managedPages uint64
	allocated    [nrKinds]uint64
	wmark        [3]uint64
	// offline holds PG_offline pages of online blocks that a driver keeps
	// away from the buddy (virtio-mem's unplugged sub-blocks): present,
	// not managed, skipped when the block goes offline (pgoffline.go).
	offline extentSet
	// unmanaged counts balloon pages taken out of managed_pages
	// (adjust_managed_page_count) without leaving the zone.
	unmanaged uint64
	// pgReserved counts pages being onlined: their struct pages exist and
	// carry PG_reserved until online_pages() validates and frees them.
	pgReserved uint64
}

func (z *zone) name() string { return zoneNames[z.idx] }

func (z *zone) span() (start, spanned uint64) {
	if len(z.present) == 0 {
		return 0, 0
	}
	return z.present[0].start, z.present[len(z.present)-1].end - z.present[0].start
}

// intersects is zone_intersects(): does [s, s+n) meet the zone's span?
func (z *zone) intersects(s, n uint64) bool {
	start, spanned := z.span()
	if spanned == 0 {
		return false
	}
	return s < start+spanned && start < s+n
}

func (z *zone) isKernel() bool { return z.idx != ZoneMovable }

// setupWatermarks is init_per_zone_wmark_min() + __setup_per_zone_wmarks():
// min_free_kbytes = sqrt(lowmem_kbytes * 16) clamped to [128, 262144], then
// spread over the kernel zones by managed pages; ZONE_MOVABLE gets a small
// fixed min, and low/high add max(min/4, managed * 10/10000).
func (k *Kernel) setupWatermarks() {
	var lowmem uint64
	for _, pg := range k.nodes {
		for i := ZoneDMA; i <= ZoneNormal; i++ {
			lowmem += pg.zones[i].managedPages
		}
	}
	mfk := isqrt(lowmem * (PageSize / 1024) * 16)
	mfk = min(max(mfk, 128), 262144)
	k.minFreeKbytes = mfk
	pagesMin := mfk >> (PageShift - 10)
	for _, pg := range k.nodes {
		for i := range pg.zones {
			z := &pg.zones[i]
			var tmp uint64
			if lowmem > 0 {
				tmp = pagesMin * z.managedPages / lowmem
			}
			if z.idx == ZoneMovable {
				z.wmark[wmarkMin] = min(max(z.managedPages/1024, 32), 128)
			} else {
				z.wmark[wmarkMin] = tmp
			}
			step := max(tmp>>2, z.managedPages*10/10000)
			z.wmark[wmarkLow] = z.wmark[wmarkMin] + step
			z.wmark[wmarkHigh] = z.wmark[wmarkLow] + step
		}
	}
}

func isqrt(n uint64) uint64 {
	if n < 2 {
		return n
	}
	x := uint64(1) << ((64 - bits.LeadingZeros64(n) + 1) / 2)
	for {
		y := (x + n/x) / 2
		if y >= x {
			return x
		}
		x = y
	}
}

func (k *Kernel) distance(a, b int) int {
	if k.cfg.Distance != nil {
		return k.cfg.Distance(a, b)
	}
	if a == b {
		return 10
	}
	return 20
}

// fallback is the node order of nid's zonelist: itself, then the others
// by distance (build_zonelists / find_next_best_node).
func (k *Kernel) fallback(nid int) []int {
	ids := k.nodeIDs()
	slices.SortStableFunc(ids, func(a, b int) int {
		if a == nid || b == nid {
			if a == nid && b != nid {
				return -1
			}
			if b == nid && a != nid {
				return 1
			}
			return 0
		}
		return cmp.Compare(k.distance(nid, a), k.distance(nid, b))
	})
	return ids
}

// buildZonelists is build_all_zonelists(): it logs every node's fallback
// order and the summary line.
func (k *Kernel) buildZonelists() {
	ids := k.nodeIDs()
	for _, nid := range ids {
		var b strings.Builder
		for _, n := range k.fallback(nid) {
			fmt.Fprintf(&b, "%d ", n)
		}
		k.printk(KernInfo, "Fallback order for Node %d: %s", nid, b.String())
	}
	k.printk(KernInfo, "Built %d zonelists, mobility grouping on.  Total pages: %d", len(ids), k.vmTotalPages())
}

// vmTotalPages is nr_free_zone_pages(ZONE_MOVABLE): managed pages above the
// high watermark, summed over all zones.
func (k *Kernel) vmTotalPages() uint64 {
	var n uint64
	for _, pg := range k.nodes {
		for i := range pg.zones {
			z := &pg.zones[i]
			if z.managedPages > z.wmark[wmarkHigh] {
				n += z.managedPages - z.wmark[wmarkHigh]
			}
		}
	}
	return n
}

// defaultKernelZone is default_kernel_zone_for_pfn(): the lowest kernel
// zone whose span meets the range, else ZONE_NORMAL.
func (k *Kernel) defaultKernelZone(pg *pglistData, s, n uint64) *zone {
	for i := ZoneDMA; i < ZoneNormal; i++ {
		if pg.zones[i].intersects(s, n) {
			return &pg.zones[i]
		}
	}
	return &pg.zones[ZoneNormal]
}

// zoneFor is zone_for_pfn_range(): where onlining [s, s+n) of node nid with
// online type t puts it.
func (k *Kernel) zoneFor(t OnlineType, nid int, s, n uint64) *zone {
	pg := k.nodes[nid]
	switch t {
	case OnlineKernel:
		return k.defaultKernelZone(pg, s, n)
	case OnlineMovable:
		return &pg.zones[ZoneMovable]
	}
	if k.policy == PolicyAutoMovable {
		return k.autoMovableZone(pg, s, n)
	}
	// default_zone_for_pfn(): inherit the zone the range already sits in,
	// else a kernel zone (ZONE_MOVABLE with movable_node).
	kz := k.defaultKernelZone(pg, s, n)
	mz := &pg.zones[ZoneMovable]
	inKernel, inMovable := kz.intersects(s, n), mz.intersects(s, n)
	if inKernel != inMovable {
		if inKernel {
			return kz
		}
		return mz
	}
	if k.cfg.MovableNode {
		return mz
	}
	return kz
}

// autoMovableZone is auto_movable_zone_for_pfn(): ZONE_MOVABLE unless the
// range meets a kernel zone or the MOVABLE:KERNEL ratio (system-wide and on
// the node) would exceed auto_movable_ratio.
func (k *Kernel) autoMovableZone(pg *pglistData, s, n uint64) *zone {
	for i := ZoneDMA; i <= ZoneNormal; i++ {
		if pg.zones[i].intersects(s, n) {
			return &pg.zones[i]
		}
	}
	var kernel, movable uint64
	for _, p := range k.nodes {
		kernel += p.normalPresent()
		movable += p.zones[ZoneMovable].presentPages
	}
	ok := movable+n <= kernel*k.ratio/100
	if ok {
		nodeKernel := pg.normalPresent()
		ok = pg.zones[ZoneMovable].presentPages+n <= nodeKernel*k.ratio/100
	}
	if ok {
		return &pg.zones[ZoneMovable]
	}
	return k.defaultKernelZone(pg, s, n)
}
