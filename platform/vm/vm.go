// Package vm is the simulated server as a virtual machine: the hypervisor's
// memory devices, which the operator drives as QEMU's monitor would, and
// the guest drivers that answer them inside the guest's kernel. It covers
// the three generations the seed's history names:
//
//	virtio-balloon (2008)  the guest gives pages back; nothing is added or
//	                       removed, no NUMA placement
//	pc-dimm (2015)         QEMU's ACPI memory hot-plug controller
//	                       (hw/acpi/memory_hotplug.c) raising PNP0C80
//	                       devices that the guest's acpi_memhotplug adds in
//	                       128 MiB memory blocks
//	virtio-mem (2020)      a device region plugged in device blocks (4 MiB
//	                       and up here) that the guest's virtio_mem driver
//	                       adds with add_memory_driver_managed()
//
// The host side checks what QEMU checks and keeps what QEMU keeps (the
// device's plugged bitmap, the balloon's target and actual size, the DIMM
// slots); the guest side imitates drivers/virtio/virtio_mem.c,
// drivers/virtio/virtio_balloon.c and mm/page_reporting.c over
// platform/kernel. Every request runs to completion before it returns:
// where Linux defers to a workqueue, the model runs the work at once, so a
// caller sees the guest's answer (plugged-size, "Out of puff!", _OST) in
// the same call.
package vm

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Errors the host side returns; each names the limit in its message.
var (
	// ErrInvalid: a size or identifier the device cannot take.
	ErrInvalid = errors.New("invalid request")
	// ErrNoDevice: the VM has no such device.
	ErrNoDevice = errors.New("no such device")
	// ErrBusy: the guest refused or could not finish; the request stands.
	ErrBusy = errors.New("guest busy")
)

// Config describes a VM's memory devices (any may be nil).
type Config struct {
	VirtioMem *VirtioMemConfig `json:"virtio_mem,omitempty"`
	Balloon   *BalloonConfig   `json:"balloon,omitempty"`
	PCDimm    *PCDimmConfig    `json:"pc_dimm,omitempty"`
}

// VirtioMemConfig is a virtio-mem-pci device (QEMU's properties).
type VirtioMemConfig struct {
	Node int `json:"node"`
	// Addr is the start of the device region; RegionSize its size (the
	// memory backend's size); BlockSize the device block size.
	Addr       uint64 `json:"addr"`
	RegionSize uint64 `json:"region_size"`
	BlockSize  uint64 `json:"block_size"`
	// RequestedSize at start.
	RequestedSize uint64 `json:"requested_size"`
}

// BalloonConfig is a virtio-balloon-pci device.
type BalloonConfig struct {
	// DeflateOnOOM is VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the guest keeps
	// balloon pages in MemTotal (and may take them back under pressure).
	DeflateOnOOM bool `json:"deflate_on_oom"`
	// FreePageReporting is VIRTIO_BALLOON_F_REPORTING.
	FreePageReporting bool `json:"free_page_reporting"`
}

// PCDimmConfig is QEMU's -m SIZE,slots=N,maxmem=M: the device memory
// region where pc-dimms are placed.
type PCDimmConfig struct {
	Node  int    `json:"node"`
	Addr  uint64 `json:"addr"`
	Size  uint64 `json:"size"`
	Slots int    `json:"slots"`
}

// MinVirtioMemBlockSize is the smallest device block the model takes, the
// seed's 4 MiB: Linux's sub-block was max(MAX_ORDER pages, pageblock) =
// 4 MiB on x86_64 until 5.16 made it the 2 MiB pageblock; QEMU's default
// block size is the 2 MiB THP size.
const MinVirtioMemBlockSize = 4 << 20

// DimmGranularity is the size a pc-dimm must be a multiple of: the guest
// adds whole memory blocks (128 MiB on x86_64 VMs below 64 GiB).
const DimmGranularity = kernel.MinMemoryBlockSize

// Guest is one VM's memory devices and guest drivers.
type Guest struct {
	k *kernel.Kernel

	mu      sync.Mutex
	vmem    *virtioMem
	balloon *balloon
	dimms   *memHotplug
	bootRAM uint64
	// snap is the status as of the last finished command: readers (the
	// platform's snapshot, rebuilt for every event the guest's drivers
	// publish while a command runs) never wait for g.mu.
	snap atomic.Pointer[Status]
}

// New creates the devices in cfg on guest kernel k, whose boot memory is
// bootRAM bytes, and probes their drivers (the virtio_mem driver logs its
// configuration and plugs the requested size, as at boot). ospm is the
// guest's ACPI memory hot-plug driver for pc-dimms.
func New(k *kernel.Kernel, cfg Config, bootRAM uint64, ospm firmware.OSPM) (*Guest, error) {
	g := &Guest{k: k, bootRAM: bootRAM}
	if c := cfg.VirtioMem; c != nil {
		v, err := newVirtioMem(k, *c)
		if err != nil {
			return nil, err
		}
		g.vmem = v
	}
	if c := cfg.Balloon; c != nil {
		g.balloon = newBalloon(k, *c)
	}
	if c := cfg.PCDimm; c != nil {
		if ospm == nil {
			return nil, fmt.Errorf("vm: pc-dimm: %w: no ACPI memory hot-plug driver in the guest", ErrInvalid)
		}
		d, err := newMemHotplug(k, *c, ospm)
		if err != nil {
			return nil, err
		}
		g.dimms = d
	}
	if g.vmem != nil && g.vmem.requested > 0 {
		g.vmem.run()
	}
	g.refresh()
	return g, nil
}

// Status is the host's and the guest's view of every device.
type Status struct {
	// RAMSize is QEMU's current RAM size: boot memory, plugged pc-dimms
	// and virtio-mem's plugged size (what the balloon target is taken
	// against).
	RAMSize   uint64           `json:"ram_size"`
	BootRAM   uint64           `json:"boot_ram"`
	VirtioMem *VirtioMemStatus `json:"virtio_mem,omitempty"`
	Balloon   *BalloonStatus   `json:"balloon,omitempty"`
	PCDimms   *PCDimmStatus    `json:"pc_dimm,omitempty"`
}

// Status reports the devices as of the last finished command.
func (g *Guest) Status() Status {
	if st := g.snap.Load(); st != nil {
		return *st
	}
	return Status{}
}

// refresh publishes the status; callers hold g.mu.
func (g *Guest) refresh() {
	st := g.status()
	g.snap.Store(&st)
}

func (g *Guest) status() Status {
	st := Status{BootRAM: g.bootRAM}
	st.RAMSize = g.ramSize()
	if g.vmem != nil {
		v := g.vmem.status()
		st.VirtioMem = &v
	}
	if g.balloon != nil {
		b := g.balloon.status(st.RAMSize)
		st.Balloon = &b
	}
	if g.dimms != nil {
		d := g.dimms.status()
		st.PCDimms = &d
	}
	return st
}

func (g *Guest) ramSize() uint64 {
	n := g.bootRAM
	if g.vmem != nil {
		n += g.vmem.pluggedSize()
	}
	if g.dimms != nil {
		n += g.dimms.plugged()
	}
	return n
}

// SetRequestedSize is `qom-set vmem0 requested-size SIZE`: the device
// takes the new size and interrupts the guest, whose driver plugs or
// unplugs until plugged-size reaches it or it cannot go on. The result
// says where it stopped and why.
func (g *Guest) SetRequestedSize(size uint64) (VirtioMemResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.refresh()
	if g.vmem == nil {
		return VirtioMemResult{}, fmt.Errorf("virtio-mem: %w: the VM has no virtio-mem device", ErrNoDevice)
	}
	return g.vmem.setRequested(size)
}

// SetBalloonTarget is the monitor's `balloon TARGET`: the guest's memory
// is to become target bytes; the driver inflates or deflates toward it.
func (g *Guest) SetBalloonTarget(target uint64) (BalloonResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.refresh()
	if g.balloon == nil {
		return BalloonResult{}, fmt.Errorf("balloon: %w: the VM has no virtio-balloon device", ErrNoDevice)
	}
	return g.balloon.setTarget(target, g.ramSize())
}

// ReportFreePages runs one pass of the guest's free page reporting and
// returns the balloon's host counters afterwards.
func (g *Guest) ReportFreePages() (BalloonStatus, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.refresh()
	if g.balloon == nil {
		return BalloonStatus{}, fmt.Errorf("free page reporting: %w: the VM has no virtio-balloon device", ErrNoDevice)
	}
	if err := g.balloon.report(); err != nil {
		return BalloonStatus{}, err
	}
	return g.balloon.status(g.ramSize()), nil
}

// PlugDimm is `device_add pc-dimm,size=SIZE`: the controller places a DIMM
// in the first free slot and address, and the guest adds it through ACPI.
func (g *Guest) PlugDimm(size uint64) (Dimm, error) {
	return g.dimmOp(func(m *memHotplug) (Dimm, error) { return m.plug(size) })
}

// ReplugDimm plugs a DIMM the hypervisor kept from before a reboot or a
// BMC restart, with its id, slot and address.
func (g *Guest) ReplugDimm(s DimmSpec) (Dimm, error) {
	return g.dimmOp(func(m *memHotplug) (Dimm, error) { return m.replug(s) })
}

// UnplugDimm is `device_del ID`: an eject request the guest may refuse.
func (g *Guest) UnplugDimm(id string) (Dimm, error) {
	return g.dimmOp(func(m *memHotplug) (Dimm, error) { return m.unplug(id) })
}

// dimmOp runs one command on the pc-dimm controller under the guest's
// lock.
func (g *Guest) dimmOp(f func(*memHotplug) (Dimm, error)) (Dimm, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.refresh()
	if g.dimms == nil {
		return Dimm{}, fmt.Errorf("pc-dimm: %w: the VM has no pc-dimm slots (maxmem)", ErrNoDevice)
	}
	return f(g.dimms)
}

// Dimms lists the plugged pc-dimms.
func (g *Guest) Dimms() []Dimm {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dimms == nil {
		return nil
	}
	return g.dimms.status().Dimms
}

func hexSize(n uint64) string { return fmt.Sprintf("%#x", n) }

// mib formats a byte count for messages.
func mib(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ACPIMethods are the memory devices' ACPI methods the guest's
// acpi_memhotplug driver evaluates.
type ACPIMethods interface {
	OST(uid int, source, status uint32) error
	EJ0(uid int) error
}

// ACPI returns the pc-dimm controller's methods (nil without pc-dimm
// slots). The guest evaluates them while a plug or unplug is in progress,
// from inside that call.
func (g *Guest) ACPI() ACPIMethods {
	if g.dimms == nil {
		return nil
	}
	return g.dimms
}
