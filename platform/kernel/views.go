package kernel

import (
	"fmt"
	"slices"
	"strings"
)

// Block is a memory block device as /sys/devices/system/memory/memoryN
// shows it.
type Block struct {
	ID int `json:"id"` // N in memoryN
	// PhysIndex is phys_index: the block's first section number.
	PhysIndex uint64 `json:"phys_index"`
	State     string `json:"state"` // online | going-offline | offline
	// OnlineType is how an online block was onlined, by zone:
	// online_movable for ZONE_MOVABLE, online_kernel otherwise; "offline".
	OnlineType OnlineType `json:"online_type"`
	// Removable is whether offlining would succeed now: no unmovable pages,
	// one zone, no holes (the pre-5.7 meaning of the attribute).
	Removable bool `json:"removable"`
	// ValidZones is valid_zones: the zone of an online block ("none" if it
	// spans zones); for an offline one the default zone first, then the
	// others online_kernel/online_movable would pick.
	ValidZones string `json:"valid_zones"`
	PhysDevice int    `json:"phys_device"` // always 0 on x86
	Node       int    `json:"node"`
	Start      uint64 `json:"start"` // bytes
	Size       uint64 `json:"size"`  // bytes
	Boot       bool   `json:"boot"`  // present at boot (not hot-added)
	// Pages the block's present memory holds, by owner.
	PresentPages   uint64 `json:"present_pages"`
	MovablePages   uint64 `json:"movable_pages"`
	UnmovablePages uint64 `json:"unmovable_pages"` // kernel allocations and memmap
	ReservedPages  uint64 `json:"reserved_pages"`  // memblock reservations from boot
}

// Blocks lists the memory blocks by ID.
func (k *Kernel) Blocks() []Block {
	k.mu.Lock()
	defer k.mu.Unlock()
	sorted := k.sortedBlocks()
	out := make([]Block, len(sorted))
	for i, b := range sorted {
		out[i] = k.exportBlock(b)
	}
	return out
}

// indexInsert adds a run of blocks with consecutive IDs to the sorted
// index, if there is one (k.mu held): one move, not a sort, per hot-add.
func (k *Kernel) indexInsert(run []*memoryBlock) {
	if k.byID == nil || len(run) == 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(k.byID, run[0].id, func(b *memoryBlock, id int) int { return b.id - id })
	k.byID = slices.Insert(k.byID, i, run...)
}

// indexDelete drops the blocks with IDs in [first, end) from the index.
func (k *Kernel) indexDelete(first, end int) {
	if k.byID == nil {
		return
	}
	cmp := func(b *memoryBlock, id int) int { return b.id - id }
	i, _ := slices.BinarySearchFunc(k.byID, first, cmp)
	j, _ := slices.BinarySearchFunc(k.byID, end, cmp)
	k.byID = slices.Delete(k.byID, i, j)
}

// sortedBlocks is the blocks by ID (k.mu held).
func (k *Kernel) sortedBlocks() []*memoryBlock {
	if k.byID == nil || len(k.byID) != len(k.blocks) {
		k.byID = make([]*memoryBlock, 0, len(k.blocks))
		for _, b := range k.blocks {
			k.byID = append(k.byID, b)
		}
		slices.SortFunc(k.byID, func(a, b *memoryBlock) int { return a.id - b.id })
	}
	return k.byID
}

// BlockTotals counts the memory blocks and sums their present memory.
type BlockTotals struct {
	Blocks, Online            int
	OnlineBytes, OfflineBytes uint64
}

// BlockTotals sums every block: what a summary of the memory in service
// needs, without a copy of each block.
func (k *Kernel) BlockTotals() BlockTotals {
	k.mu.Lock()
	defer k.mu.Unlock()
	var t BlockTotals
	for _, b := range k.sortedBlocks() {
		t.Blocks++
		if b.state == memOnline {
			t.Online++
			t.OnlineBytes += b.present * PageSize
		} else {
			t.OfflineBytes += b.present * PageSize
		}
	}
	return t
}

// BlockStatesIn lists the blocks with IDs in [first, last], by ID.
func (k *Kernel) BlockStatesIn(first, last int) []BlockState {
	k.mu.Lock()
	defer k.mu.Unlock()
	sorted := k.sortedBlocks()
	cmp := func(b *memoryBlock, id int) int { return b.id - id }
	i, _ := slices.BinarySearchFunc(sorted, first, cmp)
	var out []BlockState
	for ; i < len(sorted) && sorted[i].id <= last; i++ {
		b := sorted[i]
		out = append(out, BlockState{ID: b.id, Online: b.state == memOnline, PresentPages: b.present})
	}
	return out
}

// BlockState is the part of a memory block a summary needs.
type BlockState struct {
	ID           int
	Online       bool
	PresentPages uint64
}

// Block returns one memory block.
func (k *Kernel) Block(id int) (Block, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.blocks[id]
	if b == nil {
		return Block{}, false
	}
	return k.exportBlock(b), true
}

// BlockForAddr returns the ID of the memory block holding physical address
// addr (whether or not it exists).
func (k *Kernel) BlockForAddr(addr uint64) int { return int(addr / k.blockSize) }

func (k *Kernel) exportBlock(b *memoryBlock) Block {
	s, n := k.blockRange(b)
	ot := Offline
	if b.state != memOffline {
		ot = OnlineKernel
		if b.zone != nil && b.zone.idx == ZoneMovable {
			ot = OnlineMovable
		}
	}
	return Block{
		ID: b.id, PhysIndex: s / PagesPerSection, State: stateNames[b.state], OnlineType: ot,
		Removable:  b.state == memOnline && b.zone != nil && b.present == n && b.unmovable+b.reserved == 0,
		ValidZones: k.validZones(b), Node: b.nid, Start: s * PageSize, Size: k.blockSize, Boot: b.boot,
		PresentPages: b.present, MovablePages: b.movable, UnmovablePages: b.unmovable, ReservedPages: b.reserved,
	}
}

// BlockSizeBytes is /sys/devices/system/memory/block_size_bytes.
func (k *Kernel) BlockSizeBytes() uint64 { return k.blockSize }

// AutoOnline is /sys/devices/system/memory/auto_online_blocks.
func (k *Kernel) AutoOnline() OnlineType {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.autoOnline
}

// SetAutoOnline writes auto_online_blocks.
func (k *Kernel) SetAutoOnline(t OnlineType) error {
	if !t.Valid() {
		return kerr("auto_online_blocks", EINVAL, fmt.Sprintf("invalid online type %q", t))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.autoOnline = t
	return nil
}

// Zone is one zone of a node, as /proc/zoneinfo shows it.
type Zone struct {
	Name         string `json:"name"`
	StartPFN     uint64 `json:"start_pfn"`
	SpannedPages uint64 `json:"spanned"`
	PresentPages uint64 `json:"present"`
	ManagedPages uint64 `json:"managed"`
	FreePages    uint64 `json:"nr_free_pages"`
	// ReservedPages are present but never managed (boot memblock).
	ReservedPages uint64 `json:"reserved"`
	// Allocated pages by owner: movable (user), unmovable (kernel), and
	// the memmap of hot-added memory.
	MovablePages   uint64 `json:"nr_movable"`
	UnmovablePages uint64 `json:"nr_unmovable"`
	MemmapPages    uint64 `json:"nr_memmap_pages"`
	// OfflinePages are PG_offline pages a driver holds back (virtio-mem's
	// unplugged sub-blocks); BalloonPages are inflated balloon pages.
	OfflinePages  uint64 `json:"nr_offline_pages,omitempty"`
	BalloonPages  uint64 `json:"nr_balloon_pages,omitempty"`
	WatermarkMin  uint64 `json:"min"`
	WatermarkLow  uint64 `json:"low"`
	WatermarkHigh uint64 `json:"high"`
	// FreeArea is free_area[order].nr_free.
	FreeArea [MaxOrder]uint64 `json:"free_area"`
}

// Node is a NUMA node (pglist_data).
type Node struct {
	ID int `json:"id"`
	// HasMemory and HasNormalMemory are N_MEMORY and N_NORMAL_MEMORY.
	HasMemory       bool `json:"has_memory"`
	HasNormalMemory bool `json:"has_normal_memory"`
	HotAdded        bool `json:"hot_added"`
	// Fallback is the node order of the node's zonelist.
	Fallback []int `json:"fallback"`
	// KmemCacheNodes counts the slab's per-node kmem_cache_node
	// structures (one per cache once the node has normal memory).
	KmemCacheNodes int `json:"kmem_cache_nodes"`
	// CPUList is nodeN/cpulist; NrRunning the runnable simulated tasks on
	// the node's CPUs (the scheduler's per-node load).
	CPUList      string `json:"cpulist"`
	NrRunning    int    `json:"nr_running"`
	PresentPages uint64 `json:"present_pages"`
	ManagedPages uint64 `json:"managed_pages"`
	FreePages    uint64 `json:"free_pages"`
	Zones        []Zone `json:"zones"`
	// Access0 and Access1 are nodeN/access0 and access1 (nodeperf.go).
	Access0 *AccessCoordinate `json:"access0,omitempty"`
	Access1 *AccessCoordinate `json:"access1,omitempty"`
}

// Nodes lists the online nodes by ID, each with all four zones.
func (k *Kernel) Nodes() []Node {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Node
	load := k.nrRunning()
	for _, nid := range k.nodeIDs() {
		pg := k.nodes[nid]
		n := Node{ID: nid, HasMemory: pg.presentPages() > 0, HasNormalMemory: pg.normalPresent() > 0,
			HotAdded: pg.hotAdded, Fallback: k.fallback(nid), KmemCacheNodes: pg.kmemCacheNodes,
			CPUList: FormatList(k.nodeCPUList(nid)), NrRunning: load[nid], Access0: pg.access[Access0], Access1: pg.access[Access1]}
		for i := range pg.zones {
			z := &pg.zones[i]
			st, sp := z.span()
			n.Zones = append(n.Zones, Zone{
				Name: z.name(), StartPFN: st, SpannedPages: sp, PresentPages: z.presentPages,
				ManagedPages: z.managedPages, FreePages: z.free.pages, ReservedPages: z.reserved.total(),
				MovablePages: z.allocated[kindMovable], UnmovablePages: z.allocated[kindUnmovable], MemmapPages: z.allocated[kindMemmap],
				OfflinePages: z.offline.total(), BalloonPages: z.allocated[kindBalloon],
				WatermarkMin: z.wmark[wmarkMin], WatermarkLow: z.wmark[wmarkLow], WatermarkHigh: z.wmark[wmarkHigh],
				FreeArea: z.free.nrFree,
			})
			n.PresentPages += z.presentPages
			n.ManagedPages += z.managedPages
			n.FreePages += z.free.pages
		}
		out = append(out, n)
	}
	return out
}

// Meminfo is /proc/meminfo, in kB.
type Meminfo struct {
	MemTotal     uint64 `json:"MemTotal"`
	MemFree      uint64 `json:"MemFree"`
	MemAvailable uint64 `json:"MemAvailable"`
	// AnonPages are the workload's movable allocations.
	AnonPages uint64 `json:"AnonPages"`
	// Unmovable are the workload's kernel allocations (not a Linux field).
	Unmovable uint64 `json:"Unmovable"`
	// Memmap is the struct page array of hot-added memory (vmstat
	// nr_memmap_pages); MemmapBoot that of boot memory (nr_memmap_boot_pages).
	Memmap      uint64 `json:"Memmap"`
	MemmapBoot  uint64 `json:"MemmapBoot"`
	DirectMap4k uint64 `json:"DirectMap4k"`
	DirectMap2M uint64 `json:"DirectMap2M"`
	DirectMap1G uint64 `json:"DirectMap1G"`
	// HardwareCorrupted is memory memory_failure() poisoned.
	HardwareCorrupted uint64 `json:"HardwareCorrupted"`
	// MinFreeKbytes is vm.min_free_kbytes (not in /proc/meminfo).
	MinFreeKbytes uint64 `json:"min_free_kbytes"`
}

// Meminfo reports /proc/meminfo.
func (k *Kernel) Meminfo() Meminfo {
	k.mu.Lock()
	defer k.mu.Unlock()
	var m Meminfo
	var high uint64
	for _, pg := range k.nodes {
		for i := range pg.zones {
			z := &pg.zones[i]
			m.MemTotal += z.managedPages
			m.MemFree += z.free.pages
			m.AnonPages += z.allocated[kindMovable]
			m.Unmovable += z.allocated[kindUnmovable]
			m.Memmap += z.allocated[kindMemmap]
			high += z.wmark[wmarkHigh]
		}
	}
	const kb = PageSize / 1024
	if m.MemFree > high {
		m.MemAvailable = m.MemFree - high
	}
	m.MemTotal *= kb
	m.MemFree *= kb
	m.MemAvailable *= kb
	m.AnonPages *= kb
	m.Unmovable *= kb
	m.Memmap *= kb
	m.MemmapBoot = k.bootMemmapPages * kb
	m.DirectMap4k = k.dmap.bytes[level4K] >> 10
	m.DirectMap2M = k.dmap.bytes[level2M] >> 10
	m.DirectMap1G = k.dmap.bytes[level1G] >> 10
	m.HardwareCorrupted = uint64(len(k.hwpoison)) * kb
	m.MinFreeKbytes = k.minFreeKbytes
	return m
}

// String formats m like /proc/meminfo.
func (m Meminfo) String() string {
	var b strings.Builder
	row := func(name string, v uint64) { fmt.Fprintf(&b, "%-16s%8d kB\n", name+":", v) }
	row("MemTotal", m.MemTotal)
	row("MemFree", m.MemFree)
	row("MemAvailable", m.MemAvailable)
	row("AnonPages", m.AnonPages)
	row("HardwareCorrupted", m.HardwareCorrupted)
	row("DirectMap4k", m.DirectMap4k)
	row("DirectMap2M", m.DirectMap2M)
	row("DirectMap1G", m.DirectMap1G)
	return b.String()
}

// TotalRAMPages is totalram_pages(): managed pages of all zones.
func (k *Kernel) TotalRAMPages() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	var n uint64
	for _, pg := range k.nodes {
		for i := range pg.zones {
			n += pg.zones[i].managedPages
		}
	}
	return n
}

// FreeBytesFromOrder counts free memory in buddy blocks of at least the
// given order: what free page reporting (mm/page_reporting.c, which
// reports blocks of page_reporting_order and up) can hand to a host.
func (k *Kernel) FreeBytesFromOrder(order int) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	var n uint64
	for _, pg := range k.nodes {
		for i := range pg.zones {
			for o := max(order, 0); o < MaxOrder; o++ {
				n += pg.zones[i].free.nrFree[o] << o
			}
		}
	}
	return n * PageSize
}
