package platform

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/vm"
)

// A VM guest profile (profile.Guest) makes the server a virtual machine:
// the board's modules are its boot memory, and platform/vm holds the
// hypervisor's memory devices and the guest's drivers for them. The
// hypervisor outlives guest reboots: what the operator set (virtio-mem's
// requested-size, the balloon target, the plugged DIMMs) is kept here and
// applied again to the devices of each boot, as QEMU's devices keep their
// properties across a system reset (virtio-mem unplugs everything at
// reset and the rebooted guest plugs requested-size again). It is saved
// with the inventory too, as libvirt keeps a domain's live memory
// settings in its XML: a restarted BMC boots the guest with them, not
// with the profile's.

// ErrNotGuest: the server is not a VM guest, or has no such device.
var ErrNotGuest = errors.New("not a VM guest")

// vmHost is the hypervisor's state that survives guest reboots.
type vmHost struct {
	requested     *uint64
	balloonTarget uint64
	dimms         []vm.DimmSpec
}

// SavedVMHost is vmHost in the inventory file.
type SavedVMHost struct {
	// RequestedSize is virtio-mem's requested-size in bytes; nil: the
	// profile's.
	RequestedSize *uint64 `json:"requested_size,omitempty"`
	// BalloonTarget is the balloon's target guest memory in bytes (0:
	// none set).
	BalloonTarget uint64 `json:"balloon_target,omitempty"`
	// Dimms are the plugged pc-dimms with their ids, slots and
	// addresses.
	Dimms []vm.DimmSpec `json:"dimms,omitempty"`
}

// saved is h as the inventory keeps it; nil when nothing was set.
func (h vmHost) saved() *SavedVMHost {
	if h.requested == nil && h.balloonTarget == 0 && len(h.dimms) == 0 {
		return nil
	}
	s := &SavedVMHost{BalloonTarget: h.balloonTarget, Dimms: append([]vm.DimmSpec(nil), h.dimms...)}
	if h.requested != nil {
		r := *h.requested
		s.RequestedSize = &r
	}
	return s
}

// restoredVMHost takes the saved settings the profile's devices can still
// take. A requested-size the profile's virtio-mem region or block no
// longer admits is dropped (the profile's applies), as QEMU refuses to
// start with it; DIMMs and the balloon target are applied at boot, where
// the guest refuses what no longer fits with a kernel warning.
func (p *Platform) restoredVMHost(s *SavedVMHost) vmHost {
	g := p.prof.Guest
	if s == nil || g == nil {
		return vmHost{}
	}
	var h vmHost
	if v := g.VirtioMem; v != nil && s.RequestedSize != nil {
		size := *s.RequestedSize
		if err := vm.CheckRequestedSize(size, uint64(v.RegionSizeGiB)<<30, uint64(v.BlockSizeMiB)<<20); err != nil {
			p.log.Warn("saved virtio-mem requested-size no longer fits the profile's device; using the profile's",
				"requested_size", size, "err", err)
		} else {
			h.requested = &size
		}
	}
	if g.Balloon != nil {
		h.balloonTarget = s.BalloonTarget
	}
	if g.PCDimm != nil {
		h.dimms = append([]vm.DimmSpec(nil), s.Dimms...)
	}
	return h
}

// saveVMHost writes the hypervisor's settings with the inventory before
// the command that changed them is acknowledged. Caller holds opMu.
func (p *Platform) saveVMHost() error {
	p.mu.Lock()
	mods, power := p.saved, p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		// The guest has already changed: say so, lest a retry plug a
		// second DIMM.
		return fmt.Errorf("the hypervisor applied the change but could not save it (a BMC restart would lose it): %w", err)
	}
	return nil
}

// dimmAlign places the device memory regions as QEMU does, at a 1 GiB
// boundary above everything else.
const dimmAlign = 1 << 30

// guestLayout places the VM's device regions above the board's memory and
// resources, sets the guest kernel's command line from the profile, and
// adds virtio-mem's device resource (which its System RAM nests in) to
// /proc/iomem. Nil for a server that is not a guest.
func (p *Platform) guestLayout(kcfg *kernel.Config, ranges []kernel.Range) (*vm.Config, error) {
	g := p.prof.Guest
	if g == nil {
		return nil, nil
	}
	if kcfg.AutoOnline == "" {
		kcfg.AutoOnline = kernel.OnlineType(g.Kernel.AutoOnlineBlocks)
	}
	if kcfg.OnlinePolicy == "" {
		kcfg.OnlinePolicy = g.Kernel.OnlinePolicy
	}
	var top uint64
	for _, r := range ranges {
		top = max(top, r.Start+r.Size)
	}
	for _, r := range kcfg.IOMem {
		top = max(top, r.End+1)
	}
	next := (top + dimmAlign - 1) &^ (dimmAlign - 1)
	limit := uint64(1) << p.prof.AddressBits()
	var cfg vm.Config
	place := func(field string, size, align uint64) (uint64, error) {
		at := (next + align - 1) &^ (align - 1)
		if at+size > limit || at+size < at {
			return 0, p.prof.FieldError(field, fmt.Sprintf("%d GiB at %#x do not fit below the %d-bit physical address space", size>>30, at, p.prof.AddressBits()))
		}
		next = (at + size + dimmAlign - 1) &^ (dimmAlign - 1)
		return at, nil
	}
	if v := g.VirtioMem; v != nil {
		size := uint64(v.RegionSizeGiB) << 30
		// QEMU maps the device at a multiple of its block size.
		at, err := place("guest.virtio_mem.region_size_gib", size, max(dimmAlign, uint64(v.BlockSizeMiB)<<20))
		if err != nil {
			return nil, err
		}
		requested := uint64(v.RequestedSizeMiB) << 20
		p.mu.Lock()
		if p.vmHost.requested != nil {
			requested = *p.vmHost.requested
		}
		p.mu.Unlock()
		cfg.VirtioMem = &vm.VirtioMemConfig{Node: v.Node, Addr: at, RegionSize: size, BlockSize: uint64(v.BlockSizeMiB) << 20,
			RequestedSize: requested}
		kcfg.IOMem = append(kcfg.IOMem, kernel.Resource{Start: at, End: at + size - 1, Name: "virtio0", Driver: true})
	}
	if b := g.Balloon; b != nil {
		cfg.Balloon = &vm.BalloonConfig{DeflateOnOOM: b.DeflateOnOOM, FreePageReporting: b.FreePageReporting}
	}
	if d := g.PCDimm; d != nil {
		size := uint64(d.RegionSizeGiB) << 30
		at, err := place("guest.pc_dimm.region_size_gib", size, dimmAlign)
		if err != nil {
			return nil, err
		}
		cfg.PCDimm = &vm.PCDimmConfig{Node: d.Node, Addr: at, Size: size, Slots: d.Slots}
	}
	return &cfg, nil
}

// buildGuest creates the VM's devices on the booted kernel and applies
// what the hypervisor was told before this boot.
func (p *Platform) buildGuest(l *layers, cfg vm.Config, boot map[string]SavedModule) error {
	// QEMU's ram_size is the boot DIMMs' size, firmware holes included.
	var bootRAM uint64
	for _, m := range boot {
		if mod, err := decodeModule(m.SPD, m.InsertedAt); err == nil {
			bootRAM += mod.SPD.CapacityMiB << 20
		}
	}
	l.vmOSPM = newACPIMemhotplug(p, l, nil)
	g, err := vm.New(l.kern, cfg, bootRAM, l.vmOSPM)
	if err != nil {
		return p.prof.FieldError("guest", err.Error())
	}
	if ctl := g.ACPI(); ctl != nil {
		l.vmOSPM.dev = ctl
	}
	l.vm = g
	if b := cfg.Balloon; b != nil && b.FreePageReporting {
		p.registerPageReporting(l)
	}
	p.mu.Lock()
	host := p.vmHost
	host.dimms = append([]vm.DimmSpec(nil), host.dimms...)
	p.mu.Unlock()
	// The DIMMs come back where they were. One the controller can no
	// longer hold (an edited profile with fewer slots or a smaller
	// region) is dropped from the hypervisor's configuration, as QEMU
	// would refuse to start with it; one the guest did not add stays
	// plugged, as in QEMU.
	kept := host.dimms[:0]
	for _, d := range host.dimms {
		if got, err := g.ReplugDimm(d); got.ID == "" {
			l.kern.Printk(kernel.KernWarning, "pc-dimm %s of %d MiB plugged before: dropped: %v", d.ID, d.Size>>20, err)
			continue
		}
		kept = append(kept, d)
	}
	if len(kept) != len(host.dimms) {
		p.mu.Lock()
		p.vmHost.dimms = kept
		p.mu.Unlock()
	}
	if host.balloonTarget != 0 {
		if _, err := g.SetBalloonTarget(host.balloonTarget); err != nil {
			l.kern.Printk(kernel.KernWarning, "virtio_balloon: target %d MiB: %v", host.balloonTarget>>20, err)
		}
	}
	return nil
}

// guest returns the running guest's devices, refusing when the OS does
// not run or the server is no VM.
func (p *Platform) guest(op string) (*layers, error) {
	if !p.prof.IsGuest() {
		return nil, fmt.Errorf("%s: %w: profile %s has no guest section (try serve --profile virtio-mem, balloon or pc-dimm)", op, ErrNotGuest, p.prof.Name)
	}
	if err := p.needOS(op); err != nil {
		return nil, err
	}
	l := p.l()
	if l.vm == nil {
		return nil, fmt.Errorf("%s: %w: no guest devices in this boot", op, ErrNotGuest)
	}
	return l, nil
}

// VM reports the VM's devices (false when the server is not a VM guest).
func (p *Platform) VM() (vm.Status, bool) {
	l := p.l()
	if l == nil || l.vm == nil {
		return vm.Status{}, false
	}
	return l.vm.Status(), true
}

// vmDo runs one hypervisor command under the operator lock and publishes
// what the guest made of it.
func (p *Platform) vmDo(op string, f func(g *vm.Guest) (events.GuestMemoryChanged, error)) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	l, err := p.guest(op)
	if err != nil {
		return err
	}
	defer p.hold()()
	ev, err := f(l.vm)
	if ev.Device != "" {
		p.publish(p.clock.Now(), ev)
	}
	if err != nil {
		if errors.Is(err, vm.ErrNoDevice) {
			return fmt.Errorf("%s: %w: %w", op, ErrNotGuest, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// VMSetRequestedSize sets virtio-mem's requested-size (QEMU: qom-set vmem0
// requested-size SIZE); the guest driver plugs or unplugs toward it.
func (p *Platform) VMSetRequestedSize(size uint64) (vm.VirtioMemResult, error) {
	var res vm.VirtioMemResult
	err := p.vmDo("virtio-mem set-requested", func(g *vm.Guest) (events.GuestMemoryChanged, error) {
		r, err := g.SetRequestedSize(size)
		if err != nil {
			return events.GuestMemoryChanged{}, err
		}
		res = r
		p.mu.Lock()
		p.vmHost.requested = &size
		p.mu.Unlock()
		return events.GuestMemoryChanged{Device: "virtio-mem", ID: "virtio0", Op: "set-requested", Requested: size,
			Bytes: r.PluggedSize, Reason: r.Reason}, p.saveVMHost()
	})
	return res, err
}

// VMSetBalloonTarget sets the balloon's target guest memory (QEMU: balloon
// TARGET).
func (p *Platform) VMSetBalloonTarget(target uint64) (vm.BalloonResult, error) {
	var res vm.BalloonResult
	err := p.vmDo("balloon set", func(g *vm.Guest) (events.GuestMemoryChanged, error) {
		r, err := g.SetBalloonTarget(target)
		if err != nil {
			return events.GuestMemoryChanged{}, err
		}
		res = r
		p.mu.Lock()
		p.vmHost.balloonTarget = target
		p.mu.Unlock()
		return events.GuestMemoryChanged{Device: "balloon", ID: "virtio1", Op: "set", Requested: r.NumPages * kernel.PageSize,
			Bytes: r.ActualPages * kernel.PageSize, Reason: r.Reason}, p.saveVMHost()
	})
	return res, err
}

// VMReportFreePages runs one free page reporting pass.
func (p *Platform) VMReportFreePages() (vm.BalloonStatus, error) {
	var res vm.BalloonStatus
	err := p.vmDo("balloon report", func(g *vm.Guest) (events.GuestMemoryChanged, error) {
		st, err := g.ReportFreePages()
		if err != nil {
			return events.GuestMemoryChanged{}, err
		}
		res = st
		return events.GuestMemoryChanged{Device: "balloon", ID: "virtio1", Op: "report", Bytes: st.ReportedBytes}, nil
	})
	return res, err
}

// VMPlugDimm plugs a pc-dimm of size bytes (QEMU: device_add pc-dimm).
func (p *Platform) VMPlugDimm(size uint64) (vm.Dimm, error) {
	var res vm.Dimm
	err := p.vmDo("pc-dimm plug", func(g *vm.Guest) (events.GuestMemoryChanged, error) {
		d, err := g.PlugDimm(size)
		res = d
		if d.ID == "" {
			return events.GuestMemoryChanged{}, err
		}
		p.mu.Lock()
		p.vmHost.dimms = append(p.vmHost.dimms, vm.DimmSpec{ID: d.ID, Slot: d.Slot, Addr: d.Addr, Size: d.Size})
		p.mu.Unlock()
		ev := events.GuestMemoryChanged{Device: "pc-dimm", ID: d.ID, Op: "plug", Requested: size, Bytes: size}
		if err != nil {
			ev.Reason = err.Error()
		}
		return ev, errors.Join(err, p.saveVMHost())
	})
	return res, err
}

// VMUnplugDimm asks the guest to eject a pc-dimm (QEMU: device_del ID).
func (p *Platform) VMUnplugDimm(id string) (vm.Dimm, error) {
	var res vm.Dimm
	err := p.vmDo("pc-dimm unplug", func(g *vm.Guest) (events.GuestMemoryChanged, error) {
		d, err := g.UnplugDimm(id)
		res = d
		if d.ID == "" {
			return events.GuestMemoryChanged{}, err
		}
		ev := events.GuestMemoryChanged{Device: "pc-dimm", ID: d.ID, Op: "unplug", Requested: 0, Bytes: 0}
		if err != nil {
			ev.Reason, ev.Bytes = err.Error(), d.Size
			return ev, err
		}
		p.mu.Lock()
		p.vmHost.dimms = slices.DeleteFunc(p.vmHost.dimms, func(s vm.DimmSpec) bool { return s.ID == d.ID })
		p.mu.Unlock()
		return ev, p.saveVMHost()
	})
	return res, err
}

// VMCompare computes the three generations for a growth of size bytes
// from the running guest's geometry (or the defaults when the server is
// not a VM); dimmSize splits the pc-dimm growth into DIMMs of that size
// (0: one DIMM).
func (p *Platform) VMCompare(size, dimmSize uint64) (vm.Comparison, error) {
	geo := vm.DefaultGeometry()
	if l := p.l(); l != nil && l.vm != nil {
		geo = l.vm.Geometry()
	}
	geo.DimmSize = dimmSize
	return vm.Compare(size, geo)
}

// FirmwareMemmap is the guest's (or host's) /sys/firmware/memmap.
func (p *Platform) FirmwareMemmap() []kernel.FirmwareMapEntry { return p.l().kern.FirmwareMemmap() }

// FirmwareMemmapText formats it.
func (p *Platform) FirmwareMemmapText() string { return p.l().kern.FirmwareMemmapText() }

// KexecRAM is the System RAM a kexec_file load considers.
func (p *Platform) KexecRAM() []kernel.PhysRange { return p.l().kern.KexecRAM() }

// registerPageReporting makes the balloon's free page reporting run as
// the guest's kernel runs it: a free that grows the free 2 MiB blocks
// schedules a pass PAGE_REPORTING_DELAY later (one pass for a burst of
// frees), on this boot's clock, so a reset cancels it. `ctl vm balloon
// report` still runs one at once.
func (p *Platform) registerPageReporting(l *layers) {
	var pending atomic.Bool
	l.kern.RegisterPageReporting(vm.PageReportingOrder, func() {
		// Inside the kernel's free, under its lock: only arm the timer.
		if !pending.CompareAndSwap(false, true) {
			return
		}
		l.clk.AfterFunc(vm.PageReportingDelay, func() {
			pending.Store(false)
			if l.dead.Load() || p.l() != l {
				return
			}
			if _, err := p.VMReportFreePages(); err != nil {
				p.log.Debug("free page reporting pass skipped", "err", err)
			}
		})
	})
}
