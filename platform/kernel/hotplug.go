package kernel

import (
	"fmt"
	"strings"
)

// AddMemory hot-adds [start, start+size) to node nid: add_memory() when res
// is "System RAM" (or ""), add_memory_driver_managed() for "System RAM
// (kmem)", "System RAM (virtio_mem)" and the like. The range must be
// memory-block aligned and free in /proc/iomem (EEXIST otherwise, with a
// BUG-style report of the resource and zone state). A new node gets its
// pglist_data and zones. The memmap (2 MiB per 128 MiB section) is
// allocated from free kernel memory, preferring nid: when it does not fit
// the add is refused with ENOMEM and nothing changes. Memory block devices
// are created offline, then onlined per auto_online_blocks; onlining
// failures leave blocks offline, as in Linux.
func (k *Kernel) AddMemory(nid int, start, size uint64, res string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.addMemory(nid, start, size, res, "")
}

// AddMemoryDriverManaged is add_memory_driver_managed(): res must be
// "System RAM ($DRIVER)". With merge (MHP_MERGE_RESOURCE, which virtio-mem
// passes) the new resource merges with an adjacent one of the same name,
// as merge_system_ram_resource() does, so /proc/iomem shows one entry per
// contiguous plugged run instead of one per memory block.
func (k *Kernel) AddMemoryDriverManaged(nid int, start, size uint64, res string, merge bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if res == "System RAM" || res == "" {
		return kerr("add_memory_driver_managed", EINVAL, "driver-managed memory must be named \"System RAM ($DRIVER)\"")
	}
	if err := k.addMemory(nid, start, size, res, ""); err != nil {
		return err
	}
	if merge {
		if r := k.iomem.find(start); r != nil && r.name == res {
			r.parent.mergeNeighbours(r)
		}
	}
	return nil
}

// AddMemoryDriverManagedAs is AddMemoryDriverManaged with the blocks
// onlined as online says rather than per auto_online_blocks: what dax/kmem
// memory gets when daxctl's udev rule (`daxctl reconfigure-device
// --mode=system-ram`, ZONE_MOVABLE unless --no-movable) onlines it right
// after the kmem driver added it. Offline leaves the blocks offline.
func (k *Kernel) AddMemoryDriverManagedAs(nid int, start, size uint64, res string, online OnlineType) error {
	if !online.Valid() {
		return kerr("add_memory_driver_managed", EINVAL, fmt.Sprintf("online type %q", online))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if res == "System RAM" || res == "" {
		return kerr("add_memory_driver_managed", EINVAL, "driver-managed memory must be named \"System RAM ($DRIVER)\"")
	}
	return k.addMemory(nid, start, size, res, online)
}

// addMemory adds and onlines the range; online "" means auto_online_blocks.
func (k *Kernel) addMemory(nid int, start, size uint64, res string, online OnlineType) error {
	const op = "add_memory"
	if res == "" {
		res = "System RAM"
	}
	driverManaged := res != "System RAM"
	if driverManaged && (!strings.HasPrefix(res, "System RAM (") || !strings.HasSuffix(res, ")")) {
		return kerr(op, EINVAL, fmt.Sprintf("resource name %q: driver-managed memory must be named \"System RAM ($DRIVER)\"", res))
	}
	if nid < 0 || nid >= MaxNumNodes {
		return kerr(op, EINVAL, fmt.Sprintf("invalid node %d", nid))
	}
	if size == 0 || start%k.blockSize != 0 || size%k.blockSize != 0 {
		msg := fmt.Sprintf("Block size [%#x] unaligned hotplug range: start %#x, size %#x", k.blockSize, start, size)
		k.printk(KernErr, "%s", msg)
		return kerr(op, EINVAL, msg)
	}
	end := start + size
	if end < start || end > maxPhysAddr {
		msg := fmt.Sprintf("Hotplug memory [%#x-%#x] exceeds maximum addressable range [%#x-%#x]", start, end, 0, uint64(maxPhysAddr))
		k.printk(KernWarning, "%s", msg)
		return kerr(op, EINVAL, msg)
	}
	s, n := start/PageSize, size/PageSize
	rng := memRange(s, n)

	// register_memory_resource()
	flags := resBusy | resSysRAM
	if driverManaged {
		flags |= resDriverManaged
	}
	r, conflict := k.iomem.request(start, end-1, res, flags)
	if conflict == nil {
		// Every block is under a System RAM resource, so this only guards
		// the model's own consistency.
		for id := int(s / k.blockPages); uint64(id)*k.blockPages < s+n; id++ {
			if k.blocks[id] != nil {
				r.parent.drop(r)
				conflict = &resource{start: uint64(id) * k.blockSize, end: uint64(id+1)*k.blockSize - 1, name: fmt.Sprintf("memory%d", id)}
				break
			}
		}
	}
	if conflict != nil {
		k.bugConflict(nid, rng, res, conflict)
		return kerr(op, EEXIST, fmt.Sprintf("Unable to reserve System RAM region: %016x->%016x: conflicts with %s", start, end, conflict))
	}

	// __try_online_node(): a new node gets its pglist_data and zones.
	pg := k.nodes[nid]
	newNode := pg == nil
	if newNode {
		pg = newPgdat(nid)
		pg.hotAdded = true
		k.nodes[nid] = pg
		k.setupWatermarks()
	}

	// arch_add_memory() -> sparse_add_section(): the memmap for each section.
	need := size / SectionSize * memmapPagesPerSection
	if avail := k.kernelFree(); need > avail {
		k.printk(KernWarning, "vmemmap alloc failure: order:%d, mode:0xcc0(GFP_KERNEL), nodemask=(null)", memmapOrder)
		r.parent.drop(r)
		if newNode {
			delete(k.nodes, nid)
			k.setupWatermarks()
		}
		msg := fmt.Sprintf("memmap for %s needs %d MiB (%d B per 4 KiB page) but only %d MiB of kernel memory is free",
			rng, need*PageSize>>20, StructPageSize, avail*PageSize>>20)
		k.printk(KernErr, "memory_hotplug: add_memory %s node %d failed: %s", rng, nid, msg)
		return kerr(op, ENOMEM, msg)
	}
	first := int(s / k.blockPages)
	nb := int(n / k.blockPages)
	blocks := make([]memoryBlock, nb) // one allocation for all the block devices
	rollback := func() {
		for i := range blocks {
			for _, h := range blocks[i].memmap {
				k.release(h)
			}
		}
		r.parent.drop(r)
		if newNode {
			delete(k.nodes, nid)
			k.setupWatermarks()
		}
	}
	perBlock := k.blockSize / SectionSize * memmapPagesPerSection
	for i := range blocks {
		got, ok := k.allocPages(nid, perBlock, kindMemmap)
		blocks[i].memmap = got
		if !ok {
			k.printk(KernWarning, "vmemmap alloc failure: order:%d, mode:0xcc0(GFP_KERNEL), nodemask=(null)", memmapOrder)
			rollback()
			return kerr(op, ENOMEM, fmt.Sprintf("memmap for %s: kernel memory too fragmented", rng))
		}
	}
	k.directMapAdd(start, end)

	// create_memory_block_devices()
	run := make([]*memoryBlock, len(blocks))
	for i := range blocks {
		b := &blocks[i]
		b.id, b.nid, b.state, b.present = first+i, nid, memOffline, k.blockPages
		k.blocks[b.id] = b
		run[i] = b
	}
	k.indexInsert(run)
	if newNode {
		k.printk(KernInfo, "memory_hotplug: node %d: pglist_data hot-added (zones DMA DMA32 Normal Movable)", nid)
	}
	k.printk(KernInfo, "memory_hotplug: added %s (%s) to node %d: %d memory blocks, memmap %d KiB",
		rng, res, nid, nb, need*PageSize>>10)
	if !driverManaged {
		// firmware_map_add_hotplug(): only plain System RAM.
		k.fwmapAdd(start, end-1)
	}

	// Auto-online (memhp_default_online_type), summarised per zone.
	if online == "" {
		online = k.autoOnline
	}
	if online == Offline {
		return nil
	}
	var runStart, runPages uint64
	var runZone *zone
	flush := func() {
		if runZone != nil {
			k.printk(KernInfo, "memory_hotplug: onlined %s: node %d zone %s (%s)", memRange(runStart, runPages), nid, runZone.name(), online)
		}
		runZone, runPages = nil, 0
	}
	for i := 0; i < nb; i++ {
		b := k.blocks[first+i]
		z, err := k.onlineBlock(b, online)
		if err != nil {
			flush()
			k.printk(KernWarning, "memory_hotplug: memory%d: auto-online failed: %v", b.id, err)
			continue
		}
		bs, bn := k.blockRange(b)
		if z != runZone || runStart+runPages != bs {
			flush()
			runZone, runStart = z, bs
		}
		runPages += bn
	}
	flush()
	return nil
}

// allocPages takes n pages of kernel memory near nid, in blocks of at most
// the memmap's order (falling back to smaller blocks like
// vmemmap_populate_basepages when memory is fragmented).
func (k *Kernel) allocPages(nid int, n uint64, kind allocKind) ([]Handle, bool) {
	var out []Handle
	order := memmapOrder
	for n > 0 {
		for order > 0 && uint64(1)<<order > n {
			order--
		}
		h, ok := k.allocate(nid, order, kind)
		if !ok {
			if order == 0 {
				return out, false
			}
			order--
			continue
		}
		out = append(out, h)
		n -= 1 << order
	}
	return out, true
}

// bugConflict prints the BUG-style report of a hot-add that collides with
// existing resources: what was asked, what is in the way, and the node's
// zones.
func (k *Kernel) bugConflict(nid int, rng, res string, conflict *resource) {
	k.printk(KernWarning, "------------[ cut here ]------------")
	k.printk(KernCrit, "BUG: memory_hotplug: add_memory %s (%s) node %d conflicts with existing resource", rng, res, nid)
	k.printk(KernCrit, "  conflicting resource: %s", conflict)
	for p := conflict.parent; p != nil && p != k.iomem; p = p.parent {
		k.printk(KernCrit, "    within: %s", p)
	}
	if pg := k.nodes[nid]; pg != nil {
		for i := range pg.zones {
			z := &pg.zones[i]
			st, sp := z.span()
			k.printk(KernCrit, "  Node %d zone %-8s start_pfn %#x spanned %d present %d managed %d free %d",
				nid, z.name(), st, sp, z.presentPages, z.managedPages, z.free.pages)
		}
	} else {
		k.printk(KernCrit, "  Node %d: no pglist_data", nid)
	}
	k.printk(KernWarning, "Call Trace:")
	k.printk(KernWarning, " <TASK>")
	k.printk(KernWarning, " register_memory_resource+0x8f/0x110")
	k.printk(KernWarning, " add_memory_resource+0x5e/0x2f0")
	k.printk(KernWarning, " __add_memory+0x4a/0x80")
	k.printk(KernWarning, " acpi_memory_device_add+0x1c9/0x2f0")
	k.printk(KernWarning, " </TASK>")
	k.printk(KernWarning, "---[ end trace 0000000000000000 ]---")
}

// RemoveMemory removes [start, start+size), which must be memory-block
// aligned and consist of existing, offline blocks (remove_memory). An
// online block refuses it with EBUSY: "removing memory fails, because
// memory [...] is onlined". The blocks' memmap returns to the buddy, the
// direct map shrinks, the System RAM resource is released (split or
// trimmed as needed), and a node left without memory goes away.
func (k *Kernel) RemoveMemory(start, size uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	const op = "remove_memory"
	if size == 0 || start%k.blockSize != 0 || size%k.blockSize != 0 || start+size < start {
		return kerr(op, EINVAL, fmt.Sprintf("Block size [%#x] unaligned hotplug range: start %#x, size %#x", k.blockSize, start, size))
	}
	s, n := start/PageSize, size/PageSize
	first, nb := int(s/k.blockPages), int(n/k.blockPages)
	for i := 0; i < nb; i++ {
		b := k.blocks[first+i]
		if b == nil {
			return kerr(op, EINVAL, fmt.Sprintf("%s: memory%d does not exist", memRange(s, n), first+i))
		}
		if b.state != memOffline {
			bs, bn := k.blockRange(b)
			msg := fmt.Sprintf("removing memory fails, because memory %s is onlined", memRange(bs, bn))
			k.printk(KernWarning, "%s", msg)
			return kerr(op, EBUSY, msg)
		}
	}
	// The resource first: a range straddling resources is refused before
	// anything changes.
	if !k.iomem.releaseAdjustable(start, start+size-1) {
		msg := fmt.Sprintf("Unable to release resource <0x%016x-0x%016x>", start, start+size-1)
		k.printk(KernWarning, "%s", msg)
		return kerr(op, EINVAL, msg)
	}
	nids := map[int]bool{}
	for i := 0; i < nb; i++ {
		b := k.blocks[first+i]
		for _, h := range b.memmap {
			k.release(h)
		}
		nids[b.nid] = true
		delete(k.blocks, b.id)
	}
	k.forgetPoison(s, s+n)
	k.fwmapRemove(start, start+size-1)
	k.indexDelete(first, first+nb)
	k.directMapRemove(start, start+size)
	k.printk(KernInfo, "memory_hotplug: removed %s", memRange(s, n))
	// try_offline_node()
	for nid := range nids {
		if k.nodeHasBlocks(nid) {
			continue
		}
		pg := k.nodes[nid]
		if pg.presentPages() != 0 {
			continue
		}
		delete(k.nodes, nid)
		k.printk(KernInfo, "memory_hotplug: node %d offline: no memory left", nid)
	}
	k.setupWatermarks()
	return nil
}

func (k *Kernel) nodeHasBlocks(nid int) bool {
	for _, b := range k.blocks {
		if b.nid == nid {
			return true
		}
	}
	return false
}

// OfflineAndRemoveMemory is offline_and_remove_memory()
// (mm/memory_hotplug.c): it offlines every online block of [start,
// start+size), then removes the range. If a block will not go offline,
// or the removal fails, the blocks it offlined are onlined again as they
// were (try_reonline_memory_block), so a refusal changes nothing. It
// returns the block that refused to go offline (-1 when none did).
func (k *Kernel) OfflineAndRemoveMemory(start, size uint64) (int, error) {
	type done struct {
		id int
		t  OnlineType
	}
	bs := k.BlockSizeBytes()
	if size == 0 || start%bs != 0 || size%bs != 0 || start+size < start {
		// Refused before anything is offlined, as Linux's
		// check_hotplug_memory_range().
		return -1, kerr("offline_and_remove_memory", EINVAL, fmt.Sprintf("Block size [%#x] unaligned hotplug range: start %#x, size %#x", bs, start, size))
	}
	var offlined []done
	undo := func() {
		for i := len(offlined) - 1; i >= 0; i-- {
			if err := k.OnlineBlock(offlined[i].id, offlined[i].t); err != nil {
				k.Printk(KernErr, "memory_hotplug: memory%d: failed to online again: %v", offlined[i].id, err)
			}
		}
	}
	for a := start; a < start+size; a += bs {
		id := k.BlockForAddr(a)
		b, ok := k.Block(id)
		if !ok || b.State != "online" {
			continue
		}
		if err := k.OfflineBlock(id); err != nil {
			undo()
			return id, err
		}
		offlined = append(offlined, done{id, b.OnlineType})
	}
	if err := k.RemoveMemory(start, size); err != nil {
		undo()
		return -1, err
	}
	return -1, nil
}
