// Package firmware is the UEFI/ACPI firmware of the simulated server (seed
// items 2, 3, 4, 10, 16, 17, 18). At boot it lays out the physical address
// space (MMIO holes, each socket's RAM and a `memmap=` hot-plug reservation
// marked EFI_MEMORY_HOT_PLUGGABLE), builds the Target Address Decoder and the
// SRAT/HMAT. When the SMC raises the SCI for a powered slot, its _L01 handler
// trains the module (per-lane DQ/DQS delays, Vref sweep), programs the TAD
// atomically with a range from the socket's reservation, optionally pattern
// tests it (_RST), regenerates SRAT/HMAT and notifies the OSPM through the
// PNP0C80 memory device of the slot (_STA, _CRS, _PXM, _OST, _EJ0).
//
// Seams: the firmware implements smc.Notifier (RaiseSCI); it drives the SMC
// through Hardware (implemented by *smc.Controller) and the OS through OSPM
// (implemented by the lead's adapter over the kernel's acpi_memhotplug).
//
// Insertion _OST protocol: when the handler accepts an insertion it records
// _OST(0x200, 0x80 in progress) for the device; the OSPM ends the transaction
// with OST(uid, 0x200, 0x00) once the memory is added, or a failure status.
// When the firmware itself fails the insertion (FW_FAULT, no address space,
// watchdog) it ends the transaction with a failure status (From "firmware").
package firmware

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Errors returned to the OSPM.
var (
	ErrNoDevice     = errors.New("firmware: no such memory device")
	ErrNotEjectable = errors.New("firmware: device has no _EJ0")
	ErrNotPresent   = errors.New("firmware: device not present")
)

// OSPM is the operating system as the firmware reaches it: Notify(device,
// code). The OSPM then evaluates the device's methods through the Firmware
// (Device for _STA/_CRS/_PXM, OST, EJ0, RST). Notify is called without
// firmware locks held; it may call back synchronously or later.
type OSPM interface {
	Notify(dev Device, code NotifyCode)
}

// Redundancy is the memory controller's RAS engine (rank sparing,
// mirroring, RAID memory) as the firmware programs and consults it; nil
// means plain ECC. The firmware calls it with its own lock held: it must
// not call back into the firmware or publish. The events it returns are
// emitted by the firmware, in order, with its own.
type Redundancy interface {
	// Decoded is how many bytes of boot module slot the TAD maps: the
	// capacity, less a rank held as the spare, or 0 for a module that only
	// holds redundant copies (a mirror's secondary, RAID parity share).
	Decoded(slot smc.Slot, capacity uint64) uint64
	// Insert is asked once a module in slot has trained; a non-nil error
	// refuses the module (with the reason), otherwise the action says
	// what the firmware does with it.
	Insert(slot smc.Slot, m spd.Module) (act InsertAction, evs []events.Event, err error)
	// Release is asked when a module that is no hot-added range is to
	// leave (surprise=false: an eject request) or has left. ok=true: its
	// redundant set carries on without it (degraded), so the slot may be
	// powered off without the OS; otherwise reason says why not.
	Release(slot smc.Slot, surprise bool) (ok bool, evs []events.Event, reason string)
	// Reliable reports whether boot module slot decodes mirrored memory
	// (address-range mirroring): the firmware lays it out of the
	// interleave set, as one contiguous range per socket, and marks that
	// range EFI_MEMORY_MORE_RELIABLE.
	Reliable(slot smc.Slot) bool
	// GrowthReserve is address space to hold back on a socket for the
	// redundant sets to grow into without a reboot (a RAID5 array whose
	// cartridges are all upgraded), beyond the empty slots' reservation.
	GrowthReserve(socket int) uint64
}

// InsertAction is the RAS engine's decision on a trained module. The zero
// value is a plain hot-add through the OS.
type InsertAction struct {
	// Replace: the module replaces a failed member of a redundant set; the
	// hardware rebuilds it and the OS is not involved.
	Replace bool
	// Hold: the module waits, powered and unmapped, for another one (a
	// mirror partner); Hold says for what.
	Hold string
	// Map: the module is the redundant copy of held slot Map, whose
	// module is now hot-added through the OS instead.
	Map string
	// Join: held slots whose modules become this one's redundant copies.
	Join []string
}

// Hardware is the SMC as the firmware drives it; *smc.Controller
// implements it.
type Hardware interface {
	Slots() []smc.SlotStatus
	HotAddDone(slot string) error
	HotAddFailed(slot, reason string) error
	PowerOff(slot string) error
	EjectRefused(slot, reason string) error
}

// Timing are the durations of firmware steps in simulated time.
type Timing struct {
	Training    time.Duration // DQ/DQS delay training
	Vref        time.Duration // Vref sweep
	PatternTest time.Duration
	Watchdog    time.Duration // a hung _L01 handler is declared dead after this
	OSPM        time.Duration // how long the firmware waits for the OS's _OST
}

// DefaultTiming: 300 ms training, 100 ms Vref, 200 ms pattern test, 5 s
// watchdog, 30 s for the OS.
func DefaultTiming() Timing {
	return Timing{Training: 300 * time.Millisecond, Vref: 100 * time.Millisecond, PatternTest: 200 * time.Millisecond,
		Watchdog: 5 * time.Second, OSPM: 30 * time.Second}
}

// Config configures New.
type Config struct {
	Memory   profile.Memory
	Clock    clock.Clock // required
	Hardware Hardware    // required
	// OSPM may be nil at construction and set with SetOSPM.
	OSPM      OSPM
	Publisher smc.Publisher // may be nil
	Faults    *smc.Faults   // may be nil
	// ReservePerSlot is the hot-plug reservation of each slot empty at
	// boot (a window of its own in its socket's reservation; 0 means
	// 64 GiB). The profile's hotplug.reserve_per_slot_gib sets it.
	ReservePerSlot uint64
	// ReservePerSocket, when set, replaces the per-slot windows with one
	// pool of that size per socket.
	ReservePerSocket uint64
	// AddressBits is the physical address width the layout must fit
	// below (0: DefaultAddressBits).
	AddressBits int
	// Align is the alignment of hot-added ranges; 0 means 2 GiB (the
	// kernel's memory block size on large x86_64 machines, and a multiple
	// of the 128 MiB one).
	Align  uint64
	Timing Timing
	// SkipPatternTest turns off the pattern test during hot-add (the OSPM
	// may still request it with RST).
	SkipPatternTest bool
	// CPUsPerSocket is how many x2APIC entries SRAT lists per socket (2).
	CPUsPerSocket int
	// HMAT figures: local and remote access latency, and the socket
	// interconnect bandwidth that caps remote bandwidth.
	LocalLatency, RemoteLatency time.Duration
	InterconnectMBs             uint64
	// Redundancy is the RAS engine; nil for plain ECC.
	Redundancy Redundancy
	// CXL are the platform's CXL host bridges (cxl.go).
	CXL []CXLHostBridge
}

// ParkedModule is a module in the defective pool.
type ParkedModule struct {
	Slot   string    `json:"slot"`
	Serial string    `json:"serial"`
	Part   string    `json:"part"`
	Fault  string    `json:"fault"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Firmware is the platform firmware of one server.
type Firmware struct {
	cfg    Config
	clock  clock.Clock
	hw     Hardware
	pub    smc.Publisher
	faults *smc.Faults
	timing Timing

	mu        sync.Mutex
	ospm      OSPM
	topo      []smc.Slot
	devs      map[string]*device
	amap      *AddressMap
	defective []ParkedModule
	reliable  []Range // boot ranges decoded by mirrored modules (address-range mirroring)
	// bootSlots are the slots populated at boot, true for those whose
	// module decodes nothing (a mirror's secondary, RAID parity): a
	// module seated there again is a hot-replace, which needs no new
	// address space. Immutable after New.
	bootSlots map[string]bool
	// cxlWindows are the CFMWS placed at boot (cxl.go). Immutable.
	cxlWindows []CXLWindow
}

type device struct {
	Device
	slot     smc.Slot
	module   spd.Module
	speed    int
	stage    string
	epoch    uint64
	timers   []clock.Timer
	ejecting bool
	// extending: the OS is being handed a boot module's extension (the
	// module itself stays in service whatever the OS answers).
	extending bool
}

// New boots the firmware: it scans the SMC's slots, lays out the address
// space and builds the decoder and tables.
func New(cfg Config) (*Firmware, error) {
	if cfg.Clock == nil || cfg.Hardware == nil {
		return nil, errors.New("firmware: Config.Clock and Config.Hardware are required")
	}
	def := DefaultTiming()
	t := cfg.Timing
	for _, p := range []struct{ v, d *time.Duration }{{&t.Training, &def.Training}, {&t.Vref, &def.Vref},
		{&t.PatternTest, &def.PatternTest}, {&t.Watchdog, &def.Watchdog}, {&t.OSPM, &def.OSPM}} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	if cfg.Align == 0 {
		cfg.Align = 2 * GiB
	}
	if cfg.CPUsPerSocket == 0 {
		cfg.CPUsPerSocket = 2
	}
	if cfg.LocalLatency == 0 {
		cfg.LocalLatency = 90 * time.Nanosecond
	}
	if cfg.RemoteLatency == 0 {
		cfg.RemoteLatency = 140 * time.Nanosecond
	}
	if cfg.InterconnectMBs == 0 {
		cfg.InterconnectMBs = 96_000
	}
	f := &Firmware{cfg: cfg, clock: cfg.Clock, hw: cfg.Hardware, pub: cfg.Publisher, faults: cfg.Faults, timing: t,
		ospm: cfg.OSPM, devs: map[string]*device{}, bootSlots: map[string]bool{}}
	slots := cfg.Hardware.Slots()
	boot := map[string]uint64{}
	reliable := map[string]bool{}
	for _, s := range slots {
		f.topo = append(f.topo, s.Slot)
		d := &device{slot: s.Slot, Device: Device{Path: fmt.Sprintf(`\_SB.MHPC.MP%02X`, s.Ordinal), HID: HIDMemoryDevice,
			UID: s.Ordinal, Slot: s.Name, PXM: uint32(s.Socket)}}
		if s.Present && s.Module != nil && s.Power == smc.PowerNominal {
			capacity := s.Module.CapacityMiB << 20
			if cfg.Redundancy != nil {
				// A module holding only redundant copies (a mirror's
				// secondary, RAID parity) decodes nothing: 0 bytes.
				capacity = cfg.Redundancy.Decoded(s.Slot, capacity)
			}
			if capacity > 0 {
				boot[s.Name] = capacity
			}
			if capacity > 0 && cfg.Redundancy != nil && cfg.Redundancy.Reliable(s.Slot) {
				reliable[s.Name] = true
			}
			f.bootSlots[s.Name] = capacity == 0
			d.module, d.speed = *s.Module, s.SpeedMTs
			d.STA = STAOK
		}
		f.devs[s.Name] = d
	}
	mc := mapConfig{topo: f.topo, boot: boot, populated: f.bootSlots, perSlot: cfg.ReservePerSlot, align: cfg.Align, bits: cfg.AddressBits,
		ways: InterleaveWays(cfg.Memory.Type), reliable: reliable, clock: f.clock}
	if mc.perSlot == 0 {
		mc.perSlot = 64 * GiB
	}
	if cfg.Redundancy != nil {
		mc.extra = cfg.Redundancy.GrowthReserve
	}
	if cfg.ReservePerSocket != 0 {
		mc.pooled = func(int) uint64 { return cfg.ReservePerSocket }
	}
	m, err := newAddressMap(mc)
	if err != nil {
		return nil, fmt.Errorf("firmware: address map: %w", err)
	}
	f.amap = m
	var top uint64
	for _, r := range m.Layout().Regions() {
		top = max(top, r.End())
	}
	if f.cxlWindows, err = placeCXL(cfg.CXL, m.sockets, top, cfg.AddressBits); err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	for _, r := range m.tad.Rules {
		if len(r.Targets) == 1 && reliable[r.Targets[0]] {
			f.reliable = append(f.reliable, r.Range)
		}
	}
	return f, nil
}

// SetOSPM connects the OS after both are built.
func (f *Firmware) SetOSPM(o OSPM) {
	f.mu.Lock()
	f.ospm = o
	f.mu.Unlock()
}

type effects []func()

func (f *Firmware) emit(fx *effects, e events.Event) {
	*fx = append(*fx, func() {
		if f.pub != nil {
			f.pub.Publish(f.clock.Now(), e)
		}
	})
}

func (f *Firmware) run(fx effects) {
	for _, x := range fx {
		x()
	}
}

func (f *Firmware) notify(fx *effects, d *device, code NotifyCode) {
	f.emit(fx, events.ACPINotify{Slot: d.Slot, Device: d.Path, Code: uint8(code), Name: code.String()})
	if o := f.ospm; o != nil {
		snap := d.snapshot()
		*fx = append(*fx, func() { o.Notify(snap, code) })
	}
}

func (f *Firmware) hwCall(fx *effects, call func() error) {
	*fx = append(*fx, func() { _ = call() })
}

func (f *Firmware) ost(fx *effects, d *device, source, status uint32, from string) {
	r := OSTRecord{At: f.clock.Now(), Source: source, Status: status, Meaning: OSTMeaning(source, status), From: from}
	d.OST = append(d.OST, r)
	f.emit(fx, events.ACPIOST{Slot: d.Slot, Device: d.Path, Source: source, Status: status, Meaning: r.Meaning, From: from})
}

func (d *device) snapshot() Device {
	c := d.Device
	c.CRS = slices.Clone(d.CRS)
	c.OST = slices.Clone(d.OST)
	if d.Training != nil {
		t := *d.Training
		t.Lanes = slices.Clone(t.Lanes)
		c.Training = &t
	}
	if d.Pattern != nil {
		p := *d.Pattern
		c.Pattern = &p
	}
	return c
}

// after schedules a step of d's current operation; finish/cancel makes it stale.
func (f *Firmware) after(d *device, dur time.Duration, step func(d *device, fx *effects)) {
	ep := d.epoch
	t := f.clock.AfterFunc(dur, func() {
		f.mu.Lock()
		if d.epoch != ep {
			f.mu.Unlock()
			return
		}
		var fx effects
		step(d, &fx)
		f.mu.Unlock()
		f.run(fx)
	})
	d.timers = append(d.timers, t)
}

// finish ends d's current operation and cancels its pending steps.
func (f *Firmware) finish(d *device) {
	f.cancelSteps(d)
	d.stage = ""
	d.Stage = ""
}

func (f *Firmware) cancelSteps(d *device) {
	d.epoch++
	for _, t := range d.timers {
		t.Stop()
	}
	d.timers = nil
}

func (f *Firmware) setStage(d *device, s string) { d.stage, d.Stage = s, s }

// RaiseSCI is the GPE handler \_GPE._L01: it reads the slot status the SMC
// latched and runs the insertion, eject-request or surprise-removal flow.
func (f *Firmware) RaiseSCI(sci smc.SCI) {
	f.mu.Lock()
	var fx effects
	d, ok := f.devs[sci.Slot.Name]
	if ok {
		switch sci.Cause {
		case smc.CauseInsert:
			f.startInsert(d, sci, &fx)
		case smc.CauseEjectRequest:
			f.ejectRequest(d, &fx)
		case smc.CauseSurpriseRemoval:
			f.surprise(d, &fx)
		}
	}
	f.mu.Unlock()
	f.run(fx)
}

func (f *Firmware) startInsert(d *device, sci smc.SCI, fx *effects) {
	f.finish(d)
	d.module, d.speed = sci.Module, sci.SpeedMTs
	d.STA, d.CRS, d.Ejectable = STAPresent, nil, false
	d.FWFault, d.Parked, d.FaultReason, d.Training, d.Pattern, d.OST = false, false, "", nil, nil, nil
	d.ejecting = false
	f.setStage(d, "training")
	f.ost(fx, d, OSTSourceInsert, OSTInsertInProgress, "firmware")
	f.after(d, f.timing.Watchdog, func(d *device, fx *effects) {
		stage := d.stage
		f.emit(fx, events.FirmwareTimeout{Slot: d.Slot, Stage: stage})
		f.emit(fx, events.TrainingFailed{Slot: d.Slot, Stage: "timeout", Lane: -1, Reason: fmt.Sprintf("_L01 handler did not finish %s within %s", stage, f.timing.Watchdog)})
		f.fwFault(d, fx, smc.FaultFirmwareHang, fmt.Sprintf("firmware watchdog expired during %s", stage))
	})
	if f.faults.Armed(d.Slot, smc.FaultFirmwareHang) {
		return // the handler never comes back; the watchdog ends it
	}
	f.after(d, f.timing.Training+f.timing.Vref, func(d *device, fx *effects) { f.trained(d, fx) })
}

func (f *Firmware) trained(d *device, fx *effects) {
	r := f.faults.Rand(d.Slot, "training")
	res := train(d.module, d.slot.Position, d.speed, r,
		f.faults.Armed(d.Slot, smc.FaultTraining), f.faults.Armed(d.Slot, smc.FaultCalibration))
	d.Training = &res
	if !res.Pass {
		f.emit(fx, events.TrainingFailed{Slot: d.Slot, Stage: res.Stage, Lane: res.FailedLane, Reason: res.Reason})
		kind := smc.FaultTraining
		if res.Stage == "vref" {
			kind = smc.FaultCalibration
		}
		f.fwFault(d, fx, kind, res.Reason)
		return
	}
	f.emit(fx, events.MemoryTrained{Slot: d.Slot, Lanes: len(res.Lanes), MinEyePS: res.MinEyePS(), VrefPercent: res.VrefPercent,
		EyeHeightMV: res.EyeHeightMV, SpeedMTs: res.SpeedMTs, DurationMsec: (f.timing.Training + f.timing.Vref).Milliseconds()})
	if r := f.cfg.Redundancy; r != nil {
		act, evs, err := r.Insert(d.slot, d.module)
		for _, e := range evs {
			f.emit(fx, e)
		}
		switch {
		case err != nil:
			f.failInsert(d, fx, OSTInsertNotSupported, err.Error())
			return
		case act.Replace:
			f.replaced(d, fx)
			return
		case act.Hold != "":
			// The insertion stays in progress (_OST 0x80) until the
			// partner arrives; only the watchdog goes.
			f.cancelSteps(d)
			f.setStage(d, "awaiting-partner")
			return
		case act.Map != "":
			if p, ok := f.devs[act.Map]; ok && p.stage == "awaiting-partner" {
				f.replaced(d, fx)
				f.mapModule(p, fx)
				return
			}
		}
		for _, j := range act.Join {
			if p, ok := f.devs[j]; ok && p.stage == "awaiting-partner" {
				f.replaced(p, fx)
			}
		}
	}
	f.mapModule(d, fx)
}

// mapModule gives a trained module a range of its socket's reservation,
// pattern-tests it and hands it to the OS.
func (f *Firmware) mapModule(d *device, fx *effects) {
	rng, changes, err := f.amap.Add(d.slot, d.module.CapacityMiB<<20)
	if err != nil {
		f.emit(fx, events.AddressMapRejected{Slot: d.Slot, Reason: err.Error()})
		f.failInsert(d, fx, OSTInsertNotSupported, "address map: "+err.Error())
		return
	}
	f.emit(fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: d.Slot, Op: "add", Base: rng.Base, Length: rng.Length, Generation: f.amap.TAD().Generation})
	for _, c := range changes {
		f.emit(fx, c)
	}
	if f.cfg.SkipPatternTest {
		f.publishDevice(d, fx, rng)
		return
	}
	f.setStage(d, "pattern-test")
	f.after(d, f.timing.PatternTest, func(d *device, fx *effects) {
		res := f.pattern(d, rng)
		if !res.Passed {
			if _, err := f.amap.Remove(d.Slot); err == nil {
				f.emit(fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: d.Slot, Op: "remove", Base: rng.Base, Length: rng.Length, Generation: f.amap.TAD().Generation})
			}
			f.fwFault(d, fx, smc.FaultStuckAt, fmt.Sprintf("pattern test: data bit %d stuck at %d at %#x (wrote %#016x, read %#016x)", res.Bit, res.StuckAt, res.Address, res.Expected, res.Got))
			return
		}
		f.publishDevice(d, fx, rng)
	})
}

// replaced ends an insertion the RAS engine took as a hot-replace: the
// module serves its redundant set at once (the engine rebuilds its
// contents), so the OS is not notified and the transaction ends here.
func (f *Firmware) replaced(d *device, fx *effects) {
	f.finish(d)
	d.STA, d.CRS, d.Ejectable = STAOK, nil, false
	if ext, ok := f.amap.Extension(d.Slot); ok {
		d.CRS = []Range{ext} // the set's extension is still decoded through it
	}
	f.ost(fx, d, OSTSourceInsert, OSTSuccess, "firmware")
	slot := d.Slot
	f.hwCall(fx, func() error { return f.hw.HotAddDone(slot) })
}

// pattern runs the pattern test over rng, with the stuck-at fault if armed.
func (f *Firmware) pattern(d *device, rng Range) PatternResult {
	var stuck *StuckAt
	if f.faults.Armed(d.Slot, smc.FaultStuckAt) {
		s := newStuckAt(rng.Length, f.faults.Rand(d.Slot, "stuck-at"))
		stuck = &s
	}
	res := patternTest(rng, f.faults.Rand(d.Slot, "pattern"), stuck)
	d.Pattern = &res
	return res
}

func (f *Firmware) emitPattern(fx *effects, d *device, res PatternResult) {
	f.emit(fx, events.PatternTestCompleted{Slot: d.Slot, Samples: res.Samples, Patterns: res.Patterns, Passed: res.Passed,
		Address: res.Address, Bit: res.Bit, StuckAt: res.StuckAt})
}

// publishDevice makes the new memory visible to the OS and waits for _OST.
func (f *Firmware) publishDevice(d *device, fx *effects, rng Range) {
	if d.Pattern != nil {
		f.emitPattern(fx, d, *d.Pattern)
	}
	d.STA, d.CRS, d.Ejectable = STAOK, []Range{rng}, true
	f.setStage(d, "wait-ospm-insert")
	f.notify(fx, d, NotifyDeviceCheck)
	f.cancelSteps(d) // the firmware part is done: drop the watchdog
	f.after(d, f.timing.OSPM, func(d *device, fx *effects) {
		f.emit(fx, events.FirmwareTimeout{Slot: d.Slot, Stage: "ospm-insert"})
		f.failInsert(d, fx, OSTFailure, "OSPM did not acknowledge the insertion")
	})
}

// failInsert ends an insertion that did not fail because of the module:
// the range is unmapped, the device shows present-only, the SMC powers the
// slot down.
func (f *Firmware) failInsert(d *device, fx *effects, status uint32, reason string) {
	f.finish(d)
	if rng, ok := f.amap.Range(d.Slot); ok {
		if _, err := f.amap.Remove(d.Slot); err == nil {
			f.emit(fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: d.Slot, Op: "remove", Base: rng.Base, Length: rng.Length, Generation: f.amap.TAD().Generation})
		}
	}
	wasVisible := d.STA&STAEnabled != 0
	d.STA, d.CRS, d.Ejectable, d.FaultReason = STAPresent, nil, false, reason
	if status != 0 {
		f.ost(fx, d, OSTSourceInsert, status, "firmware")
	}
	if wasVisible {
		f.notify(fx, d, NotifyDeviceCheck)
	}
	slot := d.Slot
	f.hwCall(fx, func() error { return f.hw.HotAddFailed(slot, reason) })
}

// fwFault is the seed's item 17: FW_FAULT, _OST failure, the module parked
// in the defective pool, an alert, and the slot powered down.
func (f *Firmware) fwFault(d *device, fx *effects, kind smc.FaultKind, reason string) {
	f.finish(d)
	if kind == smc.FaultStuckAt && d.Pattern != nil {
		f.emitPattern(fx, d, *d.Pattern)
	}
	d.FWFault, d.Parked, d.FaultReason = true, true, reason
	d.STA, d.CRS, d.Ejectable = STAPresent, nil, false
	f.ost(fx, d, OSTSourceInsert, OSTInsertDriverLoad, "firmware")
	f.defective = append(f.defective, ParkedModule{Slot: d.Slot, Serial: d.module.SerialNumber, Part: d.module.PartNumber,
		Fault: kind.String(), Reason: reason, At: f.clock.Now()})
	f.emit(fx, events.FirmwareFault{Slot: d.Slot, Fault: kind.String(), Reason: reason})
	f.emit(fx, events.ModuleParked{Slot: d.Slot, Serial: d.module.SerialNumber, Reason: reason})
	f.notify(fx, d, NotifyDeviceCheck)
	slot := d.Slot
	f.hwCall(fx, func() error { return f.hw.HotAddFailed(slot, "FW_FAULT: "+reason) })
}

func (f *Firmware) ejectRequest(d *device, fx *effects) {
	slot := d.Slot
	if r := f.cfg.Redundancy; r != nil && !d.Ejectable && d.stage == "" && d.STA&STAPresent != 0 {
		ok, evs, reason := r.Release(d.slot, false)
		for _, e := range evs {
			f.emit(fx, e)
		}
		if ok {
			// The redundant set carries on without the module: the slot
			// powers down with no OS involvement (hot-replace).
			d.STA, d.CRS = STAPresent, nil
			f.ost(fx, d, OSTSourceEject, OSTSuccess, "firmware")
			f.hwCall(fx, func() error { return f.hw.PowerOff(slot) })
			return
		}
		if reason != "" {
			f.ost(fx, d, OSTSourceEject, OSTEjectNotSupported, "firmware")
			f.emit(fx, events.EjectFailed{Slot: slot, Reason: reason})
			f.hwCall(fx, func() error { return f.hw.EjectRefused(slot, reason) })
			return
		}
	}
	if !d.Ejectable || d.stage != "" {
		why := "boot memory is striped across the socket's interleave set and has no _EJ0"
		if d.stage != "" {
			why = "device busy: " + d.stage
		} else if d.STA&STAPresent == 0 {
			why = "device not present"
		}
		status := OSTEjectNotSupported
		if d.stage != "" {
			status = OSTEjectBusy
		}
		f.ost(fx, d, OSTSourceEject, status, "firmware")
		f.emit(fx, events.EjectFailed{Slot: slot, Reason: why})
		f.hwCall(fx, func() error { return f.hw.EjectRefused(slot, why) })
		return
	}
	d.ejecting = true
	f.setStage(d, "wait-ospm-eject")
	f.notify(fx, d, NotifyEjectRequest)
	f.after(d, f.timing.OSPM, func(d *device, fx *effects) {
		f.finish(d)
		d.ejecting = false
		f.emit(fx, events.FirmwareTimeout{Slot: d.Slot, Stage: "ospm-eject"})
		f.emit(fx, events.EjectFailed{Slot: d.Slot, Reason: "OSPM did not answer the eject request"})
		f.hwCall(fx, func() error { return f.hw.EjectRefused(slot, "OSPM timeout") })
	})
}

func (f *Firmware) surprise(d *device, fx *effects) {
	f.finish(d)
	if rng, ok := f.amap.Range(d.Slot); ok {
		if _, err := f.amap.Remove(d.Slot); err == nil {
			f.emit(fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: d.Slot, Op: "remove", Base: rng.Base, Length: rng.Length, Generation: f.amap.TAD().Generation})
		}
	} else if ok, evs := f.releaseSurprise(d); ok {
		for _, e := range evs {
			f.emit(fx, e)
		}
	} else if f.amap.Node(d.Slot) >= 0 {
		for _, e := range evs {
			f.emit(fx, e)
		}
		f.lose(d, fx)
	}
	d.STA, d.CRS, d.Ejectable, d.ejecting = 0, nil, false, false
	f.notify(fx, d, NotifyDeviceCheck)
}

// lose maps the ways of a surprise-removed boot module that no redundant
// set carries out of the decode (AddressMap.Lose): the memory is gone and
// an access there reaches no module, while the slot can take a new module
// as a hot-add. AddressMapUpdated (Op "map-out") gives the module's lowest
// system address and the bytes its ways cover.
func (f *Firmware) lose(d *device, fx *effects) {
	reason := "boot module surprise-removed: its interleave set has lost a member"
	first, n, err := f.amap.Lose(d.Slot)
	if err != nil {
		reason += "; its ways stay decoded: " + err.Error()
	} else {
		f.emit(fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: d.Slot, Op: "map-out", Base: first, Length: n, Generation: f.amap.TAD().Generation})
		reason += "; its ways decode to no module until reboot"
	}
	f.emit(fx, events.FirmwareFault{Slot: d.Slot, Fault: "surprise-removal", Reason: reason})
}

// Extend hands the OS extra bytes boot module slot gained after boot (a
// RAID5 array grown by upgrading every cartridge): a range of the socket's
// reservation decodes the module from its boot size on, and the slot's
// PNP0C80 device announces it like a hot-add (Device Check, _CRS, _OST).
// The device stays without _EJ0: the range belongs to the redundant set,
// not to one module the OS could eject.
func (f *Firmware) Extend(slot string, extra uint64) error {
	f.mu.Lock()
	var fx effects
	err := f.extend(slot, extra, &fx)
	f.mu.Unlock()
	f.run(fx)
	return err
}

func (f *Firmware) extend(slot string, extra uint64, fx *effects) error {
	d, ok := f.devs[slot]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoDevice, slot)
	}
	if d.stage != "" {
		return fmt.Errorf("firmware: extend %s: device busy: %s", slot, d.stage)
	}
	rng, err := f.amap.Extend(slot, extra)
	if err != nil {
		f.emit(fx, events.AddressMapRejected{Slot: slot, Reason: err.Error()})
		return err
	}
	f.emit(fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: slot, Op: "extend", Base: rng.Base, Length: rng.Length, Generation: f.amap.TAD().Generation})
	d.CRS, d.Ejectable, d.extending = []Range{rng}, false, true
	f.setStage(d, "wait-ospm-insert")
	f.notify(fx, d, NotifyDeviceCheck)
	f.after(d, f.timing.OSPM, func(d *device, fx *effects) {
		f.emit(fx, events.FirmwareTimeout{Slot: d.Slot, Stage: "ospm-insert"})
		f.unextend(d, fx, "OSPM did not acknowledge the new memory")
	})
	return nil
}

// unextend takes back an extension the OS did not accept.
func (f *Firmware) unextend(d *device, fx *effects, reason string) {
	f.finish(d)
	d.extending = false
	d.CRS = nil
	if rng, err := f.amap.Unextend(d.Slot); err == nil {
		f.emit(fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: d.Slot, Op: "remove", Base: rng.Base, Length: rng.Length, Generation: f.amap.TAD().Generation})
	}
	f.emit(fx, events.AddressMapRejected{Slot: d.Slot, Reason: "extension not taken: " + reason})
}

// releaseSurprise tells the RAS engine a module left without warning.
func (f *Firmware) releaseSurprise(d *device) (bool, []events.Event) {
	if f.cfg.Redundancy == nil || d.module.CapacityMiB == 0 {
		return false, nil
	}
	ok, evs, _ := f.cfg.Redundancy.Release(d.slot, true)
	return ok, evs
}

// Devices returns every memory device in slot order.
func (f *Firmware) Devices() []Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Device, 0, len(f.topo))
	for _, s := range f.topo {
		out = append(out, f.devs[s.Name].snapshot())
	}
	return out
}

func (f *Firmware) byUID(uid int) (*device, error) {
	if uid < 0 || uid >= len(f.topo) {
		return nil, fmt.Errorf("%w: UID %d", ErrNoDevice, uid)
	}
	return f.devs[f.topo[uid].Name], nil
}

// Device returns the memory device with the given _UID (slot ordinal).
func (f *Firmware) Device(uid int) (Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.byUID(uid)
	if err != nil {
		return Device{}, err
	}
	return d.snapshot(), nil
}

// DeviceForSlot returns the memory device of a slot.
func (f *Firmware) DeviceForSlot(slot string) (Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devs[slot]
	if !ok {
		return Device{}, fmt.Errorf("%w: slot %q", ErrNoDevice, slot)
	}
	return d.snapshot(), nil
}

// OST is the OSPM evaluating _OST(source, status) on device uid. For an
// insertion (source 0x200, or Device/Bus Check) success ends the hot-add;
// a failure status unmaps the range and powers the slot down. For an
// ejection (source 0x103 or Eject Request) a failure status other than
// "in progress" cancels the eject request and the module stays in service.
func (f *Firmware) OST(uid int, source, status uint32) error {
	f.mu.Lock()
	d, err := f.byUID(uid)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	var fx effects
	f.ost(&fx, d, source, status, "ospm")
	slot := d.Slot
	switch {
	case isEjectSource(source):
		if d.ejecting && status != OSTSuccess && status != OSTEjectInProgress {
			f.finish(d)
			d.ejecting = false
			reason := "OSPM: " + OSTMeaning(source, status)
			f.emit(&fx, events.EjectFailed{Slot: slot, Reason: reason})
			f.hwCall(&fx, func() error { return f.hw.EjectRefused(slot, reason) })
		}
	case d.stage == "wait-ospm-insert" && status == OSTSuccess && d.extending:
		f.finish(d)
		d.extending = false
		rng := d.CRS[0]
		f.emit(&fx, events.MemoryHotAdded{Slot: slot, Node: d.slot.Socket, Base: rng.Base, Length: rng.Length})
	case d.stage == "wait-ospm-insert" && d.extending && status != OSTInsertInProgress:
		f.unextend(d, &fx, "OSPM: "+OSTMeaning(source, status))
	case d.stage == "wait-ospm-insert" && status == OSTSuccess:
		f.finish(d)
		rng := d.CRS[0]
		// The SMC closes its operation first, so that whoever reads the
		// server's state on seeing MemoryHotAdded finds the slot in service.
		f.hwCall(&fx, func() error { return f.hw.HotAddDone(slot) })
		f.emit(&fx, events.MemoryHotAdded{Slot: slot, Node: d.slot.Socket, Base: rng.Base, Length: rng.Length})
	case d.stage == "wait-ospm-insert" && status != OSTInsertInProgress:
		f.failInsert(d, &fx, 0, "OSPM: "+OSTMeaning(source, status))
	}
	f.mu.Unlock()
	f.run(fx)
	return nil
}

// EJ0 is the OSPM running _EJ0 on device uid after offlining its memory:
// the range leaves the TAD and SRAT, _STA reads 0, and the SMC powers the
// slot down.
func (f *Firmware) EJ0(uid int) error {
	f.mu.Lock()
	d, err := f.byUID(uid)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	if !d.Ejectable {
		f.mu.Unlock()
		return fmt.Errorf("%w: %s (%s)", ErrNotEjectable, d.Path, d.Slot)
	}
	var fx effects
	f.finish(d)
	rng, err := f.amap.Remove(d.Slot)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	f.emit(&fx, events.AddressMapUpdated{Socket: d.slot.Socket, Slot: d.Slot, Op: "remove", Base: rng.Base, Length: rng.Length, Generation: f.amap.TAD().Generation})
	d.STA, d.CRS, d.Ejectable, d.ejecting = 0, nil, false, false
	f.emit(&fx, events.MemoryEjected{Slot: d.Slot, Node: d.slot.Socket, Base: rng.Base, Length: rng.Length})
	slot := d.Slot
	f.hwCall(&fx, func() error { return f.hw.PowerOff(slot) })
	f.mu.Unlock()
	f.run(fx)
	return nil
}

// RST is the OSPM asking the firmware to pattern test device uid's range
// before using it (the seed's _RST). A failure clears the device's
// Functional bit.
func (f *Firmware) RST(uid int) (PatternResult, error) {
	f.mu.Lock()
	d, err := f.byUID(uid)
	if err != nil {
		f.mu.Unlock()
		return PatternResult{}, err
	}
	rng, ok := d.Range()
	if !ok {
		f.mu.Unlock()
		return PatternResult{}, fmt.Errorf("%w: %s has no memory resource", ErrNotPresent, d.Path)
	}
	var fx effects
	res := f.pattern(d, rng)
	f.emitPattern(&fx, d, res)
	if !res.Passed {
		d.STA &^= STAFunctional
		d.FaultReason = fmt.Sprintf("_RST: data bit %d stuck at %d at %#x", res.Bit, res.StuckAt, res.Address)
	}
	f.mu.Unlock()
	f.run(fx)
	return res, nil
}

// Defective lists the modules parked in the defective pool.
func (f *Firmware) Defective() []ParkedModule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.defective)
}

// HomeAgents are the sockets' home agents and their snoop filter
// directories; safe without the firmware lock.
func (f *Firmware) HomeAgents() *HomeAgents { return f.amap.HomeAgents() }

// TAD returns the current Target Address Decoder table.
func (f *Firmware) TAD() *TAD {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.amap.TAD()
}

// CheckTAD checks the current decoder table against the layout and the
// installed modules (rules disjoint, clear of MMIO, in their socket's
// windows, every module byte decoded once) and round-trips sample
// addresses of every rule through Decode and Encode.
func (f *Firmware) CheckTAD() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.amap.check()
}

// Layout returns the boot address layout.
func (f *Firmware) Layout() *Layout { return f.amap.Layout() }

// EFIMemoryMap returns the boot-time UEFI memory map.
func (f *Firmware) EFIMemoryMap() []EFIDescriptor {
	return markReliable(efiMap(f.amap.Layout()), f.reliable)
}

// MemmapParams returns the kernel `memmap=` parameters that keep the
// hot-plug reservations out of the boot memory map.
func (f *Firmware) MemmapParams() []string { return memmapParams(f.amap.Layout()) }

// HotplugRoom reports whether a module of capacity bytes seated in slot
// would find room in its socket's hot-plug reservation, and if not why
// (wrapping ErrNoAddressSpace). The SMC asks it before it powers a slot,
// so a module the reservation cannot map is refused before it is powered,
// as a configuration error, rather than after training. It reads a copy
// of the reservation refreshed with every decoder swap, never the
// firmware's lock: the SMC calls it with its own lock held. A slot whose
// boot module is still decoded, or decoded nothing (redundant copies
// only), passes: a module seated there is a hot-replace or upgrade of
// boot memory, which needs no new range.
func (f *Firmware) HotplugRoom(slot smc.Slot, capacity uint64) error {
	if f.bootSlots[slot.Name] {
		return nil
	}
	return f.amap.view.Load().fits(slot, capacity)
}

// HotplugWindows returns each slot empty at boot and its window in its
// socket's hot-plug reservation (fixed at boot).
func (f *Firmware) HotplugWindows() map[string]Range {
	out := make(map[string]Range, len(f.amap.home))
	for k, v := range f.amap.home {
		out[k] = v
	}
	return out
}

// FreeReservation returns the unused parts of a socket's reservation.
func (f *Firmware) FreeReservation(socket int) []Range {
	f.mu.Lock()
	defer f.mu.Unlock()
	if socket < 0 || socket >= f.amap.sockets {
		return nil
	}
	return f.amap.Free(socket)
}

// SRAT builds the current System Resource Affinity Table: per socket, its
// CPUs, its boot memory (Enabled), its hot-added modules and the free parts
// of its reservation (Enabled | Hot Pluggable).
func (f *Firmware) SRAT() *SRAT {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &SRAT{Header: newHeader("SRAT", 3)}
	for sock := 0; sock < f.amap.sockets; sock++ {
		for i := 0; i < f.cfg.CPUsPerSocket; i++ {
			s.CPUs = append(s.CPUs, X2APICAffinity{ProximityDomain: uint32(sock), X2APICID: uint32(sock*64 + i), Flags: 1})
		}
	}
	for sock := 0; sock < f.amap.sockets; sock++ {
		var mem []MemoryAffinity
		for _, r := range f.amap.layout.Boot[sock] {
			mem = append(mem, MemoryAffinity{ProximityDomain: uint32(sock), Base: r.Base, Length: r.Length, Flags: SRATEnabled})
		}
		for _, r := range f.amap.hotplugged(sock) {
			mem = append(mem, MemoryAffinity{ProximityDomain: uint32(sock), Base: r.Base, Length: r.Length, Flags: SRATEnabled | SRATHotPluggable})
		}
		for _, r := range f.amap.Free(sock) {
			mem = append(mem, MemoryAffinity{ProximityDomain: uint32(sock), Base: r.Base, Length: r.Length, Flags: SRATEnabled | SRATHotPluggable})
		}
		sort.Slice(mem, func(i, j int) bool { return mem[i].Base < mem[j].Base })
		s.Memory = append(s.Memory, mem...)
	}
	s.GenericPorts = f.genericPorts()
	return s
}

// HMAT builds the current Heterogeneous Memory Attribute Table: each socket
// is an initiator and a memory proximity domain; latency in picoseconds and
// bandwidth in MB/s (base unit 100), local versus remote.
func (f *Firmware) HMAT() *HMAT {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.amap.sockets
	t := &HMAT{Header: newHeader("HMAT", 2)}
	var pds []uint32
	for s := 0; s < n; s++ {
		pds = append(pds, uint32(s))
		t.Proximity = append(t.Proximity, ProximityAttributes{Flags: 1, InitiatorPD: uint32(s), MemoryPD: uint32(s)})
	}
	chanMBs := uint64(f.cfg.Memory.SpeedMTs) * 8
	local := make([]uint64, n)
	for s := 0; s < n; s++ {
		chans := map[int]bool{}
		for _, mod := range f.amap.modules {
			if mod.slot.Socket == s {
				chans[mod.slot.Channel] = true
			}
		}
		local[s] = uint64(len(chans)) * chanMBs
	}
	// Targets are the sockets' memory and then each CXL host bridge's
	// generic port: the CXL driver reads the CPU-to-port figures and adds
	// the link's and the device's (cxl_endpoint_get_perf_coordinates).
	targets := slices.Clone(pds)
	for _, gp := range f.genericPorts() {
		targets = append(targets, gp.ProximityDomain)
	}
	lat := Locality{DataType: HMATAccessLatency, BaseUnit: 100, Initiators: pds, Targets: targets}
	bw := Locality{DataType: HMATAccessBandwidth, BaseUnit: 100, Initiators: pds, Targets: targets}
	remoteExtra := f.cfg.RemoteLatency - f.cfg.LocalLatency
	for i := 0; i < n; i++ {
		for j := range targets {
			var l time.Duration
			var b uint64
			switch {
			case j >= n:
				l, b = hostBridgeLatency, hostBridgeMBs
				if f.cfg.CXL[j-n].Socket != i {
					l, b = l+remoteExtra, min(b, f.cfg.InterconnectMBs)
				}
			case i == j:
				l, b = f.cfg.LocalLatency, local[j]
			default:
				l, b = f.cfg.RemoteLatency, min(local[j], f.cfg.InterconnectMBs)
			}
			lat.Entries = append(lat.Entries, uint16(min(uint64(l.Nanoseconds()*1000)/100, 0xFFFF)))
			bw.Entries = append(bw.Entries, uint16(min(b/100, 0xFFFF)))
		}
	}
	t.Locality = []Locality{lat, bw}
	return t
}

// SRATText is the SRAT as `ctl acpi srat` prints it (iasl -d style).
func (f *Firmware) SRATText() string {
	s, err := DisassembleSRAT(f.SRAT().Encode())
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// HMATText is the HMAT as `ctl acpi hmat` prints it (iasl -d style).
func (f *Firmware) HMATText() string {
	s, err := DisassembleHMAT(f.HMAT().Encode())
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

var _ smc.Notifier = (*Firmware)(nil)
var _ smc.AddressSpace = (*Firmware)(nil)
var _ Hardware = (*smc.Controller)(nil)
