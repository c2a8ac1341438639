package cxl

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// region is a CXL region mapped into a window, its dax device, and the
// kmem memory added from it.
type region struct {
	name   string
	dax    string
	window *window
	base   uint64
	size   uint64
	// kmem is the part of the region added as System RAM (kmem): the
	// region trimmed to memory block boundaries, as dev_dax_kmem_probe
	// aligns it.
	kmemStart, kmemSize uint64
	node                int
	hbDecoder           int
	perf                kernel.AccessCoordinate
}

// kmemResource is the name dax/kmem gives the memory it adds.
const kmemResource = "System RAM (kmem)"

// enable powers the card's link up and runs enumeration and the drivers:
// PCI (BAR assignment), the IOMMU's probe, cxl_pci (mailbox, CDAT over
// DOE), cxl_mem (the endpoint), then the region, dax and kmem.
func (b *Bus) enable(p *port) (Result, error) {
	d := p.dev
	res := Result{Slot: p.cfg.Slot, Node: -1}
	p.power = true
	b.pciehp(p, "Link Up")
	bdf := p.devBDF()
	b.k.Printk(kernel.KernInfo, "pci %s: [%04x:%04x] type 00 class 0x%06x PCIe Endpoint", bdf, vendorID, deviceID, classCode)
	// pci_assign_unassigned_bridge_resources(): the card's BAR must fit
	// the root port's bridge window, which only firmware (or
	// pci=hpmmiosize) sized before the card existed.
	if p.cfg.MMIO < barSize {
		b.k.Printk(kernel.KernInfo, "pci %s: BAR 0 [mem size 0x%08x 64bit]: can't assign; no space", bdf, barSize)
		b.k.Printk(kernel.KernInfo, "pci %s: BAR 0 [mem size 0x%08x 64bit]: failed to assign", bdf, barSize)
		b.k.Printk(kernel.KernWarning, "cxl_pci %s: probe with driver cxl_pci failed with error -6", bdf)
		p.state = StateFailed
		p.reason = fmt.Sprintf("root port %s has %d KiB of memory window for hot-plugged devices and BAR 0 needs %d KiB: "+
			"the device enumerates but no driver binds (firmware must pre-allocate the window, or boot with pci=hpmmiosize)",
			p.rootBDF(), p.cfg.MMIO>>10, barSize>>10)
		res.Reason = p.reason
		return res, fmt.Errorf("cxl: slot %s: %w: %s", p.cfg.Slot, ErrNotRecognized, p.reason)
	}
	b.k.Printk(kernel.KernInfo, "pci %s: BAR 0 [mem size 0x%08x 64bit]: assigned", bdf, barSize)
	d.untrusted = !d.Spec.Trusted
	if err := b.mmu.AttachDevice(bdf, d.untrusted); err != nil {
		p.state, p.reason = StateFailed, err.Error()
		return res, fmt.Errorf("cxl: slot %s: %w", p.cfg.Slot, err)
	}
	d.memdev = fmt.Sprintf("mem%d", b.nextMem)
	b.nextMem++
	b.nextEP++
	d.endpoint = fmt.Sprintf("endpoint%d", b.nextEP+len(b.bridges))
	res.Memdev = d.memdev
	// read_cdat_data(): the table comes over the DOE mailbox one entry
	// per exchange; a bad checksum leaves the driver without it.
	cd, _, n, err := ReadCDAT(d.doe)
	d.exchanges = n
	if err != nil {
		d.cdatErr = err.Error()
		b.k.Printk(kernel.KernWarning, "cxl_port %s: CDAT: %v: using default performance data", d.endpoint, err)
	} else {
		d.readCDAT = cd
		b.k.Printk(kernel.KernInfo, "cxl_port %s: CDAT: %d DSMAS, %d DSLBIS read in %d DOE exchanges", d.endpoint, len(cd.DSMAS), len(cd.DSLBIS), n)
	}
	for i := range d.hdm {
		d.hdm[i] = Decoder{Name: fmt.Sprintf("decoder%d.%d", b.nextEP+len(b.bridges), i)}
	}
	b.k.Printk(kernel.KernInfo, "cxl_mem %s: %s: %d MiB volatile capacity, serial %#x", d.memdev, d.endpoint, d.Spec.Capacity>>20, d.Spec.Serial)
	p.state, p.reason = StateEnabled, ""
	return b.createRegion(p, res)
}

// createRegion maps the device into its host bridge's window and onlines
// the memory (cxl_region_attach, cxl_region_decode_commit, dax_kmem).
func (b *Bus) createRegion(p *port, res Result) (Result, error) {
	d := p.dev
	var w *window
	for _, c := range b.windows {
		if c.HostBridge == p.cfg.HostBridge {
			w = c
			break
		}
	}
	if w == nil {
		p.reason = fmt.Sprintf("no CXL Fixed Memory Window (CEDT CFMWS) targets host bridge ACPI0016:%02x: "+
			"firmware pre-allocated no host physical address space for it, so %s enumerates but its %d GiB cannot be mapped",
			p.cfg.HostBridge, d.memdev, d.Spec.Capacity>>30)
		b.k.Printk(kernel.KernWarning, "cxl_mem %s: %s: no CXL window targets host bridge ACPI0016:%02x, memory not mapped", d.memdev, d.endpoint, p.cfg.HostBridge)
		res.Reason = p.reason
		return res, fmt.Errorf("cxl: slot %s: %w: %s", p.cfg.Slot, ErrNoWindow, p.reason)
	}
	align := max(uint64(hdmGranule), b.k.BlockSizeBytes())
	name := fmt.Sprintf("region%d", b.nextReg)
	base, ok := w.alloc(d.Spec.Capacity, align, name)
	if !ok {
		p.reason = fmt.Sprintf("CXL Window %d [mem %#x-%#x] has no free %d GiB range left (%d GiB in use): "+
			"firmware sized the window too small for this device", w.Index, w.Base, w.Base+w.Size-1, d.Spec.Capacity>>30, w.usedBytes()>>30)
		b.k.Printk(kernel.KernErr, "cxl region%d: HPA allocation error (-28) for size:%#x in CXL Window %d [mem %#x-%#x]",
			b.nextReg, d.Spec.Capacity, w.Index, w.Base, w.Base+w.Size-1)
		res.Reason = p.reason
		return res, fmt.Errorf("cxl: slot %s: %w: %s", p.cfg.Slot, ErrNoWindow, p.reason)
	}
	b.nextReg++
	r := &region{name: name, window: w, base: base, size: d.Spec.Capacity, node: w.Node, hbDecoder: -1}
	r.dax = "dax" + name[len("region"):] + ".0"
	fail := func(err error) (Result, error) {
		b.teardown(d, r)
		p.reason = err.Error()
		res.Reason = p.reason
		return res, fmt.Errorf("cxl: slot %s: %w", p.cfg.Slot, err)
	}
	// Decoders commit from the endpoint up (cxl_region_decode_commit).
	if err := commitDecoder(d.hdm[:], 0, base, r.size, 1, 256); err != nil {
		return fail(err)
	}
	hb := b.hb[p.cfg.HostBridge]
	r.hbDecoder = slices.IndexFunc(hb, func(x Decoder) bool { return !x.Committed })
	if r.hbDecoder < 0 {
		return fail(fmt.Errorf("host bridge ACPI0016:%02x has no free HDM decoder", p.cfg.HostBridge))
	}
	if err := commitDecoder(hb, r.hbDecoder, base, r.size, 1, 256); err != nil {
		r.hbDecoder = -1
		return fail(err)
	}
	b.k.Printk(kernel.KernInfo, "cxl region%s: %s: [mem %#x-%#x] committed: %s (endpoint), %s (host bridge), %s (root)",
		name[len("region"):], d.memdev, base, base+r.size-1, d.hdm[0].Name, hb[r.hbDecoder].Name, fmt.Sprintf("decoder0.%d", w.Index))
	if err := b.k.RequestRegion(base, base+r.size-1, r.name); err != nil {
		return fail(err)
	}
	if err := b.k.RequestRegion(base, base+r.size-1, r.dax); err != nil {
		return fail(err)
	}
	bs := b.k.BlockSizeBytes()
	r.kmemStart = (base + bs - 1) / bs * bs
	end := (base + r.size) / bs * bs
	if end <= r.kmemStart {
		return fail(fmt.Errorf("kmem %s: rejecting DAX region [mem %#x-%#x] without any memory after alignment to %d MiB blocks",
			r.dax, base, base+r.size-1, bs>>20))
	}
	r.kmemSize = end - r.kmemStart
	b.k.Printk(kernel.KernInfo, "kmem %s: mapping0: %#x-%#x could be onlined as %s on node %d", r.dax, r.kmemStart, end-1, d.Spec.Online, r.node)
	if err := b.k.AddMemoryDriverManagedAs(r.node, r.kmemStart, r.kmemSize, kmemResource, kernel.OnlineType(d.Spec.Online)); err != nil {
		r.kmemSize = 0
		return fail(err)
	}
	d.region = r
	r.perf = b.perf(p, d)
	// cxl_region_perf_attrs_callback() on MEM_ONLINE: the node's
	// access classes (both: the host bridge is reached from a CPU).
	for _, class := range []int{kernel.Access0, kernel.Access1} {
		if err := b.k.SetNodeAccess(r.node, class, r.perf); err != nil {
			b.k.Printk(kernel.KernWarning, "cxl region%s: node %d: %v", name[len("region"):], r.node, err)
		}
	}
	res.Region, res.Node, res.Base, res.Size = r.name, r.node, base, r.size
	res.Online = b.onlineBytes(r)
	return res, nil
}

// perf is cxl_endpoint_get_perf_coordinates(): the host bridge's generic
// port figures from HMAT, plus the link's latency, plus the device's CDAT
// figures; bandwidth is the narrowest of the three. Without a CDAT the
// driver has no device figures and the path's stand.
func (b *Bus) perf(p *port, d *Device) kernel.AccessCoordinate {
	hb := b.bridges[p.cfg.HostBridge]
	// A 68-byte flit at 32 GT/s over Lanes lanes; bandwidth after
	// 128b/130b encoding.
	linkNs := uint64(68*8) / uint64(32*p.cfg.Lanes)
	linkMBs := uint64(p.cfg.Lanes) * 32_000 * 128 / 130 / 8
	c := kernel.AccessCoordinate{
		ReadLatency: uint64(hb.Latency/time.Nanosecond) + linkNs, WriteLatency: uint64(hb.Latency/time.Nanosecond) + linkNs,
		ReadBandwidth: min(hb.MBs, linkMBs), WriteBandwidth: min(hb.MBs, linkMBs),
	}
	if cd := d.readCDAT; cd != nil {
		if ps, ok := cd.Latency(dsmasHandle, 1); ok {
			c.ReadLatency += ps / 1000
		}
		if ps, ok := cd.Latency(dsmasHandle, 2); ok {
			c.WriteLatency += ps / 1000
		}
		if mbs, ok := cd.Bandwidth(dsmasHandle, 4); ok {
			c.ReadBandwidth = min(c.ReadBandwidth, mbs)
		}
		if mbs, ok := cd.Bandwidth(dsmasHandle, 5); ok {
			c.WriteBandwidth = min(c.WriteBandwidth, mbs)
		}
	}
	return c
}

func (b *Bus) onlineBytes(r *region) uint64 {
	var n uint64
	bs := b.k.BlockSizeBytes()
	for a := r.kmemStart; a < r.kmemStart+r.kmemSize; a += bs {
		if blk, ok := b.k.Block(b.k.BlockForAddr(a)); ok && blk.State == "online" {
			n += bs
		}
	}
	return n
}

// offline takes the region's memory offline block by block, as `daxctl
// offline-memory` does; on the first failure it onlines again what it had
// offlined, so a refused removal changes nothing.
func (b *Bus) offline(r *region) error {
	bs := b.k.BlockSizeBytes()
	type done struct {
		id int
		as kernel.OnlineType
	}
	var undo []done
	for a := r.kmemStart; a < r.kmemStart+r.kmemSize; a += bs {
		id := b.k.BlockForAddr(a)
		blk, ok := b.k.Block(id)
		if !ok || blk.State != "online" {
			continue
		}
		if err := b.k.OfflineBlock(id); err != nil {
			for _, u := range slices.Backward(undo) {
				if e := b.k.OnlineBlock(u.id, u.as); e != nil {
					b.k.Printk(kernel.KernErr, "kmem %s: memory%d: online again after a failed removal: %v", r.dax, u.id, e)
				}
			}
			return fmt.Errorf("%w: memory%d of %s [mem %#x-%#x]: %w", ErrBusy, id, r.dax, a, a+bs-1, err)
		}
		undo = append(undo, done{id, blk.OnlineType})
	}
	return nil
}

// teardown undoes whatever createRegion got to: memory, resources,
// decoders (host bridge first, then the endpoint), and the HPA.
func (b *Bus) teardown(d *Device, r *region) {
	if r.kmemSize > 0 {
		if err := b.k.RemoveMemory(r.kmemStart, r.kmemSize); err != nil {
			b.k.Printk(kernel.KernErr, "kmem %s: remove_memory: %v", r.dax, err)
		}
	}
	for _, name := range []string{r.dax, r.name} {
		if err := b.k.ReleaseRegion(r.base, r.base+r.size-1, name); err != nil && !errors.Is(err, kernel.ErrNotFound) {
			b.k.Printk(kernel.KernErr, "cxl %s: %v", name, err)
		}
	}
	if r.hbDecoder >= 0 {
		hb := b.hb[r.window.HostBridge]
		if err := resetDecoder(hb, r.hbDecoder); err != nil {
			b.k.Printk(kernel.KernErr, "cxl %s: %v", r.name, err)
		}
	}
	if d != nil && d.hdm[0].Committed {
		if err := resetDecoder(d.hdm[:], 0); err != nil {
			b.k.Printk(kernel.KernErr, "cxl %s: %v", r.name, err)
		}
	}
	r.window.free(r.base)
	if d != nil {
		d.region = nil
	}
}

// disable is the orderly removal behind a button press on a powered slot:
// the memory goes offline first (refused, with nothing changed, when it
// cannot), then the region, the driver and the IOMMU domain, then power.
// Linux would press on and leak the memory ("cannot be hotremoved until
// the next reboot"); the model refuses instead, as `cxl disable-region`
// does when daxctl cannot offline the memory, so the operator learns why
// before the card loses power.
func (b *Bus) disable(p *port) (Result, error) {
	d := p.dev
	res := Result{Slot: p.cfg.Slot, Memdev: d.memdev, Node: -1}
	if r := d.region; r != nil {
		res.Region, res.Node, res.Base, res.Size = r.name, r.node, r.base, r.size
		if err := b.offline(r); err != nil {
			p.reason = err.Error()
			res.Reason = p.reason
			b.pciehp(p, "Button press cancelled: %s could not be offlined; the slot stays powered", r.dax)
			return res, fmt.Errorf("cxl: slot %s: %w", p.cfg.Slot, err)
		}
		b.teardown(d, r)
		b.k.Printk(kernel.KernInfo, "cxl region%s: %s: [mem %#x-%#x] torn down, decoders reset", r.name[len("region"):], d.memdev, r.base, r.base+r.size-1)
		res.Removed = true
	}
	b.unbind(p)
	b.pciehp(p, "Link Down")
	p.state, p.power, p.reason = StatePresent, false, ""
	return res, nil
}

// unbind detaches the driver and the IOMMU domain.
func (b *Bus) unbind(p *port) {
	d := p.dev
	if d.memdev != "" {
		b.k.Printk(kernel.KernInfo, "cxl_mem %s: %s removed", d.memdev, d.endpoint)
	}
	if err := b.mmu.DetachDevice(p.devBDF()); err != nil {
		b.k.Printk(kernel.KernWarning, "cxl_pci %s: %v", p.devBDF(), err)
	}
	d.memdev, d.endpoint, d.readCDAT, d.cdatErr, d.exchanges = "", "", nil, "", 0
	for i := range d.hdm {
		d.hdm[i] = Decoder{}
	}
}

// surprise is the card leaving a powered slot. The link drops with the
// memory still online: every page in use there is lost, so each in-use
// allocation takes a machine check and memory_failure() (its owner gets
// SIGBUS), and the memory is then offlined and removed. Memory the kernel
// itself holds cannot be offlined; dax/kmem then leaks it, as
// dev_dax_kmem_remove() does, and its window range stays taken until the
// next boot.
func (b *Bus) surprise(p *port) Result {
	d := p.dev
	res := Result{Slot: p.cfg.Slot, Memdev: d.memdev, Node: -1}
	b.pciehp(p, "Link Down")
	b.pciehp(p, "Card not present")
	if r := d.region; r != nil {
		res.Region, res.Node, res.Base, res.Size = r.name, r.node, r.base, r.size
		inUse := b.k.AllocationsIn(r.kmemStart, r.kmemSize)
		if len(inUse) > 0 {
			b.k.Printk(kernel.KernInfo, "mce: [Hardware Error]: Machine check events logged")
			b.k.Printk(kernel.KernEmerg, "cxl_mem %s: surprise removal with %d allocations online in %s [mem %#x-%#x]: reads return poison",
				d.memdev, len(inUse), r.dax, r.kmemStart, r.kmemStart+r.kmemSize-1)
		}
		for _, a := range inUse {
			if _, err := b.k.MemoryFailure(a.PFN); err == nil {
				res.Poison++
			}
		}
		if err := b.offline(r); err != nil {
			b.k.Printk(kernel.KernWarning, "kmem %s: mapping0: %#x-%#x cannot be hotremoved until the next reboot", r.dax, r.kmemStart, r.kmemStart+r.kmemSize-1)
			p.leaked = append(p.leaked, hpa{start: r.kmemStart, size: r.kmemSize, owner: r.name})
			r.window.rename(r.base, "leaked by "+r.name)
			res.Leaked = r.kmemSize
			d.region = nil
		} else {
			b.teardown(d, r)
			res.Removed = true
		}
	}
	b.unbind(p)
	return res
}

// alloc finds the lowest free, aligned range of size in the window.
func (w *window) alloc(size, align uint64, owner string) (uint64, bool) {
	at := w.Base
	for _, u := range w.used {
		if at+size <= u.start {
			break
		}
		at = max(at, (u.start+u.size+align-1)/align*align)
	}
	if at+size > w.Base+w.Size || at+size < at {
		return 0, false
	}
	i, _ := slices.BinarySearchFunc(w.used, at, func(h hpa, s uint64) int { return cmp.Compare(h.start, s) })
	w.used = slices.Insert(w.used, i, hpa{start: at, size: size, owner: owner})
	return at, true
}

func (w *window) free(start uint64) {
	w.used = slices.DeleteFunc(w.used, func(h hpa) bool { return h.start == start })
}

func (w *window) rename(start uint64, owner string) {
	for i := range w.used {
		if w.used[i].start == start {
			w.used[i].owner = owner
		}
	}
}

func (w *window) usedBytes() uint64 {
	var n uint64
	for _, u := range w.used {
		n += u.size
	}
	return n
}
