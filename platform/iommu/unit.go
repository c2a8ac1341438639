package iommu

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Logger receives kernel log lines (the kernel's ring buffer in bmcemu).
type Logger interface {
	Printk(level kernel.Level, format string, args ...any)
}

// Config is the kernel command line and boot layout the unit follows.
type Config struct {
	// Strict is iommu.strict=1: every device's unmaps invalidate the IOTLB
	// at once; by default trusted devices get lazy invalidation through the
	// flush queue.
	Strict bool `json:"strict"`
	// SwiotlbBytes is the bounce pool size (default 64 MiB, swiotlb's
	// default); a multiple of 4 KiB. Slots are IO_TLB_SIZE 2 KiB segments.
	SwiotlbBytes uint64 `json:"swiotlb_bytes"`
	// SwiotlbBase is the page-aligned physical base of the bounce pool.
	SwiotlbBase uint64 `json:"swiotlb_base"`
	// IOVABits bounds the IOVA space handed out (the device's DMA mask
	// clipped to the domain aperture); default 48, the 4-level AGAW.
	// Smaller values make exhaustion reachable in tests.
	IOVABits uint `json:"iova_bits,omitempty"`
}

// Limits of the model.
const (
	// mgawBits is the guest address width of a 4-level VT-d table; accesses
	// above it fault with reason 0x04.
	mgawBits = 48
	// IOVAFQSize is IOVA_FQ_SIZE in drivers/iommu/dma-iommu.c.
	IOVAFQSize = 256
	// MaxMapBytes bounds one MapSingle so the page table stays page-sized
	// state rather than growing with a caller's arbitrary length.
	MaxMapBytes = 1 << 30
	// faultLogLen is how many faults Faults() keeps.
	faultLogLen = 64
)

// Dir is enum dma_data_direction.
type Dir int

// DMA directions.
const (
	ToDevice      Dir = iota + 1 // DMA_TO_DEVICE
	FromDevice                   // DMA_FROM_DEVICE
	Bidirectional                // DMA_BIDIRECTIONAL
)

var dirNames = map[Dir]string{ToDevice: "DMA_TO_DEVICE", FromDevice: "DMA_FROM_DEVICE", Bidirectional: "DMA_BIDIRECTIONAL"}

func (d Dir) String() string {
	if n, ok := dirNames[d]; ok {
		return n
	}
	return fmt.Sprintf("Dir(%d)", int(d))
}

// MarshalText names the direction as dma-debug does.
func (d Dir) MarshalText() ([]byte, error) {
	if _, ok := dirNames[d]; !ok {
		return nil, fmt.Errorf("iommu: invalid DMA direction %d", int(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText parses a DMA_* name.
func (d *Dir) UnmarshalText(b []byte) error {
	for k, n := range dirNames {
		if n == string(b) {
			*d = k
			return nil
		}
	}
	return fmt.Errorf("iommu: unknown DMA direction %q", b)
}

// Mapping is one live streaming DMA mapping.
type Mapping struct {
	IOVA    uint64 `json:"iova"` // the dma_addr_t the driver hands the device
	Size    uint64 `json:"size"`
	Phys    uint64 `json:"phys"` // the driver's buffer
	Dir     Dir    `json:"dir"`
	Bounced bool   `json:"bounced"`
	Slot    uint64 `json:"slot,omitempty"` // physical address of the swiotlb bounce slot when Bounced
}

// Device is an attached device as /sys/kernel/iommu_groups shows it.
type Device struct {
	BDF       string    `json:"bdf"`
	Group     int       `json:"group"`
	Untrusted bool      `json:"untrusted"`
	Domain    string    `json:"domain"` // "DMA" (strict) or "DMA-FQ" (lazy)
	Mappings  []Mapping `json:"mappings"`
}

// Counters are cumulative event counts plus the swiotlb occupancy.
type Counters struct {
	Maps               uint64 `json:"maps"`
	Unmaps             uint64 `json:"unmaps"`
	Bounced            uint64 `json:"bounced"`
	BouncedBytes       uint64 `json:"bounced_bytes"`
	SwiotlbSlotsUsed   uint64 `json:"swiotlb_slots_used"`
	SwiotlbSlotsTotal  uint64 `json:"swiotlb_slots_total"`
	IOTLBInvalidations uint64 `json:"iotlb_invalidations"` // page-selective (strict) invalidations
	FlushQueued        uint64 `json:"flush_queued"`
	FlushQueueFlushes  uint64 `json:"flush_queue_flushes"`
	IOTLBHits          uint64 `json:"iotlb_hits"`
	IOTLBMisses        uint64 `json:"iotlb_misses"`
	Faults             uint64 `json:"faults"`
	StaleTranslations  uint64 `json:"stale_translations"` // accesses that went through a stale IOTLB entry after unmap (lazy mode)
}

// pte is a second-level leaf entry: the page frame and its R/W bits
// (VT-d spec 9.8, DMA_PTE_READ/DMA_PTE_WRITE).
type pte struct {
	pfn  uint64
	r, w bool
}

type iotlbKey struct {
	did uint16
	pfn uint64
}

// fqEntry is one deferred IOVA free in a flush queue (struct iova_fq_entry).
type fqEntry struct{ pfn uint64 }

// mapping is a Mapping with the bookkeeping to undo it.
type mapping struct {
	Mapping
	iovaPFN uint64 // first allocated IOVA frame
	npages  uint64 // frames mapped in the page table
	slotIdx int
	nslots  int
}

// domain is a DMA-API default domain: its VT-d domain id, its page table
// (flattened to leaf entries by IOVA frame) and its IOVA cookie.
type domain struct {
	did    uint16
	strict bool
	pt     map[uint64]pte
	iovad  iovaDomain
	maps   map[uint64]*mapping // by dma address
	fq     []fqEntry
}

type device struct {
	id        bdf
	group     int
	untrusted bool
	dom       *domain
}

// Unit is one DMA remapping hardware unit (DRHD) with every device under
// it, plus the kernel's DMA-API state for those devices. Safe for concurrent
// use; it starts no goroutines and no timers.
type Unit struct {
	mu      sync.Mutex
	cfg     Config
	mem     Memory
	log     Logger
	pool    swiotlbPool
	devices map[bdf]*device
	groups  map[int]bool
	nextDID uint16
	iotlb   map[iotlbKey]pte
	faults  []Fault
	c       Counters
}

type discardLogger struct{}

func (discardLogger) Printk(kernel.Level, string, ...any) {}

// New builds a unit over mem, logging the lines iommu_subsys_init() and
// swiotlb_print_info() print at boot.
func New(cfg Config, mem Memory, log Logger) (*Unit, error) {
	if mem == nil {
		return nil, errors.New("iommu: nil Memory")
	}
	if log == nil {
		log = discardLogger{}
	}
	if cfg.SwiotlbBytes == 0 {
		cfg.SwiotlbBytes = DefaultSwiotlbBytes
	}
	if cfg.SwiotlbBytes%PageSize != 0 {
		return nil, fmt.Errorf("iommu: swiotlb size %d is not a multiple of %d", cfg.SwiotlbBytes, PageSize)
	}
	if cfg.SwiotlbBase%PageSize != 0 {
		return nil, fmt.Errorf("iommu: swiotlb base %#x is not page aligned", cfg.SwiotlbBase)
	}
	if cfg.SwiotlbBase+cfg.SwiotlbBytes < cfg.SwiotlbBase {
		return nil, fmt.Errorf("iommu: swiotlb [%#x +%#x] wraps the address space", cfg.SwiotlbBase, cfg.SwiotlbBytes)
	}
	if cfg.IOVABits == 0 {
		cfg.IOVABits = mgawBits
	}
	if cfg.IOVABits < pageShift+1 || cfg.IOVABits > mgawBits {
		return nil, fmt.Errorf("iommu: IOVA width %d bits outside %d..%d", cfg.IOVABits, pageShift+1, mgawBits)
	}
	u := &Unit{
		cfg:     cfg,
		mem:     mem,
		log:     log,
		pool:    newSwiotlbPool(cfg.SwiotlbBase, cfg.SwiotlbBytes),
		devices: make(map[bdf]*device),
		groups:  make(map[int]bool),
		nextDID: 1, // FLPT_DEFAULT_DID: did 0 is reserved on caching-mode hardware
		iotlb:   make(map[iotlbKey]pte),
	}
	log.Printk(kernel.KernInfo, "software IO TLB: mapped [mem 0x%016x-0x%016x] (%dMB)",
		cfg.SwiotlbBase, cfg.SwiotlbBase+cfg.SwiotlbBytes, cfg.SwiotlbBytes>>20)
	log.Printk(kernel.KernInfo, "iommu: Default domain type: Translated")
	if cfg.Strict {
		log.Printk(kernel.KernInfo, "iommu: DMA domain TLB invalidation policy: strict mode (set via kernel command line)")
	} else {
		log.Printk(kernel.KernInfo, "iommu: DMA domain TLB invalidation policy: lazy mode")
	}
	return u, nil
}

func (u *Unit) lookup(s string) (*device, bdf, error) {
	id, err := parseBDF(s)
	if err != nil {
		return nil, bdf{}, err
	}
	d := u.devices[id]
	if d == nil {
		return nil, id, fmt.Errorf("iommu: device %s is not attached", id)
	}
	return d, id, nil
}

// AttachDevice is iommu_probe_device() with its default domain: a new IOMMU
// group (no ACS aliasing is modelled, so one device per group) and a DMA
// domain, strict ("DMA") when iommu.strict=1 or the device is untrusted,
// else lazy ("DMA-FQ"). untrusted is pci_dev->untrusted, which
// set_pcie_untrusted() sets for devices behind an external-facing port;
// such devices also bounce sub-page buffers through swiotlb
// (dev_use_swiotlb()).
func (u *Unit) AttachDevice(bdfStr string, untrusted bool) error {
	id, err := parseBDF(bdfStr)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.devices[id] != nil {
		return fmt.Errorf("iommu: device %s is already attached", id)
	}
	group := 0
	for u.groups[group] {
		group++
	}
	did, err := u.allocDID()
	if err != nil {
		return fmt.Errorf("iommu: attach %s: %w", id, err)
	}
	u.groups[group] = true
	d := &device{id: id, group: group, untrusted: untrusted, dom: &domain{
		did:    did,
		strict: u.cfg.Strict || untrusted,
		pt:     make(map[uint64]pte),
		maps:   make(map[uint64]*mapping),
	}}
	u.devices[id] = d
	u.log.Printk(kernel.KernInfo, "iommu: Adding device %s to group %d", id, group)
	if untrusted {
		// Linux 5.3-5.9 intel_iommu_add_device() logged "Use Intel IOMMU
		// bounce page dma_ops" for such devices; this says why.
		u.log.Printk(kernel.KernInfo, "pci %s: DMAR: untrusted device: Use Intel IOMMU bounce page dma_ops, strict IOTLB invalidation", id)
	}
	return nil
}

// allocDID hands out the lowest free 16-bit domain id (cap.ND allows 64K on
// current hardware).
func (u *Unit) allocDID() (uint16, error) {
	used := make(map[uint16]bool, len(u.devices))
	for _, d := range u.devices {
		used[d.dom.did] = true
	}
	for did := uint16(1); did != 0; did++ {
		if !used[did] {
			return did, nil
		}
	}
	return 0, errors.New("no free VT-d domain id")
}

// DetachDevice is iommu_release_device(): live mappings (a driver leak, as
// dma-debug reports on unbind) are unmapped with a warning, the domain's
// IOTLB entries are flushed, queued IOVAs freed and the group released.
func (u *Unit) DetachDevice(bdfStr string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, id, err := u.lookup(bdfStr)
	if err != nil {
		return err
	}
	dom := d.dom
	if n := len(dom.maps); n > 0 {
		leaked := sortedMappings(dom)
		first := leaked[0]
		// kernel/dma/debug.c dma_debug_device_change() on BUS_NOTIFY_UNBOUND_DRIVER.
		u.log.Printk(kernel.KernWarning, "DMA-API: pci %s: device driver has pending DMA allocations while released from device [count=%d]", id, n)
		u.log.Printk(kernel.KernWarning, "One of leaked entries details: [device address=0x%016x] [size=%d bytes] [mapped with %s] [mapped as single]", first.IOVA, first.Size, first.Dir)
		for _, m := range leaked {
			u.unmapLocked(dom, m, false)
		}
	}
	u.flushDomainLocked(dom)
	delete(u.devices, id)
	delete(u.groups, d.group)
	u.log.Printk(kernel.KernInfo, "iommu: Removing device %s from group %d", id, d.group)
	return nil
}

// MapSingle is dma_map_single() through iommu_dma_map_page(). For an
// untrusted device whose buffer does not fill whole IOVA granules
// (iova_offset(phys|size) != 0) the data is bounced: copied into page-aligned
// swiotlb slots whose padding up to the granule is zeroed, the copy verified
// against the original (the seed's "verify" step, not in Linux), and only
// then the slots are mapped. Otherwise the buffer's own pages are mapped, so
// the device reaches the rest of those pages too. Permissions follow dir as
// dma_info_to_prot() sets them.
func (u *Unit) MapSingle(bdfStr string, phys, size uint64, dir Dir) (Mapping, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, id, err := u.lookup(bdfStr)
	if err != nil {
		return Mapping{}, err
	}
	if _, ok := dirNames[dir]; !ok {
		return Mapping{}, fmt.Errorf("iommu: map for %s: invalid DMA direction %d", id, int(dir))
	}
	if size == 0 {
		return Mapping{}, fmt.Errorf("iommu: map for %s: size 0", id)
	}
	if size > MaxMapBytes {
		return Mapping{}, fmt.Errorf("iommu: map for %s: size %d exceeds %d", id, size, MaxMapBytes)
	}
	if phys+size-1 < phys {
		return Mapping{}, fmt.Errorf("iommu: map for %s: buffer %#x+%#x wraps the address space", id, phys, size)
	}
	m := &mapping{Mapping: Mapping{Size: size, Phys: phys, Dir: dir}, slotIdx: -1}
	target := phys
	if d.untrusted && (phys|size)&(PageSize-1) != 0 {
		slot, err := u.bounceLocked(d, m)
		if err != nil {
			return Mapping{}, err
		}
		target = slot
	}
	off := target & (PageSize - 1)
	npages := (off + size + PageSize - 1) >> pageShift
	pfn, ok := u.allocIOVALocked(d.dom, npages)
	if !ok {
		if m.Bounced {
			u.releaseSlotLocked(m)
		}
		return Mapping{}, fmt.Errorf("iommu: map for %s: IOVA space exhausted (%d pages below 2^%d)", id, npages, u.cfg.IOVABits)
	}
	m.iovaPFN, m.npages = pfn, npages
	m.IOVA = pfn<<pageShift | off
	p := pte{r: dir == ToDevice || dir == Bidirectional, w: dir == FromDevice || dir == Bidirectional}
	for i := range npages {
		p.pfn = target>>pageShift + i
		d.dom.pt[pfn+i] = p
	}
	d.dom.maps[m.IOVA] = m
	u.c.Maps++
	if m.Bounced {
		u.c.Bounced++
		u.c.BouncedBytes += size
	}
	return m.Mapping, nil
}

// allocIOVALocked is iommu_dma_alloc_iova(): a PCI device is first given an
// address below 4 GiB (no iommu.forcedac), then anywhere under its limit.
func (u *Unit) allocIOVALocked(dom *domain, npages uint64) (uint64, bool) {
	limit := uint64(1)<<(u.cfg.IOVABits-pageShift) - 1
	if u.cfg.IOVABits > 32 {
		if pfn, ok := dom.iovad.alloc(npages, 1<<(32-pageShift)-1); ok {
			return pfn, true
		}
	}
	return dom.iovad.alloc(npages, limit)
}

// bounceLocked is swiotlb_tbl_map_single() plus the padding clean-up of
// iommu_dma_map_page(): it fills m's slot fields and returns the slot address.
func (u *Unit) bounceLocked(d *device, m *mapping) (uint64, error) {
	aligned := (m.Size + PageSize - 1) &^ (PageSize - 1)
	nslots := int(aligned / IOTLBSize)
	idx, ok := u.pool.alloc(nslots)
	if !ok {
		u.log.Printk(kernel.KernWarning, "pci %s: swiotlb buffer is full (sz: %d bytes), total %d (slots), used %d (slots)",
			d.id, m.Size, u.pool.total(), u.pool.nused)
		return 0, fmt.Errorf("iommu: map for %s: swiotlb buffer is full (sz: %d bytes), total %d (slots), used %d (slots)",
			d.id, m.Size, u.pool.total(), u.pool.nused)
	}
	slot := u.pool.addr(idx)
	m.Bounced, m.Slot, m.slotIdx, m.nslots = true, slot, idx, nslots
	want := make([]byte, aligned)
	if m.Dir == ToDevice || m.Dir == Bidirectional {
		u.mem.ReadPhys(m.Phys, want[:m.Size])
	}
	// DMA_FROM_DEVICE slots are zeroed whole: the device must not find
	// stale bounce data there, and the driver's buffer is not the device's
	// business before it writes.
	u.mem.WritePhys(slot, want)
	got := make([]byte, aligned)
	u.mem.ReadPhys(slot, got)
	if !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
		u.releaseSlotLocked(m)
		u.log.Printk(kernel.KernErr, "pci %s: swiotlb: bounce copy of 0x%x (%d bytes) differs at offset %d; mapping refused", d.id, m.Phys, m.Size, i)
		return 0, fmt.Errorf("iommu: map for %s: bounce copy verification failed at offset %d", d.id, i)
	}
	return slot, nil
}

// releaseSlotLocked zeroes a bounce slot and returns it to the pool, so the
// next user of the slot cannot read this mapping's data.
func (u *Unit) releaseSlotLocked(m *mapping) {
	u.mem.WritePhys(m.Slot, make([]byte, uint64(m.nslots)*IOTLBSize))
	u.pool.release(m.slotIdx, m.nslots)
}

// UnmapSingle is dma_unmap_single() through iommu_dma_unmap_page(): the
// IOVA's PTEs are cleared and the IOTLB invalidated (strict: one
// page-selective invalidation now; lazy: the IOVA is queued and the IOTLB
// keeps translating it until the queue is flushed), and only after that is a
// bounced FromDevice/Bidirectional buffer copied back (Size bytes) and its
// slot zeroed and freed.
func (u *Unit) UnmapSingle(bdfStr string, iova uint64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, id, err := u.lookup(bdfStr)
	if err != nil {
		return err
	}
	m := d.dom.maps[iova]
	if m == nil {
		return fmt.Errorf("iommu: unmap for %s: no mapping at dma address 0x%x", id, iova)
	}
	u.unmapLocked(d.dom, m, true)
	return nil
}

// unmapLocked undoes m. invalidate is false when the caller flushes the whole
// domain itself (detach).
func (u *Unit) unmapLocked(dom *domain, m *mapping, invalidate bool) {
	for i := range m.npages {
		delete(dom.pt, m.iovaPFN+i)
	}
	delete(dom.maps, m.IOVA)
	switch {
	case !invalidate:
		dom.iovad.free(m.iovaPFN)
	case dom.strict:
		// One PSI covering the range (qi_flush_iotlb with an address mask).
		for i := range m.npages {
			delete(u.iotlb, iotlbKey{dom.did, m.iovaPFN + i})
		}
		u.c.IOTLBInvalidations++
		dom.iovad.free(m.iovaPFN)
	default:
		// queue_iova(): a full ring is flushed before the new entry goes in.
		if len(dom.fq) >= IOVAFQSize {
			u.flushDomainLocked(dom)
		}
		dom.fq = append(dom.fq, fqEntry{pfn: m.iovaPFN})
		u.c.FlushQueued++
	}
	if m.Bounced {
		if m.Dir == FromDevice || m.Dir == Bidirectional {
			buf := make([]byte, m.Size)
			u.mem.ReadPhys(m.Slot, buf)
			u.mem.WritePhys(m.Phys, buf)
		}
		u.releaseSlotLocked(m)
	}
	u.c.Unmaps++
}

// flushDomainLocked is fq_flush_iotlb() + fq_ring_free(): a domain-selective
// IOTLB invalidation, after which the queued IOVAs may be reused. It also
// serves detach, which needs the same invalidation.
func (u *Unit) flushDomainLocked(dom *domain) {
	for k := range u.iotlb {
		if k.did == dom.did {
			delete(u.iotlb, k)
		}
	}
	if len(dom.fq) == 0 {
		return
	}
	for _, e := range dom.fq {
		dom.iovad.free(e.pfn)
	}
	dom.fq = dom.fq[:0]
	u.c.FlushQueueFlushes++
}

// Flush is the flush-queue timer firing (fq_flush_timeout()): every lazy
// domain with queued IOVAs is invalidated and its IOVAs freed.
func (u *Unit) Flush() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, id := range u.sortedIDs() {
		if dom := u.devices[id].dom; len(dom.fq) > 0 {
			u.flushDomainLocked(dom)
		}
	}
}

// Counters returns a snapshot of the counters.
func (u *Unit) Counters() Counters {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.c
	c.SwiotlbSlotsUsed = u.pool.nused
	c.SwiotlbSlotsTotal = u.pool.total()
	return c
}

// Faults returns the last 64 recorded faults, oldest first.
func (u *Unit) Faults() []Fault {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Fault(nil), u.faults...)
}

// Devices lists attached devices by PCI address with their mappings by IOVA.
func (u *Unit) Devices() []Device {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Device, 0, len(u.devices))
	for _, id := range u.sortedIDs() {
		d := u.devices[id]
		dv := Device{BDF: id.String(), Group: d.group, Untrusted: d.untrusted, Domain: "DMA-FQ", Mappings: []Mapping{}}
		if d.dom.strict {
			dv.Domain = "DMA"
		}
		for _, m := range sortedMappings(d.dom) {
			dv.Mappings = append(dv.Mappings, m.Mapping)
		}
		out = append(out, dv)
	}
	return out
}

func (u *Unit) sortedIDs() []bdf {
	ids := make([]bdf, 0, len(u.devices))
	for id := range u.devices {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	return ids
}

func sortedMappings(dom *domain) []*mapping {
	ms := make([]*mapping, 0, len(dom.maps))
	for _, m := range dom.maps {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].IOVA < ms[j].IOVA })
	return ms
}
