package platform

import (
	"errors"
	"fmt"
	"sync"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// acpiMemhotplug is the OS's ACPI memory hot-plug driver
// (drivers/acpi/acpi_memhotplug.c) as the firmware reaches it: the
// firmware's OSPM. It turns ACPI notifications on PNP0C80 devices into
// kernel memory hot-plug and answers with _OST:
//
//	Device Check, device enabled   _OST(0x200, 0x80) -> add_memory(_PXM, _CRS)
//	                               -> _OST(0x200, 0x00), or 0x81 on failure
//	Device Check, device gone      offline + remove_memory what it had added
//	Eject Request                  _OST(0x103, 0x84) -> offline every block
//	                               -> remove_memory -> _EJ0 -> _OST(0x103, 0x00);
//	                               a block that will not offline (EBUSY) ->
//	                               blocks re-onlined, _OST(0x103, 0x81 in use)
//
// A hot-add that broke channel symmetry took its memory controller out of
// the socket's interleave set before the OS saw the device
// (InterleaveChanged, published by the firmware). The driver remembers it
// per controller; when the OS has added a module's range on that
// controller and acknowledged it, the kernel migrates movable pages out of
// the ranges whose decode changed into the new range (Rebalance) and the
// driver reports it (KernelPagesMigrated).
//
// The firmware calls Notify without its locks, on the clock's goroutine or
// inside an operator command; the adapter works synchronously (Linux defers
// to kacpi_hotplug; the model's steps take no simulated time) and never
// holds its own lock while calling the firmware, which may notify again.
type acpiMemhotplug struct {
	p *Platform
	l *layers // the firmware and kernel of the boot it runs in
	// dev is where _OST and _EJ0 go: the board's firmware, or a VM's
	// memory hot-plug controller (platform/vm).
	dev acpiMethods

	mu    sync.Mutex
	added map[int]firmware.Range // by _UID: ranges this driver added
	// mappedOut holds the interleave changes whose pages have not been
	// rebalanced yet, by socket and controller.
	mappedOut map[[2]int]events.InterleaveChanged
}

// acpiMethods are the device methods the driver evaluates.
type acpiMethods interface {
	OST(uid int, source, status uint32) error
	EJ0(uid int) error
}

func newACPIMemhotplug(p *Platform, l *layers, dev acpiMethods) *acpiMemhotplug {
	return &acpiMemhotplug{p: p, l: l, dev: dev, added: map[int]firmware.Range{}, mappedOut: map[[2]int]events.InterleaveChanged{}}
}

// interleaveChanged records a controller leaving its socket's interleave
// set. The rebalance waits for a module on that controller to come up in
// the OS: before that there is nowhere to move the pages to. A hot-add
// that fails after the change leaves it pending for the next module on the
// controller, since the Map Out bits stay set until reboot.
func (a *acpiMemhotplug) interleaveChanged(ev events.InterleaveChanged) {
	if ev.Interleaved {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mappedOut[[2]int{ev.Socket, ev.Controller}] = ev
}

// takeMappedOut returns (and forgets) the pending interleave change of the
// controller slot's module sits on.
func (a *acpiMemhotplug) takeMappedOut(slot string) (events.InterleaveChanged, bool) {
	i, ok := a.p.byName[slot]
	if !ok {
		return events.InterleaveChanged{}, false
	}
	key := [2]int{a.p.slots[i].Socket, a.p.slots[i].Controller}
	a.mu.Lock()
	defer a.mu.Unlock()
	ev, ok := a.mappedOut[key]
	delete(a.mappedOut, key)
	return ev, ok
}

// rebalance migrates pages from the ranges ev remapped into rng, the range
// of dev's module, and reports what moved. It runs after _OST: the device
// is in service and workloads keep running meanwhile.
func (a *acpiMemhotplug) rebalance(dev firmware.Device, rng firmware.Range, ev events.InterleaveChanged) {
	nid := int(dev.PXM)
	from := make([]kernel.PhysRange, 0, len(ev.Migrate))
	for _, r := range ev.Migrate {
		from = append(from, kernel.PhysRange{Start: r.Base, Size: r.Length})
	}
	a.printk(kernel.KernInfo, dev, "socket %d memory controller %d not interleaved (Map Out %#x): migrating pages of node %d into %s",
		ev.Socket, ev.Controller, ev.MapOut, nid, rng)
	res, err := a.l.kern.Rebalance(nid, kernel.PhysRange{Start: rng.Base, Size: rng.Length}, from)
	if err != nil {
		a.printk(kernel.KernWarning, dev, "page migration after the interleave change failed: %v", err)
		return
	}
	reason := fmt.Sprintf("socket %d controller %d left the interleave set (Map Out %#x); %s now holds its share of node %d's movable pages",
		ev.Socket, ev.Controller, ev.MapOut, dev.Slot, nid)
	if res.Short {
		reason = fmt.Sprintf("socket %d controller %d left the interleave set (Map Out %#x); %s ran out of free blocks before its share of node %d's movable pages",
			ev.Socket, ev.Controller, ev.MapOut, dev.Slot, nid)
	}
	a.p.publish(a.p.clock.Now(), events.KernelPagesMigrated{Slot: dev.Slot, Node: nid, Socket: ev.Socket, Controller: ev.Controller,
		Pages: res.Moved, Target: res.Target, Movable: res.Movable, Allocations: res.Allocations,
		Unmovable: res.Unmovable, Reserved: res.Reserved, Reason: reason})
}

// Notify implements firmware.OSPM.
func (a *acpiMemhotplug) Notify(dev firmware.Device, code firmware.NotifyCode) {
	switch code {
	case firmware.NotifyBusCheck, firmware.NotifyDeviceCheck:
		if _, ok := dev.Range(); ok && dev.STA&firmware.STAEnabled != 0 {
			a.add(dev)
			return
		}
		a.gone(dev)
	case firmware.NotifyEjectRequest:
		a.eject(dev)
	default:
		_ = a.dev.OST(dev.UID, uint32(code), firmware.OSTUnrecognizedNotif)
	}
}

func (a *acpiMemhotplug) printk(level kernel.Level, dev firmware.Device, format string, args ...any) {
	a.l.kern.Printk(level, "acpi PNP0C80:%02x: "+format, append([]any{dev.UID}, args...)...)
}

func (a *acpiMemhotplug) lookup(uid int) (firmware.Range, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.added[uid]
	return r, ok
}

func (a *acpiMemhotplug) add(dev firmware.Device) {
	fw, k := a.dev, a.l.kern
	rng, _ := dev.Range()
	if cur, ok := a.lookup(dev.UID); ok && cur == rng {
		_ = fw.OST(dev.UID, firmware.OSTSourceInsert, firmware.OSTSuccess)
		return
	}
	_ = fw.OST(dev.UID, firmware.OSTSourceInsert, firmware.OSTInsertInProgress)
	nid := int(dev.PXM)
	if err := k.AddMemory(nid, rng.Base, rng.Length, "System RAM"); err != nil {
		errno := errnoName(err)
		a.printk(kernel.KernErr, dev, "add_memory failed: %v", err)
		a.printk(kernel.KernErr, dev, "acpi_memory_enable_device() error")
		a.p.publish(a.p.clock.Now(), events.KernelMemoryAddFailed{Slot: dev.Slot, Errno: errno, Reason: kernelReason(err)})
		_ = fw.OST(dev.UID, firmware.OSTSourceInsert, firmware.OSTInsertDriverLoad)
		return
	}
	a.mu.Lock()
	a.added[dev.UID] = rng
	a.mu.Unlock()
	total, online := blocksOnline(k, rng)
	a.p.publish(a.p.clock.Now(), events.KernelMemoryAdded{Slot: dev.Slot, Node: nid, Base: rng.Base, Length: rng.Length,
		Blocks: total, Online: online, MemmapBytes: rng.Length / kernel.PageSize * kernel.StructPageSize})
	_ = fw.OST(dev.UID, firmware.OSTSourceInsert, firmware.OSTSuccess)
	if ev, ok := a.takeMappedOut(dev.Slot); ok {
		a.rebalance(dev, rng, ev)
	}
}

// gone handles a device that is no longer enabled: the firmware ended a
// transaction after the memory was visible, or the module was pulled.
func (a *acpiMemhotplug) gone(dev firmware.Device) {
	rng, ok := a.lookup(dev.UID)
	if !ok {
		return
	}
	if blk, err := a.offlineAndRemove(rng); err != nil {
		a.printk(kernel.KernCrit, dev, "memory %s is gone but cannot be removed (memory%d): %v", rng, blk, err)
		a.p.publish(a.p.clock.Now(), events.KernelMemoryRemoveRefused{Slot: dev.Slot, Block: blk, Errno: errnoName(err), Reason: kernelReason(err)})
		return
	}
	a.mu.Lock()
	delete(a.added, dev.UID)
	a.mu.Unlock()
	a.printk(kernel.KernWarning, dev, "device gone: removed memory %s", rng)
	a.p.publish(a.p.clock.Now(), events.KernelMemoryRemoved{Slot: dev.Slot, Node: int(dev.PXM), Base: rng.Base, Length: rng.Length,
		Blocks: int(rng.Length / a.l.kern.BlockSizeBytes())})
}

func (a *acpiMemhotplug) eject(dev firmware.Device) {
	fw := a.dev
	_ = fw.OST(dev.UID, firmware.OSTSourceEject, firmware.OSTEjectInProgress)
	rng, ok := a.lookup(dev.UID)
	if !ok {
		if r, has := dev.Range(); has {
			rng, ok = r, true
		}
	}
	if ok {
		blk, err := a.offlineAndRemove(rng)
		if err != nil {
			reason := kernelReason(err)
			a.printk(kernel.KernWarning, dev, "eject refused: memory%d: %s", blk, reason)
			a.p.publish(a.p.clock.Now(), events.KernelMemoryRemoveRefused{Slot: dev.Slot, Block: blk, Errno: errnoName(err), Reason: reason})
			_ = fw.OST(dev.UID, firmware.OSTSourceEject, firmware.OSTEjectInUse)
			return
		}
		a.mu.Lock()
		delete(a.added, dev.UID)
		a.mu.Unlock()
		a.p.publish(a.p.clock.Now(), events.KernelMemoryRemoved{Slot: dev.Slot, Node: int(dev.PXM), Base: rng.Base, Length: rng.Length,
			Blocks: int(rng.Length / a.l.kern.BlockSizeBytes())})
	}
	if err := fw.EJ0(dev.UID); err != nil {
		a.printk(kernel.KernErr, dev, "_EJ0 failed: %v", err)
		_ = fw.OST(dev.UID, firmware.OSTSourceEject, firmware.OSTFailure)
		return
	}
	a.printk(kernel.KernInfo, dev, "ejected")
	_ = fw.OST(dev.UID, firmware.OSTSourceEject, firmware.OSTSuccess)
}

// offlineAndRemove offlines every block of rng (acpi_scan_try_to_offline),
// then removes the range; on failure nothing changes and it reports the
// block that refused (-1 if none did).
func (a *acpiMemhotplug) offlineAndRemove(rng firmware.Range) (int, error) {
	return a.l.kern.OfflineAndRemoveMemory(rng.Base, rng.Length)
}

func blocksOnline(k *kernel.Kernel, rng firmware.Range) (total, online int) {
	bs := k.BlockSizeBytes()
	for id := int(rng.Base / bs); uint64(id)*bs < rng.End(); id++ {
		if b, ok := k.Block(id); ok {
			total++
			if b.State == "online" {
				online++
			}
		}
	}
	return total, online
}

func errnoName(err error) string {
	var e *kernel.Error
	if errors.As(err, &e) {
		return e.Errno.Name()
	}
	return ""
}

func kernelReason(err error) string {
	var e *kernel.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprint(err)
}
