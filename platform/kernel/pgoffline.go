package kernel

import (
	"fmt"
	"slices"
)

// Memory a paravirtualised driver hands back to its hypervisor without
// removing it: virtio-mem's unplugged sub-blocks inside online memory
// blocks, and virtio-balloon's pages.
//
// virtio-mem (drivers/virtio/virtio_mem.c) installs an online page
// callback (set_online_page_callback() in mm/memory_hotplug.c): when a
// block it added goes online, the sub-blocks the device has not plugged
// never reach the buddy. They stay PG_offline: present in the zone, not
// managed, not in MemTotal. Unplugging a sub-block of an online block
// takes it from the buddy (virtio_mem_fake_offline(): alloc_contig_range
// migrates what is movable and fails on anything else), then lowers
// managed_pages; plugging one gives it back (virtio_mem_fake_online()).
// Offlining a block skips its PG_offline pages, which the driver releases
// in its MEM_GOING_OFFLINE callback.
//
// virtio_balloon (drivers/virtio/virtio_balloon.c) allocates movable pages
// and, unless the device offers VIRTIO_BALLOON_F_DEFLATE_ON_OOM, lowers
// managed_pages by each one (adjust_managed_page_count() in fill_balloon),
// so MemTotal shrinks while the blocks, /proc/iomem and the firmware map
// stay as they were. Balloon pages migrate like user pages (balloon
// compaction); migrating an unmanaged one moves the managed count with it,
// as virtballoon_migratepage() does.

// OnlinePageFunc is a driver's online page callback: given a block's page
// frames about to go online, it returns the page-frame ranges the driver
// keeps back as PG_offline (nil: all go to the buddy). Linux calls the
// callback per MAX_ORDER chunk; the model calls it once per block and
// takes ranges, which gives the same result. It runs with the kernel lock
// held and must not call the Kernel.
type OnlinePageFunc func(startPFN, nrPages uint64) (holdBack []PFNRange)

// PFNRange is a range of page frames [Start, Start+Pages).
type PFNRange struct {
	Start uint64 `json:"start_pfn"`
	Pages uint64 `json:"nr_pages"`
}

// SetOnlinePageCallback installs fn (set_online_page_callback). Like
// Linux, only one driver may hold it: a second call fails with EBUSY
// until RestoreOnlinePageCallback.
func (k *Kernel) SetOnlinePageCallback(fn OnlinePageFunc) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if fn == nil {
		return kerr("set_online_page_callback", EINVAL, "no callback")
	}
	if k.onlinePage != nil {
		return kerr("set_online_page_callback", EBUSY, "another driver holds the online page callback")
	}
	k.onlinePage = fn
	return nil
}

// RestoreOnlinePageCallback puts generic_online_page back.
func (k *Kernel) RestoreOnlinePageCallback() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onlinePage = nil
}

// heldBack asks the online page callback which frames of [s, s+n) stay
// PG_offline, clipped to the range and merged.
func (k *Kernel) heldBack(s, n uint64) extentSet {
	if k.onlinePage == nil {
		return nil
	}
	var out extentSet
	for _, r := range k.onlinePage(s, n) {
		a, b := max(r.Start, s), min(r.Start+r.Pages, s+n)
		if a < b {
			out.add(a, b)
		}
	}
	return out
}

// complement returns [s, e) minus set (sorted, disjoint).
func complement(s, e uint64, set extentSet) []extent {
	var out []extent
	p := s
	for _, x := range set {
		if x.start > p {
			out = append(out, extent{p, x.start})
		}
		p = max(p, x.end)
	}
	if p < e {
		out = append(out, extent{p, e})
	}
	return out
}

// offlineIn counts z's PG_offline pages in [s, e).
func (k *Kernel) offlineIn(z *zone, s, e uint64) uint64 {
	var n uint64
	for _, x := range z.offline {
		if a, b := max(x.start, s), min(x.end, e); a < b {
			n += b - a
		}
	}
	return n
}

// migrate moves a migratable allocation to a free block near nid and
// returns the frame it left. A balloon page out of managed_pages takes
// that adjustment along (virtballoon_migratepage).
func (k *Kernel) migrate(a *allocation, nid int) (uint64, bool) {
	nz, pfn, ok := k.rmqueue(nid, a.order, kindMovable)
	if !ok {
		return 0, false
	}
	old, oz := a.pfn, a.zone
	k.unaccount(a)
	a.pfn, a.zone = pfn, nz
	k.account(a)
	if a.unmanaged {
		oz.managedPages += a.pages()
		oz.unmanaged -= a.pages()
		nz.managedPages -= a.pages()
		nz.unmanaged += a.pages()
	}
	return old, true
}

// onlineBlockOf returns the online block holding [s, e) whole, or an error
// naming what is wrong.
func (k *Kernel) onlineBlockOf(op string, s, e uint64) (*memoryBlock, error) {
	if s >= e || s/k.blockPages != (e-1)/k.blockPages {
		return nil, kerr(op, EINVAL, fmt.Sprintf("%s is empty or crosses a memory block", memRange(s, e-s)))
	}
	b := k.blocks[int(s/k.blockPages)]
	if b == nil {
		return nil, kerr(op, EINVAL, fmt.Sprintf("%s: no memory block holds it", memRange(s, e-s)))
	}
	if b.state != memOnline || b.zone == nil {
		return nil, kerr(op, EINVAL, fmt.Sprintf("%s: memory%d is %s", memRange(s, e-s), b.id, stateNames[b.state]))
	}
	return b, nil
}

// FakeOffline takes [start, start+size) of an online block away from the
// buddy and out of managed_pages, leaving it PG_offline
// (virtio_mem_fake_offline() over alloc_contig_range()). Movable pages in
// the range migrate elsewhere; kernel pages, the memmap, boot reservations
// or poisoned pages refuse it with EBUSY, and "alloc_contig_range: [...)
// PFNs busy" is logged, as mm/page_alloc.c does. Nothing changes on
// failure.
func (k *Kernel) FakeOffline(start, size uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	const op = "alloc_contig_range"
	if start%PageSize != 0 || size%PageSize != 0 || start+size < start {
		return kerr(op, EINVAL, fmt.Sprintf("range %#x+%#x is not page aligned", start, size))
	}
	s, e := start/PageSize, (start+size)/PageSize
	b, err := k.onlineBlockOf(op, s, e)
	if err != nil {
		return err
	}
	z := b.zone
	if k.offlineIn(z, s, e) > 0 {
		return kerr(op, EINVAL, fmt.Sprintf("%s is already offline", memRange(s, e-s)))
	}
	busy := func(why string) error {
		k.printk(KernInfo, "alloc_contig_range: [%x, %x) PFNs busy", s, e)
		return kerr(op, EBUSY, fmt.Sprintf("%s holds %s", memRange(s, e-s), why))
	}
	if z.reserved.overlaps(s, e) {
		return busy("boot reservations (unmovable page)")
	}
	var moving []*allocation
	for _, a := range k.allocs {
		if a.pfn+a.pages() <= s || a.pfn >= e {
			continue
		}
		if !a.migratable() {
			what := "unmovable page"
			switch a.kind {
			case kindMemmap:
				what = "unmovable page (memmap)"
			case kindHWPoison:
				what = "hwpoisoned page"
			}
			return busy(what)
		}
		if a.pfn < s || a.pfn+a.pages() > e {
			return busy("a movable allocation straddling the range")
		}
		moving = append(moving, a)
	}
	slices.SortFunc(moving, func(x, y *allocation) int { return cmpU(x.pfn, y.pfn) })
	// start_isolate_page_range(): the free pages first, so migration
	// cannot land inside the range.
	isolated := extentSet{}
	for _, x := range z.free.take(s, e) {
		isolated.add(x.start, x.end)
	}
	for _, a := range moving {
		old, ok := k.migrate(a, b.nid)
		if !ok {
			for _, x := range isolated {
				z.free.free(x.start, x.end)
			}
			return busy("pages that cannot migrate: no free memory outside the range")
		}
		isolated.add(old, old+a.pages())
	}
	z.offline.add(s, e)
	z.managedPages -= e - s
	k.setupWatermarks()
	return nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FakeOnline gives PG_offline pages [start, start+size) of an online block
// to the buddy and back to managed_pages (virtio_mem_fake_online()).
func (k *Kernel) FakeOnline(start, size uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	const op = "fake_online"
	if start%PageSize != 0 || size%PageSize != 0 || start+size < start {
		return kerr(op, EINVAL, fmt.Sprintf("range %#x+%#x is not page aligned", start, size))
	}
	s, e := start/PageSize, (start+size)/PageSize
	b, err := k.onlineBlockOf(op, s, e)
	if err != nil {
		return err
	}
	z := b.zone
	if !z.offline.covers(s, e) {
		return kerr(op, EINVAL, fmt.Sprintf("%s is not PG_offline", memRange(s, e-s)))
	}
	z.offline.remove(s, e, nil)
	z.managedPages += e - s
	z.free.free(s, e)
	k.requarantine(z, s, e)
	k.setupWatermarks()
	return nil
}

// BalloonInflate takes 1<<order pages for a balloon (balloon_page_alloc:
// a movable page from the local node, no NUMA preference of the device's
// own). With adjustManaged (the device lacks DEFLATE_ON_OOM) they leave
// managed_pages and so MemTotal. ENOMEM when no zone can give them above
// its min watermark (__GFP_NORETRY: the balloon does not push the guest
// into reclaim).
func (k *Kernel) BalloonInflate(order int, adjustManaged bool) (Handle, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if order < 0 || order >= MaxOrder {
		return 0, kerr("balloon_page_alloc", EINVAL, fmt.Sprintf("order %d out of range 0..%d", order, MaxOrder-1))
	}
	nid := 0
	if k.nodes[0] == nil {
		ids := k.nodeIDs()
		if len(ids) == 0 {
			return 0, kerr("balloon_page_alloc", ENOMEM, "no memory")
		}
		nid = ids[0]
	}
	h, ok := k.allocate(nid, order, kindBalloon)
	if !ok {
		return 0, kerr("balloon_page_alloc", ENOMEM, fmt.Sprintf("no free order-%d page above the min watermarks", order))
	}
	if adjustManaged {
		a := k.allocs[h]
		a.unmanaged = true
		a.zone.managedPages -= a.pages()
		a.zone.unmanaged += a.pages()
		k.setupWatermarks()
	}
	return h, nil
}

// BalloonDeflate returns balloon pages to the buddy (release_pages_balloon),
// and to managed_pages if inflating took them out.
func (k *Kernel) BalloonDeflate(h Handle) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := k.allocs[h]
	if a == nil || a.kind != kindBalloon {
		return kerr("balloon_page_dequeue", ENOENT, fmt.Sprintf("no balloon page %d", h))
	}
	if a.unmanaged {
		a.zone.managedPages += a.pages()
		a.zone.unmanaged -= a.pages()
	}
	k.release(h)
	if a.unmanaged {
		k.setupWatermarks()
	}
	return nil
}
