package platform

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/vm"
)

// layers is the memory subsystem one boot of the host built: the SMC's
// view of the slots, the firmware's address map and ACPI devices, the
// kernel that booted on that map and the RAS engine planned for it. A
// boot (POST) builds a new set from the seated modules and the firmware
// settings of that moment and replaces the old one whole, as a real
// reset does: training, the TAD and the OS start afresh, hot-added
// modules become boot memory, and the memory RAS mode set for "the next
// boot" is applied.
//
// The set is swapped under opMu and published through an atomic pointer,
// so readers (snapshots, the control API's OS views) always see one
// consistent boot. Each set runs on its own epoch of the platform clock:
// when a newer set replaces it, steps it had scheduled (a hot-add in
// flight when the power went) never run, and events it might still emit
// are dropped.
type layers struct {
	smc  *smc.Controller
	fw   *firmware.Firmware
	kern *kernel.Kernel
	ospm *acpiMemhotplug
	// vm is the VM guest's memory devices and drivers (guest profiles
	// only), vmOSPM the guest's acpi_memhotplug for its pc-dimms.
	vm     *vm.Guest
	vmOSPM *acpiMemhotplug
	// cxl is the CXL host bridges, slots and drivers (CXL profiles only).
	cxl   *cxl.Bus
	ras   *rasUnit
	clk   clock.Clock
	epoch uint64
	// dead: the host reset or lost power; this set's steps stop (a
	// successor is built at the next POST).
	dead atomic.Bool
}

// l is the current set.
func (p *Platform) l() *layers { return p.hw.Load() }

// assemble builds the memory subsystem for a boot with the modules in
// boot, carrying the BMC's lifetime ECC counters over.
func (p *Platform) assemble(boot map[string]SavedModule, lifetimes map[string]ecc.Counters, mode string) (*layers, error) {
	l := &layers{epoch: p.epochs.Add(1)}
	l.clk = epochClock{Clock: p.clock, p: p, l: l}
	var err error
	if l.ras, err = p.newRAS(l, boot, mode, p.opts.FaultSeed); err != nil {
		return nil, fmt.Errorf("platform: RAS: %w", err)
	}
	if lifetimes != nil {
		l.ras.restoreLifetimes(lifetimes, boot)
	}
	if err := p.build(l, boot); err != nil {
		return nil, err
	}
	l.ras.syncTAD(l.fw.TAD())
	return l, nil
}

// epochClock schedules a set's steps on the platform clock, and runs them
// only while the set is in service: a reset cancels whatever the old
// boot's hardware was in the middle of.
type epochClock struct {
	clock.Clock
	p *Platform
	l *layers
}

func (c epochClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.Clock.AfterFunc(d, func() {
		// The first set's steps may be scheduled while New still builds
		// it, before it is stored.
		if cur := c.p.hw.Load(); (cur == nil || cur == c.l) && !c.l.dead.Load() {
			f()
		}
	})
}

// layerPublisher is a set's smc.Publisher: it lets the set's own engine
// follow what its firmware and SMC report, then publishes through the
// platform (snapshot first, then the record). A set no longer in service
// publishes nothing.
type layerPublisher struct {
	p *Platform
	l *layers
}

func (lp layerPublisher) Publish(at time.Time, e events.Event) events.Record {
	p, l := lp.p, lp.l
	if cur := p.hw.Load(); cur != nil && cur != l || l.dead.Load() {
		return events.Record{Time: at, Event: e}
	}
	switch ev := e.(type) {
	case events.AddressMapUpdated:
		l.ras.syncTAD(l.fw.TAD())
	case events.BusNoise:
		l.ras.countNoise(ev.Victims)
	case *events.BusNoise:
		if ev != nil {
			l.ras.countNoise(ev.Victims)
		}
	case events.MemoryEjected:
		defer l.ras.ejected(ev.Slot) // after the record itself goes out
	case events.InterleaveChanged:
		// The OS learns of a controller mapped out of its interleave
		// set here, before the device it waits for reaches
		// acpi_memhotplug.
		if l.ospm != nil {
			l.ospm.interleaveChanged(ev)
		}
	}
	r := p.publish(at, e)
	if am, ok := e.(events.AddressMapUpdated); ok && am.Op == "map-out" {
		p.machineCheck(l, am)
	}
	return r
}

// applied is the event that reports the mode this boot's plan applied.
func (u *rasUnit) applied() events.RASModeApplied {
	u.mu.Lock()
	defer u.mu.Unlock()
	plan := u.sys.Plan()
	return events.RASModeApplied{Requested: string(plan.Requested), Mode: string(plan.Mode),
		ConfigError: plan.ConfigError, RawBytes: plan.Raw, UsableBytes: plan.Usable}
}
