// Package kernel models the Linux memory manager of the simulated server's
// operating system: the OS layer of memory hot-plug. It speaks Linux's
// vocabulary (mm/memory_hotplug.c, drivers/base/memory.c, mm/page_alloc.c):
// NUMA nodes with their pglist_data and zones (DMA, DMA32, Normal, Movable),
// memory sections and memory_block devices, a buddy allocator with
// free_area counts, watermarks, the memmap (64 bytes of struct page per
// 4 KiB page), the memory notifier chain with the slab allocator subscribed,
// /proc/iomem resources, /proc/meminfo, and a printk ring buffer.
//
// The firmware layer feeds it: Boot with the memory map the firmware handed
// over (SRAT/UEFI), AddMemory when an ACPI memory device (PNP0C80) appears,
// RemoveMemory before ejecting one. Workloads allocate and free pages with
// Alloc and Free; operators online and offline blocks as they would by
// writing /sys/devices/system/memory/memoryN/state.
//
// The model is pure and deterministic: no goroutines, no sleeping; time
// only stamps log lines, read from an injected clock.Clock. Memory is never
// modelled page by page: zones keep free memory as extents of page frames
// and derive the buddy's per-order counts arithmetically, so a multi-TiB
// machine costs kilobytes. A Kernel is safe for concurrent use.
package kernel

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

// Geometry of x86_64 Linux.
const (
	PageShift       = 12
	PageSize        = 1 << PageShift // 4 KiB
	SectionSize     = 1 << 27        // SECTION_SIZE_BITS 27: 128 MiB
	PagesPerSection = SectionSize / PageSize
	// MaxOrder is the number of buddy orders (NR_PAGE_ORDERS; MAX_ORDER
	// before Linux 6.4): orders 0..10, order 10 being 4 MiB.
	MaxOrder = 11
	// StructPageSize is sizeof(struct page): the memmap costs 1/64 of the
	// memory it describes, 2 MiB per 128 MiB section.
	StructPageSize = 64
	// MaxNumNodes is 1 << CONFIG_NODES_SHIFT (10).
	MaxNumNodes = 1024
	// MinMemoryBlockSize and MaxMemoryBlockSize bound the memory block size
	// (MIN_MEMORY_BLOCK_SIZE, MAX_BLOCK_SIZE on x86_64).
	MinMemoryBlockSize = SectionSize
	MaxMemoryBlockSize = 2 << 30
	// memSizeForLargeBlock is MEM_SIZE_FOR_LARGE_BLOCK: machines whose boot
	// memory ends below 64 GiB keep 128 MiB blocks.
	memSizeForLargeBlock = 64 << 30
	// maxPhysAddr is the end of the addressable physical range (52 bits,
	// 5-level paging's MAX_PHYSMEM_BITS).
	maxPhysAddr = 1 << 52

	memmapPagesPerSection = PagesPerSection * StructPageSize / PageSize // 512: one order-9 block
	memmapOrder           = 9
	pgdatPages            = 44 // sizeof(pg_data_t) rounded up: ~176 KiB
	lowReservedBytes      = 1 << 20
	kernelPhysStart       = 16 << 20 // CONFIG_PHYSICAL_START
)

// Kernel image sections as "Memory:" reports them, in KiB.
const (
	kernelCodeK   = 16384
	kernelRWDataK = 4096
	kernelROData  = 8192
	kernelInitK   = 4096
	kernelBSSK    = 8192
	kernelImageK  = kernelCodeK + kernelRWDataK + kernelROData + kernelBSSK
)

// Release is the kernel release the boot banner names.
const Release = "6.12.0-bmcemu"

// OnlineType is what one writes to a memory block's state file, and the
// value of /sys/devices/system/memory/auto_online_blocks.
type OnlineType string

// Online types (MMOP_*).
const (
	Offline       OnlineType = "offline"
	Online        OnlineType = "online" // the zone the policy picks
	OnlineKernel  OnlineType = "online_kernel"
	OnlineMovable OnlineType = "online_movable"
)

// Valid reports whether t is one of the four online types.
func (t OnlineType) Valid() bool {
	switch t {
	case Offline, Online, OnlineKernel, OnlineMovable:
		return true
	}
	return false
}

// Online policies (memory_hotplug.online_policy).
const (
	PolicyContigZones = "contig-zones"
	PolicyAutoMovable = "auto-movable"
)

// Config describes the kernel's command line and hardware facts it probes.
type Config struct {
	// BlockSize is the memory block size in bytes (memory_block_size=).
	// 0 probes like x86_64: 128 MiB when boot memory ends below 64 GiB;
	// 2 GiB on bare metal; in a VM the largest power of two <= 2 GiB the
	// end of boot memory is aligned to. Otherwise a power of two between
	// 128 MiB and 2 GiB.
	BlockSize uint64 `json:"block_size,omitempty"`
	// BareMetal is false when CPUID reports a hypervisor.
	BareMetal bool `json:"bare_metal,omitempty"`
	// AutoOnline is auto_online_blocks (memhp_default_state=); "" means
	// "online", as distributions configure it.
	AutoOnline OnlineType `json:"auto_online,omitempty"`
	// OnlinePolicy is memory_hotplug.online_policy: "contig-zones"
	// (default) or "auto-movable".
	OnlinePolicy string `json:"online_policy,omitempty"`
	// AutoMovableRatio is memory_hotplug.auto_movable_ratio in percent
	// (default 301): how much MOVABLE memory auto-movable allows per
	// kernel-zone memory.
	AutoMovableRatio uint64 `json:"auto_movable_ratio,omitempty"`
	// MovableNode is the movable_node parameter: hot-pluggable boot memory
	// above 4 GiB goes to ZONE_MOVABLE, and hot-added memory outside any
	// zone defaults to ZONE_MOVABLE.
	MovableNode bool `json:"movable_node,omitempty"`
	// IOMem are the firmware's non-RAM resources for /proc/iomem: MMIO
	// holes, reserved ranges, PCI and CXL windows (possibly nested). Busy
	// resources refuse memory inside them; others may host it (a CXL
	// window holding "System RAM (kmem)").
	IOMem []Resource `json:"iomem,omitempty"`
	// Distance is the SLIT distance between nodes (nil: 10 local, 20
	// remote); it orders each node's zonelist fallback.
	Distance func(from, to int) int `json:"-"`
	// NodeCPUs is the number of logical CPUs per node (the SRAT's
	// processor affinity entries); nil gives each boot node one CPU. CPUs
	// are numbered node by node in node order. TLB shootdowns reach every
	// CPU, and cpusets name them.
	NodeCPUs map[int]int `json:"node_cpus,omitempty"`
	// LogBufLen bounds the printk ring buffer in bytes of text
	// (CONFIG_LOG_BUF_SHIFT; default 1 MiB).
	LogBufLen int `json:"log_buf_len,omitempty"`
	// Clock stamps log lines (nil: wall clock).
	Clock clock.Clock `json:"-"`
}

// Range is a range of boot memory from the firmware's memory map: an SRAT
// memory affinity entry intersected with the UEFI/e820 usable memory.
type Range struct {
	Start        uint64 `json:"start"`
	Size         uint64 `json:"size"`
	Node         int    `json:"node"`
	HotPluggable bool   `json:"hot_pluggable,omitempty"`
}

// Kernel is the memory manager of one simulated OS instance.
type Kernel struct {
	mu sync.Mutex

	clk        clock.Clock
	bootTime   time.Time
	cfg        Config
	blockSize  uint64 // bytes
	blockPages uint64
	autoOnline OnlineType
	policy     string
	ratio      uint64

	nodes  map[int]*pglistData
	blocks map[int]*memoryBlock
	// byID is blocks sorted by ID, rebuilt when blocks change (nil):
	// views list blocks on every platform event.
	byID []*memoryBlock

	allocs     map[Handle]*allocation
	nextHandle Handle

	iomem     *resource
	notifiers []notifier
	log       printkRing

	minFreeKbytes   uint64
	bootMemmapPages uint64
	dmap            directMap // directmap.go
	slabCaches      []string
	// hwpoison holds the page frames memory_failure() marked (hwpoison.go).
	hwpoison map[uint64]bool
	// fwmap is /sys/firmware/memmap (fwmap.go).
	fwmap []FirmwareMapEntry
	// onlinePage is the online_page_callback a driver installed
	// (pgoffline.go); nil is generic_online_page.
	onlinePage OnlinePageFunc
	// reporting is the free page reporting device (pagereporting.go).
	reporting *pageReporting

	// cpuNode maps each CPU to its node; cpusets and tasks (cpuset.go).
	cpuNode []int
	root    *cpuset
	cpusets map[string]*cpuset
	tasks   map[int]*task
	nextPID int
}

// Boot brings the kernel up on the firmware's memory map: one pglist_data
// per node with its zones, the memmap and kernel image reserved, everything
// else handed to the buddy allocator, memory block devices for every
// present section (all online), and the boot log Linux prints.
func Boot(cfg Config, boot []Range) (*Kernel, error) {
	k := &Kernel{
		cfg:    cfg,
		clk:    cfg.Clock,
		nodes:  map[int]*pglistData{},
		blocks: map[int]*memoryBlock{},
		dmap:   newDirectMap(),
		allocs: map[Handle]*allocation{},
		iomem:  &resource{start: 0, end: maxPhysAddr - 1, name: "iomem"},
		slabCaches: []string{
			"kmalloc-8", "kmalloc-64", "kmalloc-512", "kmalloc-4k",
			"dentry", "inode_cache", "task_struct", "mm_struct",
			"vm_area_struct", "anon_vma", "radix_tree_node", "buffer_head",
		},
	}
	if k.clk == nil {
		k.clk = clock.Real{}
	}
	k.bootTime = k.clk.Now()
	k.log.limit = cfg.LogBufLen
	if k.log.limit <= 0 {
		k.log.limit = 1 << 20
	}
	if err := k.boot(boot); err != nil {
		return nil, err
	}
	k.setupCPUs()
	k.registerSlab()
	for _, pg := range k.nodes {
		if pg.normalPresent() > 0 {
			pg.kmemCacheNodes = len(k.slabCaches)
		}
	}
	return k, nil
}

func (k *Kernel) boot(boot []Range) error {
	cfg := k.cfg
	k.autoOnline = cfg.AutoOnline
	if k.autoOnline == "" {
		k.autoOnline = Online
	}
	if !k.autoOnline.Valid() {
		return kerr("boot", EINVAL, fmt.Sprintf("memhp_default_state=%s: unknown online type", cfg.AutoOnline))
	}
	k.policy = cfg.OnlinePolicy
	if k.policy == "" {
		k.policy = PolicyContigZones
	}
	if k.policy != PolicyContigZones && k.policy != PolicyAutoMovable {
		return kerr("boot", EINVAL, fmt.Sprintf("memory_hotplug.online_policy=%s: unknown policy", cfg.OnlinePolicy))
	}
	k.ratio = cfg.AutoMovableRatio
	if k.ratio == 0 {
		k.ratio = 301
	}
	if len(boot) == 0 {
		return kerr("boot", EINVAL, "no usable memory in the firmware memory map")
	}
	ranges := slices.Clone(boot)
	slices.SortFunc(ranges, func(a, b Range) int { return cmp.Compare(a.Start, b.Start) })
	var bootEnd uint64
	for i, r := range ranges {
		switch {
		case r.Size == 0 || r.Start%PageSize != 0 || r.Size%PageSize != 0:
			return kerr("boot", EINVAL, fmt.Sprintf("memory range [mem 0x%016x-0x%016x] is empty or not page aligned", r.Start, r.Start+r.Size-1))
		case r.Start+r.Size < r.Start || r.Start+r.Size > maxPhysAddr:
			return kerr("boot", EINVAL, fmt.Sprintf("memory range at %#x exceeds the physical address space", r.Start))
		case r.Node < 0 || r.Node >= MaxNumNodes:
			return kerr("boot", EINVAL, fmt.Sprintf("memory range [mem 0x%016x-0x%016x] has invalid node %d", r.Start, r.Start+r.Size-1, r.Node))
		case i > 0 && ranges[i-1].Start+ranges[i-1].Size > r.Start:
			return kerr("boot", EINVAL, fmt.Sprintf("memory ranges overlap at [mem 0x%016x]", r.Start))
		}
		bootEnd = r.Start + r.Size
	}

	// probe_memory_block_size()
	bz := cfg.BlockSize
	switch {
	case bz != 0:
		if bz&(bz-1) != 0 || bz < MinMemoryBlockSize || bz > MaxMemoryBlockSize {
			return kerr("boot", EINVAL, fmt.Sprintf("memory_block_size=%#x: must be a power of two between 128MB and 2048MB", bz))
		}
	case bootEnd < memSizeForLargeBlock:
		bz = MinMemoryBlockSize
	case cfg.BareMetal:
		bz = MaxMemoryBlockSize
	default:
		for bz = MaxMemoryBlockSize; bz > MinMemoryBlockSize; bz >>= 1 {
			if bootEnd%bz == 0 {
				break
			}
		}
	}
	k.blockSize = bz
	k.blockPages = bz / PageSize

	k.printk(KernNotice, "Linux version %s (bmcemu@bmcemu) #1 SMP PREEMPT_DYNAMIC", Release)
	k.printk(KernInfo, "BIOS-provided physical RAM map:")
	type e820 struct {
		start, end uint64
		typ        string
	}
	var e820map []e820
	for _, r := range ranges {
		e820map = append(e820map, e820{r.Start, r.Start + r.Size - 1, "usable"})
	}
	for _, r := range cfg.IOMem {
		if !r.Driver {
			e820map = append(e820map, e820{r.Start, r.End, "reserved"})
		}
	}
	slices.SortFunc(e820map, func(a, b e820) int { return cmp.Compare(a.start, b.start) })
	for _, e := range e820map {
		k.printk(KernInfo, "BIOS-e820: [mem 0x%016x-0x%016x] %s", e.start, e.end, e.typ)
		typ := "Reserved"
		if e.typ == "usable" {
			typ = "System RAM"
		}
		k.fwmap = append(k.fwmap, FirmwareMapEntry{Start: e.start, End: e.end, Type: typ})
	}

	// /proc/iomem: the firmware's resources, then System RAM.
	for _, r := range cfg.IOMem {
		if err := k.insertConfigResource(k.iomem, r); err != nil {
			return err
		}
	}
	for _, r := range ranges {
		if _, conflict := k.iomem.request(r.Start, r.Start+r.Size-1, "System RAM", resBusy|resSysRAM); conflict != nil {
			return kerr("boot", EINVAL, fmt.Sprintf("System RAM [mem 0x%016x-0x%016x] conflicts with %s", r.Start, r.Start+r.Size-1, conflict))
		}
	}

	for _, r := range ranges {
		hp := ""
		if r.HotPluggable {
			hp = " hotplug"
		}
		k.printk(KernInfo, "ACPI: SRAT: Node %d PXM %d [mem 0x%08x-0x%08x]%s", r.Node, r.Node, r.Start, r.Start+r.Size-1, hp)
	}

	// Nodes, zones and memory blocks.
	for _, r := range ranges {
		pg := k.nodes[r.Node]
		if pg == nil {
			pg = newPgdat(r.Node)
			k.nodes[r.Node] = pg
		}
		s, e := r.Start/PageSize, (r.Start+r.Size)/PageSize
		for _, piece := range splitZones(s, e) {
			zi := piece.zone
			if zi == ZoneNormal && cfg.MovableNode && r.HotPluggable {
				zi = ZoneMovable
			}
			z := &pg.zones[zi]
			z.present.add(piece.start, piece.end)
			z.presentPages += piece.pages()
			z.managedPages += piece.pages()
			z.free.free(piece.start, piece.end)
			if err := k.bootBlocks(r.Node, z, piece.start, piece.end); err != nil {
				return err
			}
		}
		k.directMapAdd(r.Start, r.Start+r.Size)
	}

	// memblock reservations: the first MiB, the kernel image, and per node
	// its pglist_data and memmap, top-down.
	k.reserveBoot(0, lowReservedBytes/PageSize)
	if err := k.reserveKernelImage(); err != nil {
		return err
	}
	nids := k.nodeIDs()
	for _, nid := range nids {
		pg := k.nodes[nid]
		sections := presentSections(ranges, nid)
		a, ok := k.reserveTop(pg, pgdatPages)
		if !ok {
			return kerr("boot", ENOMEM, fmt.Sprintf("Cannot allocate %d bytes for node %d data", pgdatPages*PageSize, nid))
		}
		k.printk(KernInfo, "NODE_DATA(%d) allocated [mem 0x%08x-0x%08x]", nid, a*PageSize, (a+pgdatPages)*PageSize-1)
		k.bootMemmapPages += sections * memmapPagesPerSection
		if _, ok := k.reserveTop(pg, sections*memmapPagesPerSection); !ok {
			return kerr("boot", ENOMEM, fmt.Sprintf("Kernel panic - not syncing: Failed to allocate %d bytes of memmap for node %d", sections*memmapPagesPerSection*PageSize, nid))
		}
	}

	k.printZoneRanges(ranges)
	k.setupWatermarks()
	k.buildZonelists()
	var total, reserved uint64
	for _, nid := range nids {
		for i := range k.nodes[nid].zones {
			z := &k.nodes[nid].zones[i]
			total += z.presentPages
			reserved += z.presentPages - z.managedPages
		}
	}
	k.printk(KernInfo, "Memory: %dK/%dK available (%dK kernel code, %dK rwdata, %dK rodata, %dK init, %dK bss, %dK reserved, 0K cma-reserved)",
		(total-reserved)*4, total*4, kernelCodeK, kernelRWDataK, kernelROData, kernelInitK, kernelBSSK, reserved*4)
	k.printk(KernInfo, "x86/mm: Memory block size: %dMB", bz>>20)
	return nil
}

func (k *Kernel) insertConfigResource(parent *resource, r Resource) error {
	if r.End < r.Start {
		return kerr("boot", EINVAL, fmt.Sprintf("resource %q has end before start", r.Name))
	}
	var fl resFlags
	if r.Busy {
		fl |= resBusy
	}
	res, conflict := parent.request(r.Start, r.End, r.Name, fl)
	if conflict != nil {
		return kerr("boot", EINVAL, fmt.Sprintf("resource %s [mem 0x%08x-0x%08x] conflicts with %s", r.Name, r.Start, r.End, conflict))
	}
	for _, c := range r.Children {
		if err := k.insertConfigResource(res, c); err != nil {
			return err
		}
	}
	return nil
}

// nrCPUs is num_online_cpus().
func (k *Kernel) nrCPUs() int { return max(len(k.cpuNode), 1) }

func (k *Kernel) nodeIDs() []int {
	ids := make([]int, 0, len(k.nodes))
	for id := range k.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// bootBlocks creates (or extends) the online memory blocks covering the
// present piece [s, e) of zone z.
func (k *Kernel) bootBlocks(nid int, z *zone, s, e uint64) error {
	for id := int(s / k.blockPages); uint64(id)*k.blockPages < e; id++ {
		bs := uint64(id) * k.blockPages
		lo, hi := max(s, bs), min(e, bs+k.blockPages)
		b := k.blocks[id]
		if b == nil {
			b = &memoryBlock{id: id, nid: nid, state: memOnline, zone: z, boot: true}
			k.blocks[id] = b
			k.byID = nil
		} else if b.nid != nid {
			return kerr("boot", EINVAL, fmt.Sprintf("memory block %d [mem 0x%08x-0x%08x] spans nodes %d and %d; memory_block_size must divide node boundaries",
				id, bs*PageSize, (bs+k.blockPages)*PageSize-1, b.nid, nid))
		} else if b.zone != z {
			b.zone = nil // spans zones: valid_zones "none", cannot be offlined
		}
		b.present += hi - lo
	}
	return nil
}

type zonePiece struct {
	extent
	zone int
}

// splitZones cuts [s, e) at the DMA (16 MiB) and DMA32 (4 GiB) limits.
func splitZones(s, e uint64) []zonePiece {
	var out []zonePiece
	limits := [...]struct {
		end  uint64
		zone int
	}{{maxDMAPFN, ZoneDMA}, {maxDMA32PFN, ZoneDMA32}, {^uint64(0), ZoneNormal}}
	for _, l := range limits {
		if s >= e {
			break
		}
		if s < l.end {
			hi := min(e, l.end)
			out = append(out, zonePiece{extent{s, hi}, l.zone})
			s = hi
		}
	}
	return out
}

// reserveBoot marks [s, e) as memblock-reserved wherever it is present.
func (k *Kernel) reserveBoot(s, e uint64) uint64 {
	var got uint64
	for _, nid := range k.nodeIDs() {
		pg := k.nodes[nid]
		for i := range pg.zones {
			z := &pg.zones[i]
			for _, x := range z.free.take(s, e) {
				k.markReserved(z, x)
				got += x.pages()
			}
		}
	}
	return got
}

func (k *Kernel) markReserved(z *zone, x extent) {
	z.reserved.add(x.start, x.end)
	z.managedPages -= x.pages()
	k.forBlocks(x.start, x.end, func(b *memoryBlock, n uint64) { b.reserved += n })
}

// forBlocks calls f for each memory block [s, e) touches, with the number
// of pages of [s, e) inside it.
func (k *Kernel) forBlocks(s, e uint64, f func(b *memoryBlock, n uint64)) {
	for id := s / k.blockPages; id*k.blockPages < e; id++ {
		bs := id * k.blockPages
		if b := k.blocks[int(id)]; b != nil {
			f(b, min(e, bs+k.blockPages)-max(s, bs))
		}
	}
}

func (k *Kernel) reserveKernelImage() error {
	n := uint64(kernelImageK) * 1024 / PageSize
	place := func(s uint64) bool {
		for _, nid := range k.nodeIDs() {
			for i := range k.nodes[nid].zones {
				if k.nodes[nid].zones[i].free.ext.covers(s, s+n) {
					return true
				}
			}
		}
		return false
	}
	start := uint64(kernelPhysStart / PageSize)
	if !place(start) {
		found := false
		for _, nid := range k.nodeIDs() {
			for i := range k.nodes[nid].zones {
				for _, x := range k.nodes[nid].zones[i].free.ext {
					if x.pages() >= n {
						start, found = x.start, true
						break
					}
				}
				if found {
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			return kerr("boot", ENOMEM, "Kernel panic - not syncing: no memory for the kernel image")
		}
	}
	k.reserveBoot(start, start+n)
	sec := []struct {
		name string
		kib  uint64
	}{{"Kernel code", kernelCodeK}, {"Kernel rodata", kernelROData}, {"Kernel data", kernelRWDataK}, {"Kernel bss", kernelBSSK}}
	p := start * PageSize
	parent := k.iomem.find(p)
	for _, s := range sec {
		if parent != nil {
			parent.request(p, p+s.kib*1024-1, s.name, resBusy)
		}
		p += s.kib * 1024
	}
	return nil
}

// reserveTop reserves n pages top-down (memblock_alloc_try_nid): from the
// node's kernel zones, else from other nodes' (with movable_node a node can
// be all ZONE_MOVABLE), returning the lowest reserved PFN.
func (k *Kernel) reserveTop(pg *pglistData, n uint64) (uint64, bool) {
	order := []*pglistData{pg}
	for _, nid := range k.nodeIDs() {
		if nid != pg.id {
			order = append(order, k.nodes[nid])
		}
	}
	var avail uint64
	for _, p := range order {
		for zi := ZoneNormal; zi >= ZoneDMA; zi-- {
			avail += p.zones[zi].free.pages
		}
	}
	if avail < n {
		return 0, false
	}
	low := uint64(0)
	for _, p := range order {
		for zi := ZoneNormal; zi >= ZoneDMA && n > 0; zi-- {
			z := &p.zones[zi]
			for n > 0 && len(z.free.ext) > 0 {
				x := z.free.ext[len(z.free.ext)-1]
				take := min(n, x.pages())
				for _, g := range z.free.take(x.end-take, x.end) {
					k.markReserved(z, g)
				}
				n -= take
				low = x.end - take
			}
		}
	}
	return low, true
}

func (k *Kernel) printZoneRanges(ranges []Range) {
	var minPFN, maxPFN uint64 = ^uint64(0), 0
	for _, r := range ranges {
		minPFN = min(minPFN, r.Start/PageSize)
		maxPFN = max(maxPFN, (r.Start+r.Size)/PageSize)
	}
	k.printk(KernInfo, "Zone ranges:")
	limits := []struct {
		name   string
		lo, hi uint64
	}{{"DMA", 0, maxDMAPFN}, {"DMA32", maxDMAPFN, maxDMA32PFN}, {"Normal", maxDMA32PFN, ^uint64(0)}}
	for _, l := range limits {
		lo, hi := max(l.lo, minPFN), min(l.hi, maxPFN)
		if lo >= hi {
			k.printk(KernInfo, "  %-8s empty", l.name)
			continue
		}
		k.printk(KernInfo, "  %-8s [mem 0x%016x-0x%016x]", l.name, lo*PageSize, hi*PageSize-1)
	}
	k.printk(KernInfo, "  %-8s empty", "Device")
	k.printk(KernInfo, "Movable zone start for each node")
	for _, nid := range k.nodeIDs() {
		if z := &k.nodes[nid].zones[ZoneMovable]; z.presentPages > 0 {
			k.printk(KernInfo, "  Node %d: 0x%016x", nid, z.present[0].start*PageSize)
		}
	}
	k.printk(KernInfo, "Early memory node ranges")
	for _, r := range ranges {
		k.printk(KernInfo, "  node %3d: [mem 0x%016x-0x%016x]", r.Node, r.Start, r.Start+r.Size-1)
	}
	for _, nid := range k.nodeIDs() {
		var lo, hi uint64 = ^uint64(0), 0
		for _, r := range ranges {
			if r.Node == nid {
				lo, hi = min(lo, r.Start), max(hi, r.Start+r.Size)
			}
		}
		k.printk(KernInfo, "Initmem setup node %d [mem 0x%016x-0x%016x]", nid, lo, hi-1)
	}
}

// presentSections counts the memory sections node nid's boot ranges touch
// (the memmap is allocated per present section).
func presentSections(ranges []Range, nid int) uint64 {
	var n uint64
	last := ^uint64(0)
	for _, r := range ranges {
		if r.Node != nid {
			continue
		}
		first := r.Start / SectionSize
		end := (r.Start + r.Size + SectionSize - 1) / SectionSize
		if first == last {
			first++
		}
		if end > first {
			n += end - first
		}
		last = end - 1
	}
	return n
}
