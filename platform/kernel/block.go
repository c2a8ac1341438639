package kernel

import (
	"cmp"
	"fmt"
	"slices"
)

// Memory block states (MEM_ONLINE, MEM_GOING_OFFLINE, MEM_OFFLINE).
const (
	memOnline uint8 = iota
	memGoingOffline
	memOffline
)

var stateNames = [...]string{"online", "going-offline", "offline"}

// memoryBlock is struct memory_block: block_size_bytes of physical memory,
// online or offline as a unit.
type memoryBlock struct {
	id      int
	nid     int
	state   uint8
	boot    bool
	present uint64 // present pages (less than a block only for boot blocks with holes)
	// zone is the zone an online block's pages belong to; nil when a boot
	// block spans zones.
	zone *zone
	// Pages of this block held by allocations and boot reservations: what
	// makes it unmovable (kernel, memmap, reserved) or migratable.
	movable, unmovable, reserved uint64
	// memmap holds the allocations backing this block's struct pages
	// (hot-added blocks), freed when the block is removed.
	memmap []Handle
}

func (k *Kernel) blockRange(b *memoryBlock) (startPFN, nrPages uint64) {
	return uint64(b.id) * k.blockPages, k.blockPages
}

func memRange(startPFN, nrPages uint64) string {
	return fmt.Sprintf("[mem 0x%08x-0x%08x]", startPFN*PageSize, (startPFN+nrPages)*PageSize-1)
}

// OnlineBlock onlines memory block id (echo online_* > memoryN/state):
// the zone is chosen (zone_for_pfn_range), MEM_GOING_ONLINE runs the
// notifier chain, the block's pages (PG_reserved until then) are freed to
// the buddy as coalesced high-order blocks, watermarks are recalculated and
// MEM_ONLINE is announced. A notifier veto cancels with MEM_CANCEL_ONLINE.
// t "online" lets the online policy pick the zone.
func (k *Kernel) OnlineBlock(id int, t OnlineType) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.blocks[id]
	if b == nil {
		return kerr("online_pages", ENOENT, fmt.Sprintf("memory%d: no such memory block", id))
	}
	if t == "" {
		t = Online
	}
	if t == Offline || !t.Valid() {
		return kerr("online_pages", EINVAL, fmt.Sprintf("memory%d: invalid online type %q", id, t))
	}
	z, err := k.onlineBlock(b, t)
	if err == nil {
		s, n := k.blockRange(b)
		k.printk(KernInfo, "memory_hotplug: memory%d %s onlined: node %d zone %s", id, memRange(s, n), b.nid, z.name())
	}
	return err
}

func (k *Kernel) onlineBlock(b *memoryBlock, t OnlineType) (*zone, error) {
	s, n := k.blockRange(b)
	if b.state != memOffline {
		return nil, kerr("online_pages", EINVAL, fmt.Sprintf("memory%d %s is already %s", b.id, memRange(s, n), stateNames[b.state]))
	}
	pg := k.nodes[b.nid]
	z := k.zoneFor(t, b.nid, s, n)
	arg := MemoryNotify{Action: MemGoingOnline, StartPFN: s, NrPages: n, StatusChangeNid: -1, StatusChangeNidNormal: -1,
		Block: b.id, Node: b.nid, Zone: z.name()}
	if pg.presentPages() == 0 {
		arg.StatusChangeNid = b.nid
	}
	if z.isKernel() && pg.normalPresent() == 0 {
		arg.StatusChangeNidNormal = b.nid
	}
	needZonelists := z.presentPages == 0

	// move_pfn_range_to_zone(): struct pages initialised, PG_reserved.
	z.pgReserved += n
	if who, err := k.notify(arg); err != nil {
		z.pgReserved -= n
		arg.Action = MemCancelOnline
		k.notify(arg)
		k.printk(KernDebug, "online_pages %s failed", memRange(s, n))
		return nil, &Error{Op: "online_pages", Errno: errnoOf(err, EBUSY),
			Msg: fmt.Sprintf("online_pages %s failed: notifier %s refused", memRange(s, n), who), Err: err}
	}
	// online_pages_range(): PG_reserved cleared, pages freed to the buddy
	// through the online_page_callback: a driver may keep parts back as
	// PG_offline (pgoffline.go).
	z.pgReserved -= n
	z.present.add(s, s+n)
	z.presentPages += n
	held := k.heldBack(s, n)
	z.managedPages += n - held.total()
	for _, x := range complement(s, s+n, held) {
		z.free.free(x.start, x.end)
	}
	for _, x := range held {
		z.offline.add(x.start, x.end)
	}
	k.requarantine(z, s, s+n)
	b.present = n
	b.state = memOnline
	b.zone = z
	if needZonelists {
		k.buildZonelists()
	}
	k.setupWatermarks()
	arg.Action = MemOnline
	k.notify(arg)
	return z, nil
}

// OfflineBlock offlines memory block id (echo offline > memoryN/state):
// the range is isolated, MEM_GOING_OFFLINE runs the chain, movable pages
// migrate elsewhere, and the pages leave the zone. It fails with EBUSY and
// "memory offlining [mem ...] failed due to unmovable page" while kernel
// allocations, the memmap or boot reservations sit in the block.
func (k *Kernel) OfflineBlock(id int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.blocks[id]
	if b == nil {
		return kerr("offline_pages", ENOENT, fmt.Sprintf("memory%d: no such memory block", id))
	}
	zname := ""
	if b.zone != nil {
		zname = b.zone.name()
	}
	err := k.offlineBlock(b)
	if err == nil {
		s, n := k.blockRange(b)
		k.printk(KernInfo, "memory_hotplug: memory%d %s offlined: node %d zone %s", id, memRange(s, n), b.nid, zname)
	}
	return err
}

func (k *Kernel) offlineBlock(b *memoryBlock) error {
	s, n := k.blockRange(b)
	if b.state != memOnline {
		return kerr("offline_pages", EINVAL, fmt.Sprintf("memory%d %s is already %s", b.id, memRange(s, n), stateNames[b.state]))
	}
	fail := func(errno Errno, reason string, cause error) error {
		msg := fmt.Sprintf("memory offlining %s failed due to %s", memRange(s, n), reason)
		k.printk(KernInfo, "%s", msg)
		return &Error{Op: "offline_pages", Errno: errno, Msg: msg, Err: cause}
	}
	z := b.zone
	if z == nil {
		return fail(EINVAL, "multizone range", nil)
	}
	if b.present != n {
		return fail(EINVAL, "memory holes", nil)
	}
	// start_isolate_page_range() -> has_unmovable_pages()
	if b.unmovable+b.reserved > 0 {
		pfn := k.firstUnmovable(z, s, s+n)
		k.printk(KernWarning, "page: refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:%#x", pfn)
		k.printk(KernWarning, "flags: 0x%x(reserved|node=%d|zone=%d)", 1<<10, b.nid, z.idx)
		k.printk(KernWarning, "page dumped because: unmovable page")
		return fail(EBUSY, "unmovable page", nil)
	}
	b.state = memGoingOffline
	isolated := extentSet{}
	for _, x := range z.free.take(s, s+n) {
		isolated.add(x.start, x.end)
	}
	undo := func() {
		for _, x := range isolated {
			z.free.free(x.start, x.end)
		}
		k.requarantine(z, s, s+n)
		b.state = memOnline
	}
	pg := k.nodes[b.nid]
	arg := MemoryNotify{Action: MemGoingOffline, StartPFN: s, NrPages: n, StatusChangeNid: -1, StatusChangeNidNormal: -1,
		Block: b.id, Node: b.nid, Zone: z.name()}
	if pg.presentPages() == n {
		arg.StatusChangeNid = b.nid
	}
	if z.isKernel() && pg.normalPresent() == n {
		arg.StatusChangeNidNormal = b.nid
	}
	if who, err := k.notify(arg); err != nil {
		undo()
		arg.Action = MemCancelOffline
		k.notify(arg)
		e := fail(EBUSY, "notifier failure", err).(*Error)
		e.Msg += " (" + who + ")"
		return e
	}
	// do_migrate_range(): move every movable allocation out.
	var moving []Handle
	for h, a := range k.allocs {
		if a.migratable() && a.pfn >= s && a.pfn < s+n {
			moving = append(moving, h)
		}
	}
	slices.SortFunc(moving, func(x, y Handle) int { return cmp.Compare(k.allocs[x].pfn, k.allocs[y].pfn) })
	for _, h := range moving {
		a := k.allocs[h]
		old, ok := k.migrate(a, b.nid)
		if !ok {
			undo()
			arg.Action = MemCancelOffline
			k.notify(arg)
			return fail(EBUSY, "migration failure: no free memory outside the range", nil)
		}
		isolated.add(old, old+1<<a.order)
	}
	// test_pages_isolated() accepts PG_hwpoison pages and the PG_offline
	// pages their driver released in its MEM_GOING_OFFLINE callback
	// (virtio_mem_notify_going_offline): they leave with the block.
	poisoned, npoison := k.poisonedIn(s, s+n)
	noff := k.offlineIn(z, s, s+n)
	if isolated.total()+npoison+noff != n {
		// Cannot happen while the per-block counts are right; refuse rather
		// than lose pages.
		undo()
		arg.Action = MemCancelOffline
		k.notify(arg)
		return fail(EBUSY, "failure to isolate range", nil)
	}
	for _, h := range poisoned {
		k.unaccount(k.allocs[h])
		delete(k.allocs, h)
	}
	// __offline_isolated_pages(): the pages leave the buddy and the zone.
	z.offline.remove(s, s+n, nil)
	z.present.remove(s, s+n, nil)
	z.presentPages -= n
	z.managedPages -= n - noff
	b.present = n
	b.state = memOffline
	b.zone = nil
	if z.presentPages == 0 {
		k.buildZonelists()
	}
	k.setupWatermarks()
	arg.Action = MemOffline
	k.notify(arg)
	return nil
}

// firstUnmovable finds the lowest unmovable page frame in [s, e) for the
// dump_page() report.
func (k *Kernel) firstUnmovable(z *zone, s, e uint64) uint64 {
	best := e
	if i := z.reserved.search(s); i < len(z.reserved) && z.reserved[i].start < e {
		best = max(s, z.reserved[i].start)
	}
	for _, a := range k.allocs {
		if a.kind != kindMovable && a.kind != kindHWPoison && a.pfn >= s && a.pfn < best {
			best = a.pfn
		}
	}
	return best
}

// validZones is the valid_zones attribute.
func (k *Kernel) validZones(b *memoryBlock) string {
	if b.state != memOffline {
		if b.zone == nil {
			return "none"
		}
		return b.zone.name()
	}
	s, n := k.blockRange(b)
	def := k.zoneFor(Online, b.nid, s, n)
	out := def.name()
	for _, t := range []OnlineType{OnlineKernel, OnlineMovable} {
		if z := k.zoneFor(t, b.nid, s, n); z != def {
			out += " " + z.name()
		}
	}
	return out
}
